// Interop driver (FederationHost.Tests/NatsBlackBox): the npm "nats" client as a long-lived process that a test drives
// one JSON command per stdin line, answering each with exactly one JSON line on stdout, so that a test can subscribe,
// publish and unsubscribe on several nats-servers while it watches the federation host between the steps.
//
// Commands ({"op": ...}; every answer has "ok", and "error" when ok is false):
//   {"op":"connect","conn":"a","port":4222,"user":"u","pass":"p"}   user and pass optional; reconnects forever, fast
//   {"op":"subscribe","id":"s1","conn":"a","subject":"orders.>"}     answered after the server has the SUB (flush)
//   {"op":"unsubscribe","id":"s1"}                                   answered after the server has the UNSUB (flush)
//   {"op":"publish","conn":"a","subject":"orders.x","bodies":["m1","m2"]}  answered after the server has them (flush)
//   {"op":"received","id":"s1"}  -> {"ok":true,"messages":[{"subject","body","trail":[...]}]}, every message so far
//   {"op":"close"}               closes every connection and exits 0
// Usage: node nats-blackbox-client.mjs
import { connect, StringCodec } from "nats";
import { createInterface } from "node:readline";

const codec = StringCodec();
const connections = new Map();
const subscriptions = new Map();

function reply(answer) {
  process.stdout.write(JSON.stringify(answer) + "\n");
}

function connection(name) {
  const nc = connections.get(name);
  if (!nc) throw new Error(`no connection named '${name}'`);
  return nc;
}

const handlers = {
  async connect({ conn, port, user, pass }) {
    const nc = await connect({
      servers: `127.0.0.1:${port}`,
      name: `npm-blackbox-${conn}`,
      user: user || undefined,
      pass: pass || undefined,
      // A test kills and restarts servers: keep trying, quickly, for as long as the test runs.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    connections.set(conn, nc);
    return {};
  },
  async subscribe({ id, conn, subject }) {
    const nc = connection(conn);
    const messages = [];
    const subscription = nc.subscribe(subject, {
      callback: (error, m) => {
        if (error) return;
        messages.push({ subject: m.subject, body: codec.decode(m.data), trail: m.headers?.values("x-received-from") ?? [] });
      },
    });
    subscriptions.set(id, { nc, subscription, messages });
    await nc.flush();
    return {};
  },
  async unsubscribe({ id }) {
    const entry = subscriptions.get(id);
    if (!entry) throw new Error(`no subscription named '${id}'`);
    entry.subscription.unsubscribe();
    await entry.nc.flush();
    return {};
  },
  async publish({ conn, subject, bodies }) {
    const nc = connection(conn);
    for (const body of bodies) nc.publish(subject, codec.encode(body));
    await nc.flush();
    return {};
  },
  async received({ id }) {
    const entry = subscriptions.get(id);
    if (!entry) throw new Error(`no subscription named '${id}'`);
    return { messages: entry.messages };
  },
  async close() {
    for (const nc of connections.values()) await nc.close();
    return {};
  },
};

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let command;
  try {
    command = JSON.parse(line);
    const handler = handlers[command.op];
    if (!handler) throw new Error(`unknown op '${command.op}'`);
    reply({ ok: true, ...(await handler(command)) });
  } catch (error) {
    reply({ ok: false, error: String(error?.message ?? error) });
  }
  if (command?.op === "close") process.exit(0);
}
