"""The cloud as a Sparkplug B 3.0 host for an edge node that is not ours.

The node is tests/interop/sparkplug/edge_node.js, a separate Node.js process encoding with
Eclipse Tahu's sparkplug-payload and publishing through the real broker; the service runs
with nothing but ``mqtt.sparkplug_group`` (and a primary host id), so the group id is the
enterprise and the edge node id the gateway. Every datatype must come out exactly.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud_ingest import migrate, service
from cloud_ingest.config import CloudConfig, SparkplugHostConfig
from tests.cloud_ingest.helpers import cloud_config, rows, running, scalar, wait_until
from tests.cloud_ingest.sparkplug.node import EdgeNode, node_exe

pytestmark = pytest.mark.integration

T0 = 1764403200000  # edge_node.js's clock: every metric timestamp is T0 + 1000 * step
F32 = struct.unpack("<f", struct.pack("<f", 3.14))[0]  # a Float is the float32 it was


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expected(step: int) -> dict[str, tuple[object, object, object, int]]:
    """metric -> (value, value_exact, value_text, quality) as stored, worked out from what
    edge_node.js sends, not from our decoder."""
    k = step
    dataset = {"columns": ["batch", "weight", "ok"], "types": ["Int32", "Double", "Boolean"],
               "rows": [[1, 12.5, True], [2, 12.25, False]]}
    motor = {"template_ref": "MotorType", "version": "1", "parameters": {"ratedKw": 7.5},
             "metrics": {"Speed": 1450.5, "Running": True}}
    i64 = 2**63 - 1 if k else -(2**63)
    u64 = 4632251081920692269 if k else 2**64 - 1
    return {
        "Int8": (127.0 if k else -128.0, None, None, 0),
        "Int16": (32767.0 if k else -32768.0, None, None, 0),
        "Int32": (2147483647.0 if k else -2147483648.0, None, None, 0),
        "Int64": (float(i64), i64, None, 0),
        "UInt8": (255.0, None, None, 0),
        "UInt16": (65535.0, None, None, 0),
        "UInt32": (4294967295.0, None, None, 0),
        "UInt64": (float(u64), u64, None, 0),
        "Energy/Total": (float(123456789 + k), None, None, 0),
        "Float": (F32, None, None, 0),
        "Double": (2.718281828459045 + k, None, None, 0),
        "Boolean": (1.0 if k % 2 == 0 else 0.0, None, None, 0),
        "String": (None, None, "LINE-01 ", 0),
        "DateTime": (None, None, iso(T0 + 123), 0),
        "Text": (None, None, "灌装线\n第二行", 0),
        "UUID": (None, None, "4a2f6c1e-9b3d-4e8a-a1f0-2c7d5e9b0a13", 0),
        "Bytes": (None, None, base64.b64encode(bytes([0, 1, 2, 255])).decode(), 0),
        "File": (None, None, base64.b64encode(b"a,b\n1,2\n").decode(), 0),
        "DataSet": (None, None, dataset, 0),
        "Motor": (None, None, motor, 0),
        "Null Reading": (None, None, None, 2),
        "Stale Reading": (42.0, None, None, 2),
        "Good Reading": (7.0, None, None, 0),
    }


def stored(dsn: str, device: str, ts: int) -> dict[str, tuple[Any, int | None, Any, int]]:
    got: dict[str, tuple[Any, int | None, Any, int]] = {}
    for tag, value, exact, text, quality in rows(
            dsn, "SELECT tag, value, value_exact, value_text, quality FROM v_samples WHERE device = %s"
                 " AND ts = to_timestamp(%s / 1000.0)", (device, ts)):
        if tag in ("DataSet", "Motor"):
            text = json.loads(text)
        got[tag] = (value, None if exact is None else int(exact), text, quality)
    return got


def host_config(dsn: str, broker: tuple[str, int], group: str, **sparkplug: object) -> CloudConfig:
    cfg = cloud_config(dsn, broker, "none", sparkplug_group=group)
    return cfg.model_copy(update={"sparkplug": SparkplugHostConfig.model_validate(sparkplug)})


class Retained:
    """The retained message on one topic, as a late subscriber sees it."""

    def __init__(self, broker: tuple[str, int], topic: str) -> None:
        self.got: list[bytes] = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.c.on_message = lambda _c, _u, m: self.got.append(bytes(m.payload))
        self.c.connect(*broker)
        self.c.subscribe(topic, qos=1)
        self.c.loop_start()

    def last(self) -> dict[str, object] | None:
        return json.loads(self.got[-1]) if self.got else None

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_a_tahu_edge_node_is_stored_exactly(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    node_js = node_exe()
    group, name, host = f"plant-{uid}", f"edge-{uid}", f"ingest-{uid}"
    migrate.migrate(pg_dsn)
    cfg = host_config(pg_dsn, broker, group, host_id=host)
    state = Retained(broker, f"spBv1.0/STATE/{host}")
    node = None
    try:
        with running(cfg):
            wait_until(lambda: (state.last() or {}).get("online") is True, what="our STATE online")
            node = EdgeNode(node_js, broker=broker, group=group, name=name, devices=["dev-a", "dev-b"])
            node.wait(lambda e: e["event"] == "published" and "/DBIRTH/" in e["topic"], "births", n=2)
            node.send("data 1", publishes=2)      # by alias, without datatypes
            node.send("data 2", publishes=2)      # by alias, with datatypes
            node.send("repeat", publishes=1)      # dev-b's step 2 again, QoS 1: stored once
            node.send("ndata 3", publishes=1)     # node-level metric
            node.send("ddeath dev-b", publishes=1)
            node.stop()                           # NDEATH with the NBIRTH's bdSeq
            # 1 NBIRTH + 2 DBIRTH + 4 DDATA + 1 NDATA + 1 DDEATH with values, 1 NDEATH
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 9
                       and scalar(pg_dsn, "SELECT count(*) FROM gateway_sessions WHERE died_at IS NOT NULL")
                       == 1, what="every message of the node stored")
        wait_until(lambda: (state.last() or {}).get("online") is False, what="our STATE offline on stop")
    finally:
        state.close()
        if node is not None:
            node.kill()
    assert rows(pg_dsn, "SELECT e.code, g.code, g.agent_version FROM gateways g"
                        " JOIN enterprises e ON e.id = g.enterprise_id") == [
        (group, name, "Sparkplug B edge node")]
    for device in ("dev-a", "dev-b"):
        assert stored(pg_dsn, device, T0) == {
            k: v for k, v in expected(0).items() if k != "Null Reading"}  # births' values; null: definition
        assert stored(pg_dsn, device, T0 + 1000) == expected(1)
        assert stored(pg_dsn, device, T0 + 2000) == expected(2)
    assert scalar(pg_dsn, "SELECT count(*) FROM v_samples WHERE tag = 'Scratch'") == 0  # transient
    assert stored(pg_dsn, name, T0 + 3000) == {"Node Info/Uptime": (3.0, None, None, 0)}
    assert stored(pg_dsn, name, T0)["Node Info/Firmware"] == (None, None, "tahu-js 1.0.3", 0)
    death = rows(pg_dsn, "SELECT DISTINCT quality, value, value_text FROM v_samples WHERE device = 'dev-b'"
                         " AND ts = to_timestamp(%s / 1000.0)", (T0 + 60000,))
    assert death == [(2, None, None)]  # DDEATH: every metric of the device bad, no value
    # one per metric of the birth, not for Scratch: transient metrics are not stored at all
    assert scalar(pg_dsn, "SELECT count(*) FROM v_samples WHERE device = 'dev-b' AND ts = "
                          "to_timestamp(%s / 1000.0)", (T0 + 60000,)) == len(expected(0))
    tags = dict(rows(pg_dsn, "SELECT t.name, t.data_type || coalesce(' ' || t.unit, '') FROM tags t"
                             " JOIN devices d ON d.id = t.device_id WHERE d.code = 'dev-a'"))
    assert tags["Energy/Total"] == "UInt64 kWh" and tags["Motor"] == "Template" and tags["Int8"] == "Int8"
    assert scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 0
    assert scalar(pg_dsn, "SELECT death_reason FROM gateway_sessions") == "lost"


def test_a_node_seen_before_our_start_is_asked_to_rebirth(
        pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    node_js = node_exe()
    group, name = f"plant-{uid}", f"edge-{uid}"
    migrate.migrate(pg_dsn)
    node = EdgeNode(node_js, broker=broker, group=group, name=name, devices=["dev-a"])
    try:
        node.wait(lambda e: e["event"] == "published" and "/DBIRTH/" in e["topic"], "births nobody saw")
        with running(host_config(pg_dsn, broker, group, rebirth_every_s=1)):
            node.send("data 1", publishes=1)
            node.wait(lambda e: e["event"] == "ncmd" and e["rebirth"], "a rebirth request")
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM v_samples WHERE ts = "
                                              "to_timestamp(%s / 1000.0)", (T0 + 1000,)) == len(expected(1)),
                       what="the held DDATA stored after the rebirth")
            node.send("births", publishes=2)  # a rebirth again: its values are stored already
            node.send("data 2", publishes=1)
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM v_samples WHERE ts = "
                                              "to_timestamp(%s / 1000.0)", (T0 + 2000,)) == len(expected(2)),
                       what="data after the second rebirth")
    finally:
        node.kill()
    assert stored(pg_dsn, "dev-a", T0 + 1000) == expected(1)
    births_stored = scalar(pg_dsn, "SELECT count(*) FROM v_samples WHERE device = 'dev-a' AND ts ="
                                   " to_timestamp(%s / 1000.0)", (T0,))
    assert births_stored == len(expected(0)) - 1  # once, though three births carried them
    assert scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 0


def test_a_node_that_never_answers_does_not_pin_the_consumer(
        pg_dsn: str, broker: tuple[str, int], uid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from cloud_ingest import worker_status
    from cloud_ingest.cli import main as cli_main

    monkeypatch.setattr(worker_status, "STATUS_EVERY_S", 0.2)
    node_js = node_exe()
    group, name = f"plant-{uid}", f"mute-{uid}"
    migrate.migrate(pg_dsn)
    cfg = host_config(pg_dsn, broker, group, hold_s=6, hold_per_node=3, rebirth_every_s=0.5)
    node = EdgeNode(node_js, broker=broker, group=group, name=name, devices=["dev-a"], births=False,
                    answer_rebirth=False)
    try:
        with running(cfg):
            for step in range(1, 6):
                node.send(f"data {step}", publishes=1)
            # three held, two over the per-node cap: dead letters at once
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 2, what="over the cap")
            wait_until(lambda: scalar(pg_dsn, "SELECT (stats->>'sparkplug_held')::int FROM ingest_workers")
                       == 3, what="held count reported")
            status = CliRunner().invoke(cli_main, ["status", "--dsn", pg_dsn])
            assert status.exit_code == 0, status.output
            assert "held for births: 3 条 messages, 1 个节点 nodes" in status.output
            assert "sparkplug_needs_birth 2" in status.output
            # the time limit: the held three become dead letters too, with the reason
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 5, timeout=20,
                       what="held messages expired")
            assert node.rebirth_requests() >= 2  # asked again while its data waited
            node.send("data 6", publishes=1)
            node.send("data 7", publishes=1)
            wait_until(lambda: scalar(pg_dsn, "SELECT (stats->>'sparkplug_held')::int FROM ingest_workers")
                       == 2, what="two held again")
            stopping = time.monotonic()
        # a prompt clean stop: held messages no longer keep the drain waiting for its limit
        assert time.monotonic() - stopping < service.DRAIN_MAX_S
    finally:
        node.kill()
    reasons = rows(pg_dsn, "SELECT reason, detail, enterprise, gateway FROM dead_letters ORDER BY id")
    assert [r[0] for r in reasons] == ["sparkplug_needs_birth"] * 7
    assert all((r[2], r[3]) == (group, name) for r in reasons)
    assert sum("hold_per_node=3" in r[1] for r in reasons) == 2
    assert sum("within sparkplug.hold_s=6 s" in r[1] for r in reasons) == 3
    assert sum("the service stopped" in r[1] for r in reasons) == 2  # clean session: kept as dead letters
    final = scalar(pg_dsn, "SELECT stats FROM ingest_workers")
    assert (final["sparkplug_held"], final["sparkplug_held_expired"], final["sparkplug_held_overflowed"]) == (
        0, 3, 2)
    assert scalar(pg_dsn, "SELECT stopped_at IS NOT NULL FROM ingest_workers")
    assert scalar(pg_dsn, "SELECT count(*) FROM batches") == 0
