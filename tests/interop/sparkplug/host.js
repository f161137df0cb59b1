// An outside Sparkplug B host application: MQTT.js subscribed to a real broker, Eclipse Tahu's
// sparkplug-payload decoding what arrives. It decodes every message twice:
//   "plain": sparkplug.decodePayload(raw) as is, what a stock subscriber that ignores births
//            gets (DATA metrics carry no datatype, Sparkplug says they should not, so values
//            come out null);
//   "host":  after applying the datatype the NBIRTH/DBIRTH gave each alias, which is what a
//            Sparkplug host must do (Ignition's MQTT Engine, Tahu's host examples do it too).
//
// argv[2]: JSON {host, port, group}
// stdout:  one JSON event per line: {"event": "subscribed"}, {"event": "message", "topic"} for
//          each message, and on stdin "end" {"event": "seen", "messages": [{"topic", "plain",
//          "host"}, ...]}; 64-bit integers as numbers, or strings above 2**53.
"use strict";

const mqtt = require("mqtt");
const Long = require("long");
const sparkplug = require("sparkplug-payload").get("spBv1.0");
const { Payload } = require("sparkplug-payload/lib/sparkplugPayloadProto").org.eclipse.tahu.protobuf;

const cfg = JSON.parse(process.argv[2]);

function plain(value) {
  if (Long.isLong(value)) {
    const n = value.toNumber();
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = plain(value[key]);
    return out;
  }
  return value;
}

const datatypes = new Map(); // "<node>" -> Map(alias -> datatype), from the births
const seen = [];

function receive(topic, raw) {
  const [, , kind, node] = topic.split("/");
  if (kind === "NBIRTH") datatypes.set(node, new Map());
  const table = datatypes.get(node) || new Map();
  const message = Payload.decode(raw);
  if (kind === "NBIRTH" || kind === "DBIRTH") {
    for (const m of message.metrics) {
      if (m.alias != null) table.set(Long.fromValue(m.alias).toString(), m.datatype);
    }
  }
  let typed = raw;
  if (kind === "NDATA" || kind === "DDATA") {
    for (const m of message.metrics) {
      if (!m.datatype && m.alias != null) m.datatype = table.get(Long.fromValue(m.alias).toString()) || 0;
    }
    typed = Buffer.from(Payload.encode(message).finish());
  }
  const entry = { topic, host: plain(sparkplug.decodePayload(typed)) };
  try {
    entry.plain = plain(sparkplug.decodePayload(raw));
  } catch (err) {
    entry.plain = { error: String(err) };
  }
  seen.push(entry);
  process.stdout.write(JSON.stringify({ event: "message", topic }) + "\n");
}

const client = mqtt.connect({ host: cfg.host, port: cfg.port, clientId: `outside-host-${process.pid}`,
                              clean: true, reconnectPeriod: 0 });
client.on("error", (err) => { process.stderr.write(String(err) + "\n"); process.exit(3); });
client.on("connect", () => {
  client.subscribe(`spBv1.0/${cfg.group}/#`, { qos: 1 }, () => {
    process.stdout.write(JSON.stringify({ event: "subscribed" }) + "\n");
  });
});
client.on("message", (topic, raw) => receive(topic, raw));

process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  if (!chunk.includes("end")) return;
  process.stdout.write(JSON.stringify({ event: "seen", messages: seen }) + "\n");
  client.end(false, () => process.exit(0));
});
