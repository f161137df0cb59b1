"""What the Sparkplug tests share: a gateway config, a birth like the agent's, sample batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common.config_files import validate
from edge_agent.buffer import SealedBatch
from edge_agent.config import GatewayConfig
from edge_agent.sparkplug.encoder import SparkplugEncoder
from wire.json_v1 import BirthMessage, Counters, DeviceCounters, DeviceInfo, EnterpriseInfo, TagInfo
from wire.sparkplug import sparkplug_b_pb2 as pb

T0 = 1_764_403_200_000


def config(tmp_path: Path, *, uid: str = "t", port: int = 1883, primary_host: str | None = None,
           device_endpoint: str = "tcp://127.0.0.1:1") -> GatewayConfig:
    sparkplug: dict[str, Any] = {"group_id": f"plant-{uid}"}
    if primary_host is not None:
        sparkplug["primary_host_id"] = primary_host
    data = {
        "gateway": {"id": f"gw-{uid}", "enterprise": {"id": f"ent-{uid}", "industry": "food"}},
        "broker": {"host": "127.0.0.1", "port": port, "keepalive_s": 5},
        "buffer": {"path": str(tmp_path / "buf.sqlite"), "linger_ms": 100},
        "publish": {"encoding": "sparkplug", "sparkplug": sparkplug},
        "devices": [{"id": "meter-01", "profile": "energy_meter_3ph", "timeout_s": 0.5,
                     "endpoint": device_endpoint, "interval_ms": 200}],
    }
    return validate(GatewayConfig, data, "test")


def birth_message(*, next_seq: int, session: str = "sess-1") -> BirthMessage:
    return BirthMessage(
        enterprise="ent-t", gateway="gw-t", session=session, ts=T0, next_seq=next_seq,
        agent_version="0.1.0",
        enterprise_info=EnterpriseInfo(name="示范乳品", industry="food", district="赛罕区"),
        devices=[
            DeviceInfo(id="meter-01", profile="energy_meter_3ph", protocol="modbus", manufacturer="Acme",
                       model="EM-3", workshop="灌装车间", line="line-1", key_process=True,
                       tags=[TagInfo(name="voltage_l1", type="float32", unit="V", interval_ms=1000,
                                     description="phase 1 voltage"),
                             TagInfo(name="energy_total", type="uint32", unit="kWh", interval_ms=5000,
                                     report="change", heartbeat_ms=60000),
                             TagInfo(name="running", type="bool", interval_ms=1000),
                             TagInfo(name="state", type="String", interval_ms=1000)]),
            DeviceInfo(id="plc-02", profile="filler_plc", protocol="opcua",
                       tags=[TagInfo(name="speed", type="Double", unit="bpm", interval_ms=500)]),
        ],
    )


def encoder(tmp_path: Path, *, primary_host: str | None = None) -> SparkplugEncoder:
    return SparkplugEncoder(config(tmp_path, primary_host=primary_host), session="sess-1",
                            birth=lambda n: birth_message(next_seq=n))


SAMPLES: list[dict[str, Any]] = [
    {"d": "meter-01", "t": "voltage_l1", "ts": T0 + 1000, "rt": T0 + 1004, "v": 230.4, "q": "good"},
    {"d": "meter-01", "t": "energy_total", "ts": T0 + 1000, "rt": T0 + 1000, "v": 123456, "q": "good"},
    {"d": "meter-01", "t": "running", "ts": T0 + 1000, "rt": T0 + 1000, "v": True, "q": "good"},
    {"d": "meter-01", "t": "state", "ts": T0 + 1000, "rt": T0 + 1000, "v": "filling", "q": "uncertain",
     "c": 1083310080},
    {"d": "meter-01", "t": "voltage_l1", "ts": T0 + 2000, "rt": T0 + 2000, "v": None, "q": "bad",
     "c": -2, "r": "device offline: connection refused"},
]

COUNTERS = Counters(batches_published=41, devices={
    "meter-01": DeviceCounters(read=500, buffered=500, published=480, read_errors=3,
                               dropped={"buffer_full": 7}),
    "plc-02": DeviceCounters(read=9, buffered=9, published=9),
})


def batch(seq: int, samples: list[dict[str, Any]] | None = None,
          device: str | None = "meter-01") -> SealedBatch:
    rows = SAMPLES if samples is None else samples
    return SealedBatch(seq=seq, sealed_ms=T0 + 3000, n=len(rows), samples_json=json.dumps(rows),
                       device=device)


def payload(raw: bytes) -> pb.Payload:
    return pb.Payload.FromString(raw)


def ncmd_rebirth(*, alias: int | None = None, value: bool = True) -> bytes:
    p = pb.Payload(timestamp=T0)
    m = p.metrics.add(timestamp=T0, datatype=pb.Boolean)
    if alias is None:
        m.name = "Node Control/Rebirth"
    else:
        m.alias = alias
    m.boolean_value = value
    return p.SerializeToString()
