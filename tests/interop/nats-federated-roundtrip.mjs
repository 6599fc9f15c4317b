// Interop driver (Federation.Nats.Tests, FederationHost.Tests): the npm "nats" client subscribes to SUBSCRIBE_SUBJECT
// on the downstream server, waits until the federation link has subscribed upstream (the upstream's /subsz lists interest under the
// subject's first token), publishes BODY to PUBLISH_SUBJECT on the upstream server (with UP_USER and UP_PASS unless
// they are empty), and prints what it received as one JSON line: {"subject","body","trail"}.
// Usage: node nats-federated-roundtrip.mjs DOWN_PORT UP_PORT UP_MONITOR_PORT UP_USER UP_PASS SUBSCRIBE_SUBJECT PUBLISH_SUBJECT BODY
import { connect, StringCodec } from "nats";

const [downPort, upPort, upMonitorPort, upUser, upPass, subscribeSubject, publishSubject, body] = process.argv.slice(2);
if (!body) {
  console.error("usage: node nats-federated-roundtrip.mjs DOWN_PORT UP_PORT UP_MONITOR_PORT UP_USER UP_PASS SUBSCRIBE_SUBJECT PUBLISH_SUBJECT BODY");
  process.exit(64);
}

const sc = StringCodec();
const subscriber = await connect({ servers: `127.0.0.1:${downPort}`, name: "npm-subscriber" });
const publisher = await connect({ servers: `127.0.0.1:${upPort}`, name: "npm-publisher", user: upUser || undefined, pass: upPass || undefined });
const subscription = subscriber.subscribe(subscribeSubject, { max: 1 });
await subscriber.flush();

const prefix = subscribeSubject.split(".")[0] + ".";
const deadline = Date.now() + 30000;
for (;;) {
  const subsz = await fetch(`http://127.0.0.1:${upMonitorPort}/subsz?subs=1`).then((r) => r.json());
  if ((subsz.subscriptions_list ?? []).some((s) => s.subject.startsWith(prefix))) break;
  if (Date.now() > deadline) throw new Error("the federation link never subscribed upstream");
  await new Promise((resolve) => setTimeout(resolve, 100));
}

publisher.publish(publishSubject, sc.encode(body));
await publisher.flush();
const timer = setTimeout(() => { console.error("no message within 10 s"); process.exit(2); }, 10000);
for await (const m of subscription) {
  console.log(JSON.stringify({ subject: m.subject, body: sc.decode(m.data), trail: m.headers?.values("x-received-from") ?? [] }));
}
clearTimeout(timer);
await subscriber.close();
await publisher.close();
