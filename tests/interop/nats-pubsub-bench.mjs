// Benchmark driver (benchmarks/nats-bench.sh): raw pub/sub throughput of the npm "nats" client against one nats-server.
// One process, two connections (publisher and subscriber), the same load as the .NET side: COUNT messages of SIZE
// bytes published as fast as the client allows on one subject; the first 8 bytes carry the send time, so the
// subscriber measures publish-to-delivery latency (under saturation, so it includes queueing).
// Prints one JSON line: {"client","count","size","seconds","msgsPerSec","p50Ms","p99Ms","received"}.
// Usage: node nats-pubsub-bench.mjs URL COUNT SIZE
import { connect } from "nats";

const [url, countArg, sizeArg] = process.argv.slice(2);
const count = Number(countArg);
const size = Number(sizeArg);
if (!url || !(count > 0) || !(size >= 8)) {
  console.error("usage: node nats-pubsub-bench.mjs URL COUNT SIZE   (SIZE >= 8)");
  process.exit(64);
}

const subject = `bench.npm.${process.pid}`;
const subscriber = await connect({ servers: url, name: "bench-npm-sub" });
const publisher = await connect({ servers: url, name: "bench-npm-pub" });
const latencies = new Float64Array(count);
let received = 0;
let resolveDone;
const done = new Promise((resolve) => { resolveDone = resolve; });
subscriber.subscribe(subject, {
  callback: (_, m) => {
    const sent = m.data.length >= 8 ? new DataView(m.data.buffer, m.data.byteOffset, 8).getFloat64(0, true) : 0;
    if (received < count) latencies[received] = performance.now() - sent;
    if (++received === count) resolveDone();
  },
});
await subscriber.flush();

const payload = new Uint8Array(size);
const view = new DataView(payload.buffer);
const started = performance.now();
for (let i = 0; i < count; i++) {
  view.setFloat64(0, performance.now(), true);
  publisher.publish(subject, payload);
  // Yield to the event loop now and then, so the socket is written and the subscriber is read while publishing
  // (what the .NET side gets from its own threads).
  if ((i & 1023) === 1023) await new Promise((resolve) => setImmediate(resolve));
}
await publisher.flush();
const timeout = setTimeout(() => { console.error(`only ${received} of ${count} messages within 120 s`); process.exit(2); }, 120000);
await done;
clearTimeout(timeout);
const seconds = (performance.now() - started) / 1000;
latencies.sort();
console.log(JSON.stringify({
  client: "npm nats 2.29.3",
  count,
  size,
  seconds,
  msgsPerSec: count / seconds,
  p50Ms: latencies[Math.floor(count / 2)],
  p99Ms: latencies[Math.floor(count * 0.99)],
  received,
}));
await publisher.close();
await subscriber.close();
