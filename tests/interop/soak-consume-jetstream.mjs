// Fault-soak JetStream consumer (benchmarks/fault-soak): node soak-consume-jetstream.mjs SERVER STREAM OUT; NATS_USER/NATS_PASS log in
// STREAM may be a comma-separated list (one durable consumer each). Waits for STREAM, reads it with the durable pull consumer "soak" (explicit ack); each message is appended to OUT as
// "SEQ REDELIVERED(0/1) STREAMSEQ" before it is acknowledged. Consumes again after any error. SIGTERM: exit.
import { connect, StringCodec, AckPolicy } from "nats";
import fs from "node:fs";
const [server, streamList, out] = process.argv.slice(2);
const sc = StringCodec(), fd = fs.openSync(out, "a");
let received = 0;
process.on("SIGTERM", () => { console.log(`done received=${received}`); process.exit(0); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
setInterval(() => console.log(`${new Date().toISOString()} received=${received}`), 10000).unref();
const nc = await connect({ servers: server, user: process.env.NATS_USER, pass: process.env.NATS_PASS, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true });
const jsm = await nc.jetstreamManager();
const js = nc.jetstream();
async function consumeForever(stream) {
for (;;) {
  try {
    try { await jsm.consumers.info(stream, "soak"); }
    catch { await jsm.consumers.add(stream, { durable_name: "soak", ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 }); }
    const consumer = await js.consumers.get(stream, "soak");
    const messages = await consumer.consume({ max_messages: 500 });
    for await (const m of messages) {
      fs.writeSync(fd, `${sc.decode(m.data)} ${m.redelivered ? 1 : 0} ${m.seq}\n`);
      received++;
      m.ack();
    }
  } catch (e) {
    console.log(`${new Date().toISOString()} consumer: ${e.message}`);
  }
  await sleep(1000);
}
}
await Promise.all(streamList.split(",").map(consumeForever));
