// Fault-soak publisher (benchmarks/fault-soak): node soak-publish-amqp.mjs URL EXCHANGE RATE OUT; MSGID=1 sets message-id m<seq>
// EXCHANGE may be a comma-separated list: message SEQ goes to the (SEQ mod count)th exchange.
// Publishes persistent messages (body = sequence number; no message-id unless MSGID is set) on a confirm channel in batches of 20;
// a confirmed batch is appended to OUT as "c SEQ" lines, an unconfirmed one (connection lost) as "u SEQ".
// Never republishes. Reconnects forever. SIGTERM: finish the batch in flight, then exit.
import amqp from "amqplib";
import fs from "node:fs";
const [url, exchangeList, rateText, out] = process.argv.slice(2);
const exchanges = exchangeList.split(",");
const rate = Number(rateText), batch = 20;
let seq = 0, stopping = false, confirmed = 0, uncertain = 0;
process.on("SIGTERM", () => { stopping = true; });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fd = fs.openSync(out, "a");
const started = Date.now();
setInterval(() => console.log(`${new Date().toISOString()} next=${seq} confirmed=${confirmed} uncertain=${uncertain}`), 10000).unref();
while (!stopping) {
  let connection;
  try {
    connection = await amqp.connect(url, { timeout: 5000 });
    connection.on("error", () => {});
    const channel = await connection.createConfirmChannel();
    channel.on("error", () => {});
    for (const exchange of exchanges) await channel.assertExchange(exchange, "topic", { durable: true });
    let pacedFrom = Date.now(), pacedCount = 0;
    while (!stopping) {
      const first = seq;
      for (let i = 0; i < batch; i++, seq++) {
        channel.publish(exchanges[seq % exchanges.length], "orders.created", Buffer.from(String(seq)), { persistent: true, contentType: "text/plain", ...(process.env.MSGID ? { messageId: `m${seq}` } : {}) });
      }
      try {
        await Promise.race([channel.waitForConfirms(), sleep(60000).then(() => { throw new Error("confirm timeout"); })]);
        fs.writeSync(fd, Array.from({ length: batch }, (_, k) => `c ${first + k}\n`).join(""));
        confirmed += batch;
      } catch (e) {
        fs.writeSync(fd, Array.from({ length: batch }, (_, k) => `u ${first + k}\n`).join(""));
        uncertain += batch;
        throw e;
      }
      pacedCount += batch;
      const due = pacedFrom + (pacedCount * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      else if (Date.now() - due > 2000) { pacedFrom = Date.now(); pacedCount = 0; } // no catch-up bursts after a stall
    }
    await connection.close().catch(() => {});
  } catch (e) {
    console.log(`${new Date().toISOString()} publisher: ${e.message}; reconnecting`);
    try { await connection?.close(); } catch {}
    await sleep(500);
  }
}
console.log(`done next=${seq} confirmed=${confirmed} uncertain=${uncertain}`);
process.exit(0);
