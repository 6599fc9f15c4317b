// Cross-protocol soak consumer, core NATS (benchmarks/fault-soak, setup amqp-nats): node cross-consume-nats.mjs SERVER SUBJECT OUT; NATS_USER/NATS_PASS log in
// Subscribes SUBJECT (e.g. orders.>) on the downstream server (the interest the link federates) and appends
// "SEQ 0" per message to OUT (core NATS has no redelivered flag). The client reconnects forever. SIGTERM: exit.
import { connect, StringCodec } from "nats";
import fs from "node:fs";
const [server, subject, out] = process.argv.slice(2);
const sc = StringCodec(), fd = fs.openSync(out, "a");
let received = 0, pending = "";
process.on("SIGTERM", () => { if (pending) fs.writeSync(fd, pending); console.log(`done received=${received}`); process.exit(0); });
setInterval(() => console.log(`${new Date().toISOString()} received=${received}`), 10000).unref();
const nc = await connect({ servers: server, user: process.env.NATS_USER, pass: process.env.NATS_PASS, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true });
setInterval(() => { if (pending) { fs.writeSync(fd, pending); pending = ""; } }, 50);
for await (const m of nc.subscribe(subject)) { pending += `${sc.decode(m.data)} 0\n`; received++; }
