// Cross-protocol soak publisher, core NATS (benchmarks/fault-soak, setups nats-amqp): node cross-publish-nats.mjs SERVER SUBJECT RATE OUT; NATS_USER/NATS_PASS log in
// Publishes body = sequence number (MSGID=1 also sets the header amqp-message-id: m<seq>) with plain core NATS publishes,
// in batches of 20, each batch followed by a flush (PING/PONG): a flushed batch is "c SEQ" lines in OUT, one whose flush
// failed or took over 5 s "u SEQ" (core NATS gives no stronger proof that the server has it). Never republishes.
// The client reconnects forever. SIGTERM: finish the batch, exit.
import { connect, StringCodec, headers } from "nats";
import fs from "node:fs";
const [server, subject, rateText, out] = process.argv.slice(2);
const rate = Number(rateText), batch = 20, sc = StringCodec();
let seq = 0, stopping = false, confirmed = 0, uncertain = 0;
process.on("SIGTERM", () => { stopping = true; });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fd = fs.openSync(out, "a");
setInterval(() => console.log(`${new Date().toISOString()} next=${seq} confirmed=${confirmed} uncertain=${uncertain}`), 10000).unref();
const nc = await connect({ servers: server, user: process.env.NATS_USER, pass: process.env.NATS_PASS, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true });
let pacedFrom = Date.now(), pacedCount = 0;
while (!stopping) {
  const first = seq;
  for (let k = 0; k < batch; k++, seq++) {
    let h;
    if (process.env.MSGID) { h = headers(); h.set("amqp-message-id", `m${seq}`); }
    try { nc.publish(subject, sc.encode(String(seq)), h ? { headers: h } : undefined); } catch {}
  }
  let ok = true;
  try { await Promise.race([nc.flush(), sleep(5000).then(() => { throw new Error("flush timeout"); })]); } catch (e) { ok = false; console.log(`${new Date().toISOString()} publisher: ${e.message}`); }
  fs.writeSync(fd, Array.from({ length: batch }, (_, k) => `${ok ? "c" : "u"} ${first + k}\n`).join(""));
  if (ok) confirmed += batch; else { uncertain += batch; await sleep(500); pacedFrom = Date.now(); pacedCount = 0; continue; }
  pacedCount += batch;
  const due = pacedFrom + (pacedCount * 1000) / rate;
  if (due > Date.now()) await sleep(due - Date.now());
  else if (Date.now() - due > 2000) { pacedFrom = Date.now(); pacedCount = 0; }
}
console.log(`done next=${seq} confirmed=${confirmed} uncertain=${uncertain}`);
await nc.close().catch(() => {});
process.exit(0);
