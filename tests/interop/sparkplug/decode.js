// Decodes Sparkplug B payloads with Eclipse Tahu's own JavaScript library (sparkplug-payload),
// independently of the Python code that wrote them. Acts like a host application: aliases and
// datatypes come from NBIRTH/DBIRTH, because DDATA metrics carry only their alias.
//
// stdin:  [{"topic": "...", "payload": "<base64>"}, ...] in the order they were published
// stdout: [{"topic": "...", "decoded": {...}}, ...] with 64-bit integers as numbers (or strings
//         when above 2**53) and bytes as base64.
"use strict";

const sparkplug = require("sparkplug-payload").get("spBv1.0");
const { Payload } = require("sparkplug-payload/lib/sparkplugPayloadProto").org.eclipse.tahu.protobuf;
const Long = require("long");

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

function main(input) {
  const datatypes = new Map(); // "<group>/<node>" -> Map(alias -> datatype)
  const out = [];
  for (const { topic, payload } of JSON.parse(input)) {
    const [, group, kind, node] = topic.split("/");
    const key = `${group}/${node}`;
    let raw = Buffer.from(payload, "base64");
    if (kind === "NBIRTH") datatypes.set(key, new Map());
    const table = datatypes.get(key) || new Map();
    const message = Payload.decode(raw);
    if (kind === "NBIRTH" || kind === "DBIRTH") {
      for (const m of message.metrics) table.set(Long.fromValue(m.alias).toString(), m.datatype);
    } else if (kind === "NDATA" || kind === "DDATA") {
      for (const m of message.metrics) {
        if (!m.datatype && m.alias != null) {
          const datatype = table.get(Long.fromValue(m.alias).toString());
          if (datatype === undefined) throw new Error(`${topic}: alias ${m.alias} was never born`);
          m.datatype = datatype;
        }
      }
      raw = Buffer.from(Payload.encode(message).finish());
    }
    out.push({ topic, decoded: plain(sparkplug.decodePayload(raw)) });
  }
  return out;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => { process.stdout.write(JSON.stringify(main(input), null, 1)); });
