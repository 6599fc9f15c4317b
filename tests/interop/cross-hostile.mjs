// Cross-protocol hostile-input and header-fidelity driver for FederationHost (docs/behaviour.md, "Across protocols").
//   node cross-hostile.mjs nats-amqp NATS_URL AMQP_URL EXCHANGE   a host federates NATS EXCHANGE.> into AMQP exchange EXCHANGE
//   node cross-hostile.mjs js-amqp NATS_URL AMQP_URL EXCHANGE     the same into a JetStream upstream (?jetstream=true): js.publish
//   node cross-hostile.mjs amqp-nats AMQP_URL NATS_URL EXCHANGE   a host federates AMQP exchange EXCHANGE into NATS EXCHANGE.>
//   node cross-hostile.mjs roundtrip AMQP_URL_1 AMQP_URL_2 EXCHANGE NATS_URL  AMQP 1 -> NATS -> AMQP 2 (two hosts)
//   node cross-hostile.mjs ring AMQP_URL EXCHANGE NATS_URL                   AMQP -> NATS -> the same AMQP (two hosts): one copy only
// (roundtrip and ring also subscribe EXCHANGE.> on NATS: interest on NATS propagates one hop, so the NATS server needs
// a local subscriber for the AMQP 1 -> NATS link to bind; docs/behaviour.md)
// Declares the downstream side's interest first (a queue bound with '#', or a NATS subscription), waits until a probe
// crosses, then publishes each hostile case followed by a good marker message, waits 8 s, and prints one JSON line per
// case: which arrived, with the headers/properties seen downstream. A marker that does not arrive means the case
// stalled the link. Credentials go in the URLs (user:password@).
import amqp from "amqplib";
import { connect, StringCodec, headers as natsHeaders } from "nats";
import net from "node:net";
const [mode, a, b, c] = process.argv.slice(2);
const sc = StringCodec(), sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seen = new Map();   // tag -> [{...}]
const record = (tag, info) => { if (!seen.has(tag)) seen.set(tag, []); seen.get(tag).push(info); };
const natsConn = (url) => { const u = new URL(url); return connect({ servers: `${u.hostname}:${u.port}`, user: decodeURIComponent(u.username) || undefined, pass: decodeURIComponent(u.password) || undefined }); };
async function amqpSink(url, exchange) {
  const conn = await amqp.connect(url); const ch = await conn.createChannel();
  await ch.assertExchange(exchange, "topic", { durable: true });
  const q = await ch.assertQueue("", { exclusive: true }); await ch.bindQueue(q.queue, exchange, "#");
  await ch.consume(q.queue, (m) => {
    const p = { ...m.properties }; const h = p.headers; delete p.headers;
    for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
    const body = m.content.length > 200 ? `<${m.content.length} bytes>` : m.content.toString();
    record(body.startsWith("<") ? "big" : body.split(" ")[0], { via: "amqp", routingKey: m.fields.routingKey, properties: p, headers: h });
  }, { noAck: true });
  return conn;
}
async function natsSink(url, exchange) {
  const nc = await natsConn(url);
  for (const s of [exchange, `${exchange}.>`]) (async () => { for await (const m of nc.subscribe(s)) {
    const h = {}; if (m.headers) for (const [k, v] of m.headers) h[k] = v;
    record(sc.decode(m.data).split(" ")[0], { via: "nats", subject: m.subject, headers: h });
  } })();
  return nc;
}
async function probe(send) {
  for (let i = 0; i < 120; i++) { await send(`probe${i}`); await sleep(1000); if ([...seen.keys()].some((k) => k.startsWith("probe"))) return; }
  throw new Error("nothing crossed in 120 s");
}
const count = (tag) => { const by = {}; for (const x of seen.get(tag) ?? []) by[x.via ?? "client"] = (by[x.via ?? "client"] ?? 0) + 1; return by; };
function report(cases) {
  for (const [tag, what] of cases) console.log(JSON.stringify({ case: tag, what, arrived: count(tag), marker: count(`good-${tag}`), seen: seen.get(tag) }));
}
const amqpTypes = {
  s: "text", i: { "!": "int", value: 7 }, l: { "!": "long", value: 2 ** 40 }, b: true, d: { "!": "decimal", value: { places: 2, digits: 12345 } },
  t: { "!": "timestamp", value: 1700000000 }, tbl: { x: 1, y: "two", z: { deep: true } }, arr: [1, "a", true], bin: Buffer.from([0, 1, 2, 255]), v: null,
  "amqp-type": "spoof",
};
const amqpProps = { contentType: "application/json", contentEncoding: "gzip", messageId: "mid-1", correlationId: "cid-1", timestamp: 1700000000, type: "order.created", appId: "app-x",
  userId: "fed", expiration: "600000", priority: 7, deliveryMode: 2, replyTo: "reply.q", headers: amqpTypes };
if (mode === "nats-amqp" || mode === "js-amqp") {
  const [natsUrl, amqpUrl, ex] = [a, b, c];
  const conn = await amqpSink(amqpUrl, ex); const nc = await natsConn(natsUrl);
  const js = nc.jetstream(), pending = [];
  const pub = (subject, body, hdr) => { let h; if (hdr) { h = natsHeaders(); for (const [k, vs] of hdr) for (const v of [].concat(vs)) h.append(k, v); }
    const data = typeof body === "string" ? sc.encode(body) : body;
    if (mode === "js-amqp") pending.push(js.publish(subject, data, h ? { headers: h } : undefined).catch((e) => console.log(`js.publish ${subject.slice(0, 40)}: ${e.message}`)));
    else nc.publish(subject, data, h ? { headers: h } : undefined); };
  await probe(async (t) => pub(`${ex}.probe`, t));
  const cases = [
    ["longname", "header name of 300 bytes", () => pub(`${ex}.x`, "longname", [["N".repeat(300), "v"]])],
    ["longvalue", "header value of 200,000 bytes", () => pub(`${ex}.x`, "longvalue", [["big", "v".repeat(200000)]])],
    ["ctlvalue", "header value with \\x01 and \\x7f", () => pub(`${ex}.x`, "ctlvalue", [["ctl", "a\x01b\x7fc"]])],
    ["ctlname", "header name with \\x01", () => pub(`${ex}.x`, "ctlname", [["c\x01tl", "v"]])],
    ["longsubject", "subject of 304 bytes (routing key over 255)", () => pub(`${ex}.${"s".repeat(300)}`, "longsubject")],
    ["bigbody", "body of 100 KiB over the AMQP downstream's max_message_size (64 KiB)", () => pub(`${ex}.x`, Buffer.concat([Buffer.from("bigbody "), Buffer.alloc(100 * 1024, 97)]))],
    ["badprio", "amqp-priority: 300", () => pub(`${ex}.x`, "badprio", [["amqp-priority", "300"]])],
    ["longmid", "amqp-message-id of 300 bytes", () => pub(`${ex}.x`, "longmid", [["amqp-message-id", "m".repeat(300)]])],
    ["multi", "header with 3 values, non-ASCII value, empty value", () => pub(`${ex}.x`, "multi", [["multi", ["one", "two", "three"]], ["utf", "Grüße 東京 ✓"], ["empty", ""]])],
    ["props", "every amqp-* property header", () => pub(`${ex}.x`, "props", [["amqp-content-type", "text/plain"], ["amqp-message-id", "m-1"], ["amqp-correlation-id", "c-1"], ["amqp-timestamp", "1700000000"], ["amqp-type", "t"], ["amqp-app-id", "app"], ["amqp-user-id", "fed"], ["amqp-expiration", "60000"], ["amqp-priority", "5"], ["amqp-persistent", "true"], ["amqp-reply-to", "r"]])],
  ];
  // Header blocks no client library writes, sent as raw HPUB on a connection of our own.
  const raw = net.connect(Number(new URL(natsUrl).port), new URL(natsUrl).hostname); raw.on("data", () => {});
  const rawUrl = new URL(natsUrl);
  raw.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, user: decodeURIComponent(rawUrl.username), pass: decodeURIComponent(rawUrl.password) })}\r\n`);
  const hpub = (subject, headerBlock, body) => { const hb = Buffer.concat([Buffer.from("NATS/1.0"), headerBlock, Buffer.from("\r\n\r\n")]); const b = Buffer.from(body);
    raw.write(Buffer.concat([Buffer.from(`HPUB ${subject} ${hb.length} ${hb.length + b.length}\r\n`), hb, b, Buffer.from("\r\n")])); };
  cases.push(
    ["rawutf8", "raw HPUB: header value bytes ff fe (not UTF-8)", () => hpub(`${ex}.x`, Buffer.concat([Buffer.from("\r\nbad: a"), Buffer.from([0xff, 0xfe]), Buffer.from("b")]), "rawutf8")],
    ["rawnocolon", "raw HPUB: header line without ':'", () => hpub(`${ex}.x`, Buffer.from("\r\nnocolonhere"), "rawnocolon")],
    ["raw503", "raw HPUB: status line 'NATS/1.0 503' (no responders)", () => hpub(`${ex}.x`, Buffer.from(" 503"), "raw503")],
    ["raw100", "raw HPUB: status line 'NATS/1.0 100 Idle Heartbeat'", () => hpub(`${ex}.x`, Buffer.from(" 100 Idle Heartbeat"), "raw100")],
    ["raw408", "raw HPUB: status line 'NATS/1.0 408 Request Timeout'", () => hpub(`${ex}.x`, Buffer.from(" 408 Request Timeout"), "raw408")],
    ["rawnonasciiname", "raw HPUB: header name 'grüße'", () => hpub(`${ex}.x`, Buffer.from("\r\ngrüße: v"), "rawnonasciiname")],
    ["rawtrail", "raw HPUB: a forged x-received-from naming the downstream", () => hpub(`${ex}.x`, Buffer.from("\r\nx-received-from: garbage"), "rawtrail")],
  );
  await sleep(500);
  for (const [tag, , send] of cases) { try { send(); } catch (e) { record(tag, { clientRefused: e.message }); } await sleep(100); pub(`${ex}.x`, `good-${tag}`); await sleep(200); }
  await nc.flush(); await Promise.all(pending); await sleep(8000); report(cases); await conn.close(); await nc.close();
} else if (mode === "amqp-nats") {
  const [amqpUrl, natsUrl, ex] = [a, b, c];
  const nc = await natsSink(natsUrl, ex);
  const conn = await amqp.connect(amqpUrl); const ch = await conn.createConfirmChannel(); await ch.assertExchange(ex, "topic", { durable: true });
  const pub = (key, body, props = {}) => ch.publish(ex, key, Buffer.from(body), props);
  await probe(async (t) => pub("probe", t));
  const keys = [["space", "a b"], ["star", "a.*.b"], ["gt", "a.>"], ["gtalone", ">"], ["emptytok", "a..b"], ["trailing", "a."], ["leading", ".a"], ["tab", "a\tb"], ["empty", ""], ["nonascii", "grüße.東京"], ["hash", "a.#"]];
  const cases = keys.map(([tag, key]) => [tag, `routing key ${JSON.stringify(key)}`, () => pub(key, tag)]);
  cases.push(["types", "every AMQP property and header type", () => pub("types", "types", amqpProps)]);
  cases.push(["hdrutf", "header value 'Grüße 東京 ✓'", () => pub("h", "hdrutf", { headers: { utf: "Grüße 東京 ✓" } })]);
  cases.push(["hdrctl", "header values with \\x01, \\x00, \\x7f, a tab", () => pub("h", "hdrctl", { headers: { c1: "a\x01b", del: "a\x7fb", tab: "a\tb" } })]);
  cases.push(["hdrcrlf", "header value with CR LF", () => pub("h", "hdrcrlf", { headers: { crlf: "a\r\nInjected: yes" } })]);
  cases.push(["hdrname", "header names 'a b', 'a:b', 'grüße', 'x\\x7f'", () => pub("h", "hdrname", { headers: { "a b": "1", "a:b": "2", "grüße": "3", ok: "5" } })]);
  cases.push(["bigbody", "body of 2 MiB (over NATS max_payload 1 MiB)", () => pub("h", "bigbody " + "b".repeat(2 * 1024 * 1024))]);
  for (const [tag, , send] of cases) { send(); pub("ok", `good-${tag}`); await ch.waitForConfirms(); await sleep(200); }
  await sleep(8000); report(cases); await conn.close(); await nc.close();
} else if (mode === "roundtrip") {
  const [url1, url2, ex] = [a, b, c]; const local = await natsSink(process.argv[6], ex);
  const conn2 = await amqpSink(url2, ex);
  const conn = await amqp.connect(url1); const ch = await conn.createConfirmChannel(); await ch.assertExchange(ex, "topic", { durable: true });
  await probe(async (t) => { ch.publish(ex, "probe", Buffer.from(t)); await ch.waitForConfirms(); });
  const cases = [["types", "every AMQP property and header type, AMQP -> NATS -> AMQP", () => ch.publish(ex, "types", Buffer.from("types"), amqpProps)]];
  for (const [, , send] of cases) send(); await ch.waitForConfirms(); ch.publish(ex, "ok", Buffer.from("good-types")); await ch.waitForConfirms();
  await sleep(8000); report(cases); await conn.close(); await conn2.close();
} else if (mode === "ring") {
  const [url, ex] = [a, b]; const local = await natsSink(c, ex);
  await sleep(5000);
  const conn2 = await amqpSink(url, ex);
  const conn = await amqp.connect(url); const ch = await conn.createConfirmChannel(); await ch.assertExchange(ex, "topic", { durable: true });
  for (let i = 0; i < 5; i++) { ch.publish(ex, "r", Buffer.from(`ring${i}`)); }
  await ch.waitForConfirms(); await sleep(15000);
  for (let i = 0; i < 5; i++) console.log(JSON.stringify({ case: `ring${i}`, copies: count(`ring${i}`), trail: seen.get(`ring${i}`)?.map((x) => x.headers?.["x-received-from"]) }));
  await conn.close(); await conn2.close();
}
process.exit(0);
