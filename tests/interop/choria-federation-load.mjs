// Black-box driver for Federation of Collectives broker instances speaking Choria's transport JSON, with the npm "nats"
// client only: NODES nodes on the collective server answer 'mcollective.broadcast.agent.rpcutil' as a Choria server
// does (the reply goes to the request's reply-to, with the request's federation block), and a client on the federation
// sends COUNT requests at RATE per second to 'choria.federation.CLUSTER.federation', each with its own request id, and
// counts the replies per request id. Prints one JSON line: sent, answered (exactly once), duplicated, missing, late, and
// the processors seen in the trails (which broker instance relayed what).
// Usage: node choria-federation-load.mjs FED_URL COLL_URL CLUSTER COUNT RATE VERSION(1|2) [WAIT_MS] [NODES]
import { connect } from "nats";

const [fedUrl, collUrl, cluster, countText, rateText, versionText, waitText, nodesText] = process.argv.slice(2);
if (!versionText) {
  console.error("usage: node choria-federation-load.mjs FED_URL COLL_URL CLUSTER COUNT RATE VERSION(1|2) [WAIT_MS] [NODES]");
  process.exit(64);
}

const count = Number(countText), rate = Number(rateText), v2 = versionText === "2";
const waitMs = Number(waitText ?? 5000), nodeCount = Number(nodesText ?? 1);
const names = v2
  ? { protocol: "io.choria.protocol.v2.transport", replyTo: "reply", sender: "sender", trail: "trace", req: "request", fedReply: "reply", targets: "targets" }
  : { protocol: "choria:transport:1", replyTo: "reply-to", sender: "mc_sender", trail: "seen-by", req: "req", fedReply: "reply-to", targets: "target" };
const enc = new TextEncoder(), dec = new TextDecoder();
const opts = (url, name) => { const u = new URL(url); return { servers: `${u.hostname}:${u.port}`, name, user: u.username ? decodeURIComponent(u.username) : undefined, pass: u.password ? decodeURIComponent(u.password) : undefined, maxReconnectAttempts: -1, reconnectTimeWait: 250 }; };

const nodes = [];
for (let n = 0; n < nodeCount; n++) {
  const node = await connect(opts(collUrl, `node-${n}`));
  const sub = node.subscribe("mcollective.broadcast.agent.rpcutil");
  (async () => {
    for await (const m of sub) {
      const request = JSON.parse(dec.decode(m.data));
      const h = request.headers;
      const reply = { protocol: names.protocol, data: Buffer.from(`node-${n}`).toString("base64"),
        headers: { [names.sender]: `node-${n}`, [names.trail]: [...(h[names.trail] ?? []), ["-", `node-${n}`, "-"]],
          federation: { [names.req]: h.federation[names.req], [names.fedReply]: h.federation[names.fedReply] } } };
      node.publish(h[names.replyTo], enc.encode(JSON.stringify(reply)));
    }
  })();
  nodes.push(node);
}
for (const node of nodes) await node.flush();

const client = await connect(opts(fedUrl, "choria-client"));
const replies = new Map(), processors = new Map();
let late = 0, unknown = 0, done = false;
const replySub = client.subscribe("client.reply.>");
(async () => {
  for await (const m of replySub) {
    const id = m.subject.split(".").pop();
    if (!replies.has(id)) { unknown++; continue; }
    if (done) late++;
    replies.set(id, replies.get(id) + 1);
    try {
      const trail = JSON.parse(dec.decode(m.data)).headers[names.trail] ?? [];
      for (const hop of trail) if (hop[1] && !hop[1].startsWith("node-") && hop[1] !== "client") processors.set(hop[1], (processors.get(hop[1]) ?? 0) + 1);
    } catch { /* counted as answered all the same */ }
  }
})();
await client.flush();

const started = Date.now();
for (let i = 0; i < count; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const id = `r${String(i).padStart(7, "0")}`;
  replies.set(id, 0);
  const request = { protocol: names.protocol, data: Buffer.from(`ping ${i}`).toString("base64"),
    headers: { [names.replyTo]: `client.reply.${id}`, [names.sender]: "client", [names.trail]: [["-", "client", "-"]],
      federation: { [names.req]: id, [names.targets]: ["mcollective.broadcast.agent.rpcutil"] } } };
  try { client.publish(`choria.federation.${cluster}.federation`, enc.encode(JSON.stringify(request))); } catch { /* a reconnecting client: counted as missing */ }
}
await client.flush().catch(() => {});
await new Promise((r) => setTimeout(r, waitMs));
done = true;
const values = [...replies.values()];
const missingIds = [...replies.entries()].filter(([, c]) => c === 0).map(([id]) => id);
console.log(JSON.stringify({
  sent: count,
  answered: values.filter((c) => c === nodeCount).length,
  duplicated: values.filter((c) => c > nodeCount).length,
  missing: missingIds.length,
  firstMissing: missingIds.slice(0, 3), lastMissing: missingIds.slice(-3),
  unknown, seconds: (Date.now() - started) / 1000,
  processors: Object.fromEntries(processors),
}));
await client.close();
for (const node of nodes) await node.close();
