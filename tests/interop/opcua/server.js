// An OPC UA server built on node-opcua (not asyncua), for the collector's interoperability
// tests. Usage: node server.js <port> <pki-dir>
// Serves namespace "urn:interop:node-opcua" with one variable per built-in type under
// Objects/Interop, changing every 100 ms, EURange on Speed (so percent deadband is real), and
// a username token operator / s3cret! besides anonymous. Endpoints: None, and
// Basic256Sha256 Sign / SignAndEncrypt. Prints "READY <port>" once listening.
"use strict";
const path = require("path");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");
const { OPCUAServer } = require("node-opcua-server");
const { Variant, DataType } = require("node-opcua-variant");
const { StatusCodes } = require("node-opcua-status-code");
const { MessageSecurityMode, SecurityPolicy } = require("node-opcua-secure-channel");

const port = parseInt(process.argv[2], 10);
const pkiDir = process.argv[3];
const NS = "urn:interop:node-opcua";

async function main() {
  const serverCertificateManager = new OPCUACertificateManager({
    automaticallyAcceptUnknownCertificate: true, // the test's gateway certificates are new each run
    rootFolder: path.join(pkiDir, "server"),
  });
  await serverCertificateManager.initialize();
  const server = new OPCUAServer({
    port,
    hostname: "127.0.0.1",
    host: "127.0.0.1", // loopback only
    resourcePath: "/UA/Interop",
    serverCertificateManager,
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    allowAnonymous: true,
    userManager: { isValidUser: (u, p) => u === "operator" && p === "s3cret!" },
    buildInfo: { productName: "node-opcua interop server", manufacturerName: "node-opcua" },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  const ns = addressSpace.registerNamespace(NS);
  // Push the interop namespace away from index 2, so only nsu= ids resolve it correctly.
  const interop = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Interop" });
  const t0 = Date.now();
  const nodes = [];
  const add = (id, name, dataType, fn, extra = {}) => {
    const v = ns.addVariable({ componentOf: interop, nodeId: id, browseName: name, dataType, minimumSamplingInterval: 50, ...extra });
    nodes.push({ v, dataType, fn, arrayType: extra.valueRank === 1 ? 1 : 0 });
    return v;
  };
  const s = () => (Date.now() - t0) / 1000;
  add("s=Line1.Speed", "Speed", "Double", () => 50 + 10 * Math.sin(s()));
  add("s=Line1.Running", "Running", "Boolean", () => Math.floor(s()) % 2 === 0);
  add("i=5001", "Count", "UInt32", () => Math.floor(s() * 10));
  add("s=T.SByte", "SByte", "SByte", () => -5);
  add("s=T.Int16", "Int16", "Int16", () => -30000);
  add("s=T.UInt16", "UInt16", "UInt16", () => 60000);
  add("s=T.Int32", "Int32", "Int32", () => -2000000000);
  add("s=T.Int64", "Int64", "Int64", () => [0xFFFFFFFD, 0xE78EE600]); // -9000000000 as [high, low]
  add("s=T.UInt64", "UInt64", "UInt64", () => [2, 0x18711A00]); // 9000000000
  add("s=T.Float", "Float", "Float", () => 1.5);
  add("s=T.String", "String", "String", () => "running");
  add("s=T.DateTime", "DateTime", "DateTime", () => new Date(Date.UTC(2025, 0, 1)));
  add("s=T.Raw", "Raw", "ByteString", () => Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  add("s=T.Zones", "Zones", "Double", () => [1.5, 2.5, 3.5], { valueRank: 1, arrayDimensions: [3] });
  add("g=09087e75-8e5e-499b-954f-f2a9603db28a", "ByGuid", "Int32", () => 7);
  add("b=UExDMQ==", "ByOpaque", "Int32", () => 8);
  const speedPct = ns.addAnalogDataItem({
    componentOf: interop, nodeId: "s=Line1.SpeedPct", browseName: "SpeedPct", dataType: "Double",
    engineeringUnitsRange: { low: 0, high: 100 }, minimumSamplingInterval: 50,
  });
  nodes.push({ v: speedPct, dataType: "Double", fn: () => 50 + 0.5 * Math.sin(s() * 3), arrayType: 0 });
  let bad = false;
  const tick = () => {
    const now = new Date();
    for (const n of nodes) {
      const value = n.fn();
      const variant = new Variant({ dataType: DataType[n.dataType], value, arrayType: n.arrayType });
      n.v.setValueFromSource(variant, StatusCodes.Good, now);
    }
    if (bad) nodes[0].v.setValueFromSource(new Variant({ dataType: DataType.Double, value: 0 }),
      StatusCodes.BadSensorFailure, now);
  };
  tick();
  setInterval(tick, 100);
  process.stdin.on("data", (d) => { bad = d.toString().includes("bad"); });
  await server.start();
  console.log(`READY ${port} ${server.certificateFile || ""}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
