// Fault-soak consumer (benchmarks/fault-soak): node soak-consume-amqp.mjs URL EXCHANGE QUEUE OUT
// EXCHANGE may be a comma-separated list (the queue is bound to each). Declares EXCHANGE (topic, durable) and the durable QUEUE bound with '#', consumes with manual acks; every delivery is
// appended to OUT as "SEQ REDELIVERED(0/1)" before it is acknowledged. Reconnects forever. SIGTERM: exit.
import amqp from "amqplib";
import fs from "node:fs";
const [url, exchangeList, queue, out] = process.argv.slice(2);
const exchanges = exchangeList.split(",");
const fd = fs.openSync(out, "a");
let received = 0;
process.on("SIGTERM", () => { console.log(`done received=${received}`); process.exit(0); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
setInterval(() => console.log(`${new Date().toISOString()} received=${received}`), 10000).unref();
for (;;) {
  try {
    const connection = await amqp.connect(url, { timeout: 5000 });
    const closed = new Promise((resolve) => { connection.on("close", resolve); connection.on("error", () => {}); });
    const channel = await connection.createChannel();
    channel.on("error", () => {});
    await channel.assertQueue(queue, { durable: true });
    for (const exchange of exchanges) {
      await channel.assertExchange(exchange, "topic", { durable: true });
      await channel.bindQueue(queue, exchange, "#");
    }
    await channel.prefetch(1000);
    let pending = [], last = null;
    const flush = () => {
      if (!pending.length) return;
      fs.writeSync(fd, pending.join(""));
      received += pending.length; pending = [];
      try { channel.ack(last, true); } catch {}
    };
    const timer = setInterval(flush, 50);
    await channel.consume(queue, (m) => {
      if (!m) return;
      pending.push(`${m.content.toString()} ${m.fields.redelivered ? 1 : 0}\n`); last = m;
      if (pending.length >= 200) flush();
    });
    await closed;
    clearInterval(timer);
    pending = []; // unacknowledged: they come back redelivered
  } catch (e) {
    console.log(`${new Date().toISOString()} consumer: ${e.message}; reconnecting`);
  }
  await sleep(500);
}
