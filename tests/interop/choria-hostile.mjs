// Sends hostile Choria v1 messages to a broker cluster's federation subject (N of each kind), for black-box runs: bad
// JSON, a huge seen-by trail, forged targets (broker subjects, wildcards), reply subjects outside the reply space.
// Usage: node choria-hostile.mjs FED_URL CLUSTER N
import { connect } from "nats";
const [fedUrl, cluster, nText] = process.argv.slice(2);
const u = new URL(fedUrl), n = Number(nText ?? 100);
const nc = await connect({ servers: `${u.hostname}:${u.port}`, user: u.username || undefined, pass: u.password || undefined, name: "hostile" });
const enc = new TextEncoder();
const subject = `choria.federation.${cluster}.federation`;
const msg = (headers, extra = {}) => enc.encode(JSON.stringify({ protocol: "choria:transport:1", data: "cGluZw==", headers: { "mc_sender": "evil", ...headers }, ...extra }));
const kinds = {
  badJson: () => enc.encode("{\"protocol\": \"choria:transport:1\", "),
  hugeTrail: () => msg({ "reply-to": "x.reply.1", "seen-by": Array.from({ length: 30000 }, (_, i) => ["a", `p${i}`, "b"]), federation: { req: "1", target: ["mcollective.broadcast.agent.rpcutil"] } }),
  loopTarget: () => msg({ "reply-to": "x.reply.1", federation: { req: "1", target: [`choria.federation.${cluster}.federation`] } }),
  wildcardTarget: () => msg({ "reply-to": "x.reply.1", federation: { req: "1", target: ["mcollective.broadcast.agent.>"] } }),
  replyIntoFederation: () => msg({ "reply-to": `choria.federation.${cluster}.collective`, federation: { req: "1", target: ["mcollective.broadcast.agent.rpcutil"] } }),
  replyOutside: () => msg({ "reply-to": "$SYS.REQ.SERVER.PING", federation: { req: "1", target: ["mcollective.broadcast.agent.rpcutil"] } }),
  manyTargets: () => msg({ "reply-to": "x.reply.1", federation: { req: "1", target: Array.from({ length: 5000 }, () => "mcollective.broadcast.agent.rpcutil") } }),
  noFederation: () => msg({ "reply-to": "x.reply.1" }),
  binary: () => new Uint8Array([0, 255, 1, 2, 3]),
};
for (const [kind, make] of Object.entries(kinds)) {
  const count = kind === "hugeTrail" || kind === "manyTargets" ? Math.min(n, 20) : n;
  for (let i = 0; i < count; i++) nc.publish(subject, make());
  await nc.flush();
  console.log(kind, count);
}
await nc.close();
