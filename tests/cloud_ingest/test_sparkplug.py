"""Sparkplug B from the agent's own encoder, through the real broker, stored like JSON batches.

The data arrives before the births (as after an ingest restart): the service asks the node for a
rebirth, holds the data unacknowledged, and stores it once the births came.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud_ingest import migrate
from common.config_files import validate
from edge_agent.buffer import SealedBatch
from edge_agent.config import GatewayConfig
from edge_agent.sparkplug.encoder import SparkplugEncoder
from tests.cloud_ingest.helpers import T0, cloud_config, publisher, rows, running, scalar, wait_until
from wire.json_v1 import BirthMessage, Counters, DeviceCounters, DeviceInfo, EnterpriseInfo, TagInfo

pytestmark = pytest.mark.integration


def _encoder(tmp_path: Path, *, group: str, ent: str, gw: str) -> SparkplugEncoder:
    gcfg = validate(GatewayConfig, {
        "gateway": {"id": gw, "enterprise": {"id": ent, "industry": "food"}},
        "buffer": {"path": str(tmp_path / "buf.sqlite")},
        "publish": {"encoding": "sparkplug", "sparkplug": {"group_id": group}},
        "devices": [{"id": "meter-01", "profile": "energy_meter_3ph", "endpoint": "tcp://127.0.0.1:1"}],
    }, "test")
    birth = BirthMessage(
        enterprise=ent, gateway=gw, session="sp-1", ts=T0, next_seq=1, agent_version="0.1.0",
        enterprise_info=EnterpriseInfo(name="Sparkplug Dairy", industry="food", district="Saihan"),
        devices=[DeviceInfo(id="meter-01", profile="energy_meter_3ph", protocol="modbus", workshop="Filling",
                            key_process=True,
                            tags=[TagInfo(name="power", type="float32", unit="kW", interval_ms=1000),
                                  TagInfo(name="state", type="String", interval_ms=1000)])],
    )
    return SparkplugEncoder(gcfg, session="sp-1", birth=lambda n: birth.model_copy(update={"next_seq": n}),
                            bdseq_path=tmp_path / "bdseq")


def _batch(seq: int) -> SealedBatch:
    samples = []
    for i in range(10):
        ts = T0 + (seq * 10 + i) * 1000
        samples.append({"d": "meter-01", "t": "power", "ts": ts, "rt": ts + 3, "v": float(seq * 10 + i),
                        "q": "good"})
    samples.append({"d": "meter-01", "t": "state", "ts": T0 + seq * 10_000, "rt": T0 + seq * 10_000,
                    "v": "filling", "q": "uncertain", "c": 7})
    return SealedBatch(seq=seq, sealed_ms=T0, n=len(samples), samples_json=json.dumps(samples),
                       device="meter-01")


def test_sparkplug_data_before_births(pg_dsn: str, broker: tuple[str, int], uid: str, tmp_path: Path) -> None:
    group, ent, gw = f"plant-{uid}", f"ent-{uid}", f"gw-{uid}"
    migrate.migrate(pg_dsn)
    enc = _encoder(tmp_path, group=group, ent=ent, gw=gw)
    births = [(o.topic, o.payload) for o in enc.births(next_seq=1)]
    counters = Counters(batches_published=3, devices={"meter-01": DeviceCounters(read=33, published=33)})
    ddata = [[(o.topic, o.payload) for o in enc.batch(_batch(s), counters=counters, historical=s == 1)]
             for s in (1, 2, 3)]
    # a JSON topic filter nobody publishes on: this test is about the Sparkplug subscriptions
    cfg = cloud_config(pg_dsn, broker, ent, sparkplug_group=group)

    rebirths: list[bytes] = []
    asked = threading.Event()
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ncmd-{uid}")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        rebirths.append(bytes(msg.payload))
        asked.set()

    watcher.on_message = on_message
    watcher.connect(*broker)
    watcher.subscribe(f"spBv1.0/{group}/NCMD/{gw}", qos=1)
    watcher.loop_start()
    try:
        with running(cfg), publisher(broker, f"pub-{uid}") as pub:
            pub.publish(ddata[0])
            assert asked.wait(20), "no rebirth request for data from an unknown node"
            assert scalar(pg_dsn, "SELECT count(*) FROM batches") == 0
            pub.publish(births)
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 1, what="held batch stored")
            pub.publish(ddata[1] + ddata[2] + ddata[1])  # with a redelivery
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 3, what="all batches")
            pub.publish(ddata[0])  # and a replay of the first
            pub.publish([(f"spBv1.0/{group}/DDATA/{gw}/meter-01", b"not protobuf")])
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 1, what="bad payload")
    finally:
        watcher.disconnect()
        watcher.loop_stop()
    assert rebirths
    assert scalar(pg_dsn, "SELECT count(*) FROM samples") == 33
    assert rows(pg_dsn, "SELECT seq, historical FROM v_batches ORDER BY seq") == [
        (1, True), (2, False), (3, False)]
    first = rows(pg_dsn, "SELECT enterprise, gateway, device, tag, value,"
                         " extract(epoch FROM read_ts - ts)::float8 FROM v_samples WHERE tag = 'power'"
                         " ORDER BY ts LIMIT 1")
    assert first == [(ent, gw, "meter-01", "power", 10.0, 0.003)]
    state = "SELECT value_text, quality, code FROM v_samples WHERE tag = 'state' ORDER BY ts LIMIT 1"
    assert rows(pg_dsn, state) == [("filling", 1, 7)]
    assert rows(pg_dsn, "SELECT name, district FROM enterprises") == [("Sparkplug Dairy", "Saihan")]
    devices = rows(pg_dsn, "SELECT workshop, key_process, registered_by FROM devices")
    assert devices == [("Filling", True, "birth")]
    assert scalar(pg_dsn, "SELECT unit FROM tags WHERE name = 'power'") == "kW"
    assert scalar(pg_dsn, "SELECT read FROM device_counters ORDER BY seq DESC LIMIT 1") == 33
    assert scalar(pg_dsn, "SELECT reason FROM dead_letters") == "sparkplug"
