// A standard Sparkplug B 3.0 edge node that knows nothing of shopfloor-gateway: Eclipse Tahu's
// JavaScript codec (sparkplug-payload) encodes every payload, MQTT.js publishes them to a real
// broker. What a Tahu-based, Ignition Edge or Kepware node does: NBIRTH with bdSeq and
// Node Control/Rebirth, DBIRTH with aliases, datatypes and current values, DDATA by alias,
// NDATA, DDEATH, NDEATH as will and on a clean stop, births again on an NCMD rebirth.
//
// argv[2]: JSON {host, port, group, node, devices: [..], answerRebirth: true, births: true}
// stdin:   one command per line:
//          births | data <step> | ndata <step> | repeat | ddeath <device> | stop
// stdout:  one JSON event per line: {"event": "connected"} {"event": "published", "topic", ...}
//          {"event": "ncmd", "rebirth": true} {"event": "stopped"}
"use strict";

const mqtt = require("mqtt");
const Long = require("long");
const sparkplug = require("sparkplug-payload").get("spBv1.0");
const { Payload } = require("sparkplug-payload/lib/sparkplugPayloadProto").org.eclipse.tahu.protobuf;

const cfg = JSON.parse(process.argv[2]);
const T0 = cfg.t0 || 1764403200000;
const ns = "spBv1.0";
const topic = (kind, device) => `${ns}/${cfg.group}/${kind}/${cfg.node}${device ? "/" + device : ""}`;
let seq = 0;
let bdSeq = cfg.bdSeq || 0;
let last = null; // the last DDATA sent: topic and bytes, for "repeat"

function emit(event) { process.stdout.write(JSON.stringify(event) + "\n"); }
function nextSeq() { const s = seq; seq = (seq + 1) % 256; return s; }

// Every datatype sparkplug-payload 1.0.3 encodes, with edge values; the test knows what each
// must become in the database. Aliases are unique across the node.
function deviceMetrics(step, device) {
  const k = step || 0;
  const base = 100 * (cfg.devices.indexOf(device) + 1); // aliases unique across the node
  return aliasFrom(base, [
    { name: "Int8", alias: 101, type: "Int8", value: k ? 127 : -128 },
    { name: "Int16", alias: 102, type: "Int16", value: k ? 32767 : -32768 },
    { name: "Int32", alias: 103, type: "Int32", value: k ? 2147483647 : -2147483648 },
    { name: "Int64", alias: 104, type: "Int64",
      value: k ? Long.fromString("9223372036854775807") : Long.fromString("-9223372036854775808") },
    { name: "UInt8", alias: 105, type: "UInt8", value: 255 },
    { name: "UInt16", alias: 106, type: "UInt16", value: 65535 },
    { name: "UInt32", alias: 107, type: "UInt32", value: 4294967295 },
    { name: "UInt64", alias: 108, type: "UInt64",
      value: k ? Long.fromString("4632251081920692269", true) : Long.fromString("18446744073709551615", true) },
    { name: "Energy/Total", alias: 109, type: "UInt64", value: Long.fromNumber(123456789 + k, true),
      properties: { engUnit: { type: "String", value: "kWh" } } },
    { name: "Float", alias: 110, type: "Float", value: 3.14 },
    { name: "Double", alias: 111, type: "Double", value: 2.718281828459045 + k },
    { name: "Boolean", alias: 112, type: "Boolean", value: k % 2 === 0 },
    { name: "String", alias: 113, type: "String", value: "LINE-01 " },
    { name: "DateTime", alias: 114, type: "DateTime", value: T0 + 123 },
    { name: "Text", alias: 115, type: "Text", value: "灌装线\n第二行" },
    { name: "UUID", alias: 116, type: "UUID", value: "4a2f6c1e-9b3d-4e8a-a1f0-2c7d5e9b0a13" },
    { name: "Bytes", alias: 117, type: "Bytes", value: Buffer.from([0, 1, 2, 255]) },
    { name: "File", alias: 118, type: "File", value: Buffer.from("a,b\n1,2\n") },
    { name: "DataSet", alias: 119, type: "DataSet", value: {
      numOfColumns: 3, columns: ["batch", "weight", "ok"], types: ["Int32", "Double", "Boolean"],
      rows: [[1, 12.5, true], [2, 12.25, false]] } },
    { name: "Motor", alias: 120, type: "Template", value: {
      templateRef: "MotorType", version: "1",
      parameters: [{ name: "ratedKw", type: "Double", value: 7.5 }],
      metrics: [{ name: "Speed", type: "Double", value: 1450.5 }, { name: "Running", type: "Boolean", value: true }] } },
    { name: "Null Reading", alias: 121, type: "Double", value: null,
      properties: { Quality: { type: "Int32", value: 0 } } },
    { name: "Stale Reading", alias: 122, type: "Double", value: 42.0,
      properties: { Quality: { type: "Int32", value: 500 } } },
    { name: "Good Reading", alias: 123, type: "Double", value: 7.0,
      properties: { Quality: { type: "Int32", value: 192 } } },
    { name: "Scratch", alias: 124, type: "Int32", value: 5, isTransient: true },
  ]);
}

function aliasFrom(base, metrics) {
  return metrics.map((m) => ({ ...m, alias: base + (m.alias % 100) }));
}

function nodeMetrics() {
  return [
    { name: "bdSeq", type: "Int64", value: bdSeq },
    { name: "Node Control/Rebirth", alias: 1, type: "Boolean", value: false },
    { name: "Node Info/Firmware", alias: 2, type: "String", value: "tahu-js 1.0.3" },
    { name: "Node Info/Uptime", alias: 3, type: "UInt32", value: 1 },
    { name: "_types_/MotorType", type: "Template", value: {
      isDefinition: true, version: "1",
      parameters: [{ name: "ratedKw", type: "Double", value: 0 }],
      metrics: [{ name: "Speed", type: "Double", value: 0 }, { name: "Running", type: "Boolean", value: false }] } },
  ];
}

function encode(metrics, { stripTypes = false, ts = T0, sentAt = ts } = {}) {
  const withTs = metrics.map((m) => ({ timestamp: ts, ...m }));
  let raw = Buffer.from(sparkplug.encodePayload({ timestamp: sentAt, seq: nextSeq(), metrics: withTs }));
  if (stripTypes) { // Sparkplug: DATA metrics SHOULD NOT carry a datatype (the birth has it)
    const p = Payload.decode(raw);
    for (const m of p.metrics) { delete m.datatype; }
    raw = Buffer.from(Payload.encode(p).finish());
  }
  return raw;
}

function publish(client, t, raw, qos) {
  client.publish(t, raw, { qos }, (err) => {
    if (err) { emit({ event: "error", error: String(err) }); return; }
    emit({ event: "published", topic: t, bytes: raw.length });
  });
}

function births(client) {
  seq = 0;
  // values read at T0, sent now: a rebirth re-sends the same values with their timestamps
  publish(client, topic("NBIRTH"), encode(nodeMetrics(), { sentAt: Date.now() }), 0);
  for (const dev of cfg.devices) {
    publish(client, topic("DBIRTH", dev), encode(deviceMetrics(0, dev), { sentAt: Date.now() }), 0);
  }
}

function ddata(client, step) {
  const ts = T0 + 1000 * step;
  for (const dev of cfg.devices) {
    // by alias only: no names, and on odd steps no datatypes either
    const metrics = deviceMetrics(step, dev).map(({ name, ...m }) => m);
    const raw = encode(metrics, { stripTypes: step % 2 === 1, ts });
    last = { t: topic("DDATA", dev), raw };
    publish(client, last.t, raw, 0);
  }
}

const will = { topic: topic("NDEATH"), payload: Buffer.from(sparkplug.encodePayload({
  timestamp: T0, metrics: [{ name: "bdSeq", type: "Int64", value: bdSeq, timestamp: T0 }] })), qos: 1, retain: false };
const client = mqtt.connect({ host: cfg.host, port: cfg.port, clientId: `tahu-${cfg.node}`, clean: true,
                              protocolVersion: 4, reconnectPeriod: 0, will });
client.on("error", (err) => { emit({ event: "error", error: String(err) }); process.exit(3); });
client.on("connect", () => {
  client.subscribe([topic("NCMD"), topic("DCMD", "+")], { qos: 1 }, () => {
    emit({ event: "connected" });
    if (cfg.births !== false) births(client);
  });
});
client.on("message", (t, raw) => {
  const cmd = sparkplug.decodePayload(raw);
  const rebirth = (cmd.metrics || []).some((m) => m.name === "Node Control/Rebirth" && m.value === true);
  emit({ event: "ncmd", topic: t, rebirth });
  if (rebirth && cfg.answerRebirth !== false) births(client);
});

let buffer = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const [cmd, arg] = buffer.slice(0, nl).trim().split(/\s+/);
    buffer = buffer.slice(nl + 1);
    if (cmd === "births") births(client);
    else if (cmd === "data") ddata(client, Number(arg));
    else if (cmd === "ndata") {
      const raw = encode([{ alias: 3, type: "UInt32", value: Number(arg) }], { ts: T0 + 1000 * Number(arg) });
      publish(client, topic("NDATA"), raw, 0);
    } else if (cmd === "repeat" && last) publish(client, last.t, last.raw, 1);
    else if (cmd === "ddeath") publish(client, topic("DDEATH", arg), encode([], { ts: T0 + 60000 }), 0);
    else if (cmd === "stop") {
      const bye = Buffer.from(sparkplug.encodePayload({ timestamp: T0 + 70000,
        metrics: [{ name: "bdSeq", type: "Int64", value: bdSeq, timestamp: T0 + 70000 }] }));
      client.publish(topic("NDEATH"), bye, { qos: 1 }, () => {
        client.end(false, () => { emit({ event: "stopped" }); process.exit(0); });
      });
    }
  }
});
