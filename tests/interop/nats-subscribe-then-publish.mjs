// Interop driver for Federation.Nats.Tests: the npm "nats" client subscribes on the downstream server, waits until the
// federation link has subscribed upstream (the upstream's /subsz lists the interest), publishes on the upstream server,
// and prints what it received as JSON. Usage: node nats-subscribe-then-publish.mjs DOWN_PORT UP_PORT UP_MONITOR_PORT
import { connect, StringCodec } from "nats";

const [downPort, upPort, upMonitorPort] = process.argv.slice(2);
const sc = StringCodec();
const subscriber = await connect({ servers: `127.0.0.1:${downPort}`, name: "npm-subscriber" });
const publisher = await connect({ servers: `127.0.0.1:${upPort}`, name: "npm-publisher" });
const subscription = subscriber.subscribe("orders.eu.*", { max: 1 });
await subscriber.flush();

const deadline = Date.now() + 30000;
for (;;) {
  const subsz = await fetch(`http://127.0.0.1:${upMonitorPort}/subsz?subs=1`).then((r) => r.json());
  if ((subsz.subscriptions_list ?? []).some((s) => s.subject.startsWith("orders.eu"))) break;
  if (Date.now() > deadline) throw new Error("the federation link never subscribed upstream");
  await new Promise((resolve) => setTimeout(resolve, 100));
}

publisher.publish("orders.eu.created", sc.encode("hello from npm nats"));
await publisher.flush();
const timer = setTimeout(() => { console.error("no message within 10 s"); process.exit(2); }, 10000);
for await (const m of subscription) {
  console.log(JSON.stringify({ subject: m.subject, body: sc.decode(m.data), trail: m.headers?.values("x-received-from") ?? [] }));
}
clearTimeout(timer);
await subscriber.close();
await publisher.close();
