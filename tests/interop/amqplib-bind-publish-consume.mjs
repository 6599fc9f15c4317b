// Interop driver for Federation.Amqp.IntegrationTests: the npm "amqplib" client declares a topic exchange and binds a
// queue on the DOWNSTREAM node, waits until federation has propagated the binding to the UPSTREAM node (its management
// API lists a binding to a "federation: ..." exchange), publishes there with confirms, and prints what it consumed
// downstream as JSON. Usage: node amqplib-bind-publish-consume.mjs DOWN_PORT UP_PORT UP_MANAGEMENT_PORT EXCHANGE
import amqp from "amqplib";

const [downPort, upPort, upManagementPort, exchange] = process.argv.slice(2);
const down = await amqp.connect(`amqp://guest:guest@127.0.0.1:${downPort}`);
const up = await amqp.connect(`amqp://guest:guest@127.0.0.1:${upPort}`);
const consumer = await down.createChannel();
await consumer.assertExchange(exchange, "topic", { durable: true });
const { queue } = await consumer.assertQueue("", { exclusive: true });
await consumer.bindQueue(queue, exchange, "order.*");

const auth = "Basic " + Buffer.from("guest:guest").toString("base64");
const url = `http://127.0.0.1:${upManagementPort}/api/exchanges/%2F/${encodeURIComponent(exchange)}/bindings/source`;
const deadline = Date.now() + 30000;
for (;;) {
  const response = await fetch(url, { headers: { authorization: auth } });
  const bindings = response.ok ? await response.json() : [];
  if (bindings.some((b) => b.destination.startsWith("federation: ") && b.routing_key === "order.*")) break;
  if (Date.now() > deadline) throw new Error("the binding never reached the upstream");
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const publisher = await up.createConfirmChannel();
publisher.publish(exchange, "order.created", Buffer.from("hello from amqplib"), { messageId: "m1" });
await publisher.waitForConfirms();

const timer = setTimeout(() => { console.error("no message within 10 s"); process.exit(2); }, 10000);
await new Promise((resolve) => consumer.consume(queue, (message) => {
  const trail = (message.properties.headers?.["x-received-from"] ?? []).map((t) => ({ ...t }));
  console.log(JSON.stringify({ routingKey: message.fields.routingKey, body: message.content.toString(), trail }));
  resolve();
}, { noAck: true }));
clearTimeout(timer);
await down.close();
await up.close();
