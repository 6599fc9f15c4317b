// Interop driver (FederationHost.Tests/NatsBlackBox, the 500k case): the npm "nats" client publishes COUNT numbered
// messages of SIZE bytes to SUBJECT on one server and counts them on another, with at most WINDOW published and not
// yet received (the windowed mode of benchmarks/nats-bench.sh: the publisher waits for the subscriber's progress, so a
// path that keeps up loses nothing for lack of buffer space, and a lost message shows as a count, not as speed).
//
// Before the load, probe messages are published until one arrives (interest has to travel through the federation link
// first). Each data message carries its sequence number (uint32, little-endian, bytes 0-3) and a kind byte (4: 1 =
// data, 0 = probe). The run ends when every message has arrived, or when nothing has arrived for STALL_MS (a lost
// message keeps the count short for good; more lost than WINDOW stalls the publisher, which then stops too).
//
// Prints one JSON line: {"published","received","unique","lost","duplicates","outOfOrder","firstLost":[..],
// "lastLost":[..],"stalled","seconds","msgsPerSec"}; exit code 0 whenever it could measure (the caller judges), 2 if
// no probe got through within PROBE_MS.
// Usage: node nats-windowed-load.mjs PUB_PORT SUB_PORT SUBJECT SUB_SUBJECT COUNT SIZE WINDOW STALL_MS PROBE_MS [PUB_USER PUB_PASS]
// (SUB_SUBJECT: what the subscriber subscribes to, SUBJECT or a wildcard that matches it)
import { connect } from "nats";

const [pubPort, subPort, subject, subSubject, countArg, sizeArg, windowArg, stallArg, probeArg, pubUser, pubPass] = process.argv.slice(2);
const count = Number(countArg);
const size = Number(sizeArg);
const window = Number(windowArg);
const stallMs = Number(stallArg);
const probeMs = Number(probeArg);
if (!subject || !subSubject || !(count > 0) || !(size >= 5) || !(window > 0) || !(stallMs > 0) || !(probeMs > 0)) {
  console.error("usage: node nats-windowed-load.mjs PUB_PORT SUB_PORT SUBJECT SUB_SUBJECT COUNT SIZE WINDOW STALL_MS PROBE_MS [PUB_USER PUB_PASS]   (SIZE >= 5)");
  process.exit(64);
}

const subscriber = await connect({ servers: `127.0.0.1:${subPort}`, name: "npm-load-sub" });
const publisher = await connect({ servers: `127.0.0.1:${pubPort}`, name: "npm-load-pub", user: pubUser || undefined, pass: pubPass || undefined });

const seen = new Uint8Array(count);
let received = 0; // data messages, duplicates included
let unique = 0;
let duplicates = 0;
let outOfOrder = 0;
let highest = -1;
let probed = false;
let wake = null; // resolves the publisher's or the final wait when something arrives

subscriber.subscribe(subSubject, {
  callback: (error, m) => {
    if (error) return;
    const data = m.data;
    if (data.length < 5 || data[4] !== 1) {
      probed = true;
    } else {
      const sequence = data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24);
      received++;
      if (sequence < 0 || sequence >= count) {
        // not ours: counted as received, never as unique
      } else if (seen[sequence]++ === 0) {
        unique++;
      } else {
        duplicates++;
      }
      if (sequence < highest) outOfOrder++;
      else highest = sequence;
    }
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  },
});
await subscriber.flush();

// Waits until something arrives or ms pass, whichever is first.
function progressOrTimeout(ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { wake = null; resolve(); }, ms);
    wake = () => { clearTimeout(timer); resolve(); };
  });
}

const probe = new Uint8Array(size);
const probeDeadline = Date.now() + probeMs;
while (!probed) {
  if (Date.now() > probeDeadline) {
    console.error(`no probe published on ${pubPort} arrived on ${subPort} within ${probeMs} ms`);
    process.exit(2);
  }
  publisher.publish(subject, probe);
  await publisher.flush();
  await progressOrTimeout(50);
}

const started = performance.now();
let published = 0;
let stalled = false;
for (; published < count; published++) {
  while (published - received >= window) {
    const before = received;
    await progressOrTimeout(stallMs);
    if (received === before) {
      stalled = true;
      break;
    }
  }
  if (stalled) break;
  // A new buffer per message: the client queues the array it is given, not a copy of it.
  const payload = new Uint8Array(size);
  payload[4] = 1;
  payload[0] = published & 0xff;
  payload[1] = (published >>> 8) & 0xff;
  payload[2] = (published >>> 16) & 0xff;
  payload[3] = (published >>> 24) & 0xff;
  publisher.publish(subject, payload);
  // Let the socket be written and the subscriber read while publishing.
  if ((published & 1023) === 1023) await new Promise((resolve) => setImmediate(resolve));
}
await publisher.flush();

while (unique < published) {
  const before = received;
  await progressOrTimeout(stallMs);
  if (received === before) break;
}
const seconds = (performance.now() - started) / 1000;

const lostSequences = [];
let lost = 0;
for (let i = 0; i < published; i++) {
  if (seen[i] === 0) {
    lost++;
    lostSequences.push(i);
  }
}
console.log(JSON.stringify({
  published,
  received,
  unique,
  lost,
  duplicates,
  outOfOrder,
  firstLost: lostSequences.slice(0, 10),
  lastLost: lostSequences.slice(-10),
  stalled,
  seconds,
  msgsPerSec: unique / seconds,
}));
await publisher.close();
await subscriber.close();
