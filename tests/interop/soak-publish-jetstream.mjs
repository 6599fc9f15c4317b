// Fault-soak JetStream publisher (benchmarks/fault-soak): node soak-publish-jetstream.mjs SERVER SUBJECT RATE OUT [STREAM]; NATS_USER/NATS_PASS log in
// SUBJECT and STREAM may be comma-separated lists: message SEQ goes to the (SEQ mod count)th subject.
// Waits until STREAM exists (the link creates it), then publishes body = sequence number (no Nats-Msg-Id) with
// js.publish, 20 in parallel per batch; a PubAck'd message is "c SEQ" in OUT, a failed or timed-out one "u SEQ".
// Never republishes. The client reconnects forever. SIGTERM: finish the batch, exit.
import { connect, StringCodec } from "nats";
import fs from "node:fs";
const [server, subjectList, rateText, out, streamList] = process.argv.slice(2);
const subjects = subjectList.split(",");
const rate = Number(rateText), batch = 20, sc = StringCodec();
let seq = 0, stopping = false, confirmed = 0, uncertain = 0;
process.on("SIGTERM", () => { stopping = true; });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fd = fs.openSync(out, "a");
setInterval(() => console.log(`${new Date().toISOString()} next=${seq} confirmed=${confirmed} uncertain=${uncertain}`), 10000).unref();
const nc = await connect({ servers: server, user: process.env.NATS_USER, pass: process.env.NATS_PASS, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true });
const js = nc.jetstream({ timeout: 5000 });
if (streamList) {
  const jsm = await nc.jetstreamManager();
  for (const stream of streamList.split(",")) for (;;) { try { await jsm.streams.info(stream); break; } catch { await sleep(500); } }
}
let pacedFrom = Date.now(), pacedCount = 0;
while (!stopping) {
  const first = seq;
  const results = await Promise.allSettled(Array.from({ length: batch }, (_, k) => js.publish(subjects[(first + k) % subjects.length], sc.encode(String(first + k)))));
  seq += batch;
  let lines = "", failed = null;
  results.forEach((r, k) => {
    if (r.status === "fulfilled") { lines += `c ${first + k}\n`; confirmed++; }
    else { lines += `u ${first + k}\n`; uncertain++; failed = r.reason; }
  });
  fs.writeSync(fd, lines);
  if (failed) { console.log(`${new Date().toISOString()} publisher: ${failed.message}`); await sleep(500); pacedFrom = Date.now(); pacedCount = 0; continue; }
  pacedCount += batch;
  const due = pacedFrom + (pacedCount * 1000) / rate;
  if (due > Date.now()) await sleep(due - Date.now());
  else if (Date.now() - due > 2000) { pacedFrom = Date.now(); pacedCount = 0; }
}
console.log(`done next=${seq} confirmed=${confirmed} uncertain=${uncertain}`);
await nc.close().catch(() => {});
process.exit(0);
