// Third-party client for examples/MultiHost/run-three-hosts.sh: the npm "amqplib" client on both ends of federation links
// that several FederationHost processes share. Every message carries a message-id; the check counts them by id.
//   node amqplib-exactly-once.mjs setup   DOWN_URL EXCHANGE...
//     declares each exchange (topic, durable) downstream with a durable queue "<exchange>.received" bound to "#"
//   node amqplib-exactly-once.mjs publish UP_URL COUNT RATE EXCHANGE...
//     publishes COUNT persistent messages (ids m000000, m000001, ...) round-robin over the exchanges upstream, about RATE
//     per second, each confirmed; prints "published N" every 500 and at the end
//   node amqplib-exactly-once.mjs verify  DOWN_URL COUNT TIMEOUT_S EXCHANGE...
//     consumes the queues until COUNT distinct ids arrived and nothing more came for 2 s, then prints one JSON line
//     {received, distinct, duplicated, lost} and exits 0 only if every id m000000..COUNT-1 arrived exactly once
import amqp from "amqplib";

const [command, url, ...rest] = process.argv.slice(2);
const id = (i) => "m" + String(i).padStart(6, "0");
const queueOf = (exchange) => `${exchange}.received`;

if (command === "setup") {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  for (const exchange of rest) {
    await channel.assertExchange(exchange, "topic", { durable: true });
    await channel.assertQueue(queueOf(exchange), { durable: true });
    await channel.bindQueue(queueOf(exchange), exchange, "#");
  }
  await connection.close();
} else if (command === "publish") {
  const [count, rate, ...exchanges] = [Number(rest[0]), Number(rest[1]), ...rest.slice(2)];
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  // The links declared these as mirrors of the downstream exchanges; the same declaration is a no-op.
  for (const exchange of exchanges) await channel.assertExchange(exchange, "topic", { durable: true });
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    channel.publish(exchanges[i % exchanges.length], "order.created", Buffer.from(id(i)), { messageId: id(i), persistent: true });
    if ((i + 1) % 50 === 0 || i === count - 1) {
      await channel.waitForConfirms();
      // Pacing, so that the messages are still flowing when a host is killed.
      const due = started + ((i + 1) * 1000) / rate;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    }
    if ((i + 1) % 500 === 0 || i === count - 1) console.log(`published ${i + 1}`);
  }
  await connection.close();
} else if (command === "verify") {
  const [count, timeoutSeconds, ...exchanges] = [Number(rest[0]), Number(rest[1]), ...rest.slice(2)];
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  const copies = new Map();
  let lastArrival = Date.now();
  for (const exchange of exchanges) {
    await channel.consume(queueOf(exchange), (message) => {
      const messageId = message.properties.messageId ?? "(none)";
      copies.set(messageId, (copies.get(messageId) ?? 0) + 1);
      lastArrival = Date.now();
    }, { noAck: true });
  }
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline && !(copies.size >= count && Date.now() - lastArrival >= 2000)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await connection.close();
  let received = 0;
  let duplicated = 0;
  for (const n of copies.values()) {
    received += n;
    if (n > 1) duplicated++;
  }
  let lost = 0;
  for (let i = 0; i < count; i++) if (!copies.has(id(i))) lost++;
  const unexpected = [...copies.keys()].filter((k) => !/^m\d{6}$/.test(k) || Number(k.slice(1)) >= count).length;
  console.log(JSON.stringify({ published: count, received, distinct: copies.size, duplicated, lost, unexpected }));
  process.exit(duplicated === 0 && lost === 0 && unexpected === 0 ? 0 : 1);
} else {
  console.error(`usage: node amqplib-exactly-once.mjs setup|publish|verify URL ...`);
  process.exit(2);
}
