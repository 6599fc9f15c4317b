// Fault soak (benchmarks/fault-soak): node soak-dump-jetstream.mjs SERVER STREAM prints every body in STREAM, one a line; NATS_USER/NATS_PASS log in
import { connect, StringCodec } from "nats";
const [server, stream] = process.argv.slice(2);
const sc = StringCodec();
const nc = await connect({ servers: server, user: process.env.NATS_USER, pass: process.env.NATS_PASS });
const jsm = await nc.jetstreamManager();
const info = await jsm.streams.info(stream);
const total = info.state.messages;
const c = await nc.jetstream().consumers.get(stream);
let n = 0, out = [];
if (total > 0) {
  const it = await c.consume();
  for await (const m of it) { out.push(sc.decode(m.data)); n++; if (m.info.pending === 0) break; }
}
process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
console.error(`stream ${stream}: ${total} messages, read ${n}`);
await nc.close();
