"""End to end, as separate processes over real sockets: Modbus simulator → edge-agent →
Mosquitto → cloud-ingest → a fresh PostgreSQL database.

What the database holds must be exactly what the simulator served: every value one the
simulator put in its registers, in the declared encoding, timestamps ordered, the gateway's
batch sequence complete, and the row count equal to what the gateway counted as read —
nothing lost, nothing duplicated.
"""

from __future__ import annotations

import json
import math
import struct
from collections import defaultdict
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device_profiles.loader import resolve_profile
from device_profiles.modbus import ModbusTag
from edge_agent.buffer import DiskBuffer
from tests.e2e.harness import stack
from tests.support import BROKER_HOST, BROKER_PORT, free_port

pytestmark = pytest.mark.e2e

PROFILE = resolve_profile("energy_meter_3ph")


def _published(info: paho.MQTTMessageInfo) -> bool:
    info.wait_for_publish(5)
    return True
POLLS = 24


def served_values(record: Path) -> dict[tuple[int, str], set[float]]:
    """(port, tag) -> every engineering value the simulator served, from its --record log."""
    served: dict[tuple[int, str], set[float]] = defaultdict(set)
    for line in record.read_text().splitlines():
        entry = json.loads(line)
        for tag, value in entry["values"].items():
            served[(entry["port"], tag)].add(round(float(value), 6))
    return served


def in_declared_encoding(tag_name: str, value: float) -> bool:
    tag = next(t for t in PROFILE.tags if t.name == tag_name)
    assert isinstance(tag, ModbusTag)
    if tag.type == "float32":
        return struct.unpack(">f", struct.pack(">f", value))[0] == value
    raw = (value - tag.offset) / tag.scale
    return abs(raw - round(raw)) < 1e-6 and 0 <= round(raw) < 2**32


def test_modbus_to_database_nothing_lost_nothing_duplicated(tmp_path: Path, pg_dsn: str,
                                                            uid: str) -> None:
    ports = {"meter-a": free_port(), "meter-b": free_port()}
    record = tmp_path / "served.jsonl"
    with stack(tmp_path, uid=uid, dsn=pg_dsn) as s:
        s.simulator(*(f"energy_meter_3ph@{p}" for p in ports.values()), record=record)
        ingest = s.ingest(s.cloud_config())
        agent = s.agent(s.gateway_config([
            {"id": dev, "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{port}",
             "interval_ms": 250, "workshop": "灌装车间", "line": "L1", "key_process": True}
            for dev, port in ports.items()
        ]))

        def polls_stored() -> int:
            rows = s.query("SELECT device, tag, count(*) FROM v_samples WHERE gateway = %s "
                           "GROUP BY 1, 2", s.gateway)
            return min((int(r[2]) for r in rows), default=0) if len(rows) == 32 else 0

        s.wait(f"{POLLS} polls of every tag stored", lambda: polls_stored() >= POLLS, timeout=120)
        assert agent.terminate() == 0, s.logs()

        buf = DiskBuffer(tmp_path / "edge-buffer.sqlite", max_bytes=1 << 30)
        counters = buf.counters()
        assert buf.depth() == (0, 0), "a clean stop leaves nothing unsent"
        buf.close()
        read = {dev: counters.devices[dev].read for dev in ports}
        assert all(counters.devices[d].published == read[d] for d in ports)

        def stored() -> int:
            return int(s.query("SELECT count(*) FROM v_samples WHERE gateway = %s",
                               s.gateway)[0][0])

        s.wait("every published sample stored", lambda: stored() == sum(read.values()), timeout=60)
        ingest.terminate()

    rows = s.query("SELECT device, tag, ts, read_ts, stored_ts, value, quality, seq FROM v_samples "
                   "WHERE gateway = %s ORDER BY device, tag, seq, ts", s.gateway)
    # nothing lost: every sample the gateway read is a row
    per_device: defaultdict[str, int] = defaultdict(int)
    for r in rows:
        per_device[r[0]] += 1
    assert dict(per_device) == read
    # nothing duplicated
    assert len({(r[0], r[1], r[2]) for r in rows}) == len(rows)
    # the batch sequence is complete
    seqs = sorted({int(r[7]) for r in rows})
    assert seqs == list(range(1, seqs[-1] + 1))
    served = served_values(record)
    by_tag: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        by_tag[(str(r[0]), str(r[1]))].append(r)
    assert len(by_tag) == 32
    for (dev, tag), series in by_tag.items():
        ts = [r[2] for r in series]
        assert ts == sorted(ts) and len(set(ts)) == len(ts), f"{dev}.{tag}: timestamps out of order"
        for r in series:
            value = float(r[5])
            assert r[6] == 0, f"{dev}.{tag}: quality {r[6]}"
            assert r[2] <= r[4] and r[3] <= r[4], "stored before it was read"
            assert in_declared_encoding(tag, value), f"{dev}.{tag}={value!r} not in its encoding"
            assert round(value, 6) in served[(ports[dev], tag)], (
                f"{dev}.{tag}={value!r} was never served by the simulator")
    for dev in ports:
        volts = {float(r[5]) for r in by_tag[(dev, "voltage_l1")]}
        assert len(volts) > POLLS // 2, "simulated values should move over time"
        energy = [float(r[5]) for r in by_tag[(dev, "energy_import")]]
        assert energy == sorted(energy) and math.isfinite(energy[-1]), "the energy counter only grows"


def test_malformed_messages_go_to_dead_letters(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    base = f"shopfloor/v1/ent-{uid}/gw-{uid}"
    good = {"v": 1, "type": "data", "enterprise": f"ent-{uid}", "gateway": f"gw-{uid}",
            "session": "s1", "seq": 1, "sent": 1_764_000_000_000,
            "samples": [{"d": "m1", "t": "x", "ts": 1_764_000_000_000, "rt": 1_764_000_000_001,
                         "v": 1.5, "q": "good"}]}
    bad: list[tuple[str, bytes, str]] = [
        (f"{base}/data", b"{not json", "json"),
        (f"{base}/data", json.dumps({**good, "v": 9}).encode(), "version"),
        (f"{base}/data", json.dumps({**good, "seq": 0}).encode(), "seq"),
        (f"{base}/data", json.dumps({**good, "samples": [{"d": "m1"}]}).encode(), "samples"),
        (f"{base}/data", json.dumps({**good, "samples": []}).encode(), "samples"),
        (f"{base}/data", json.dumps({**good, "gateway": "someone-else"}).encode(), "topic"),
        (f"{base}/data", b"\x00\xff\xfe binary", "json"),
    ]
    with stack(tmp_path, uid=uid, dsn=pg_dsn) as s:
        s.ingest(s.cloud_config())
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bad-{uid}")
        client.connect(BROKER_HOST, BROKER_PORT)
        client.loop_start()
        try:
            # keep sending a good batch until it lands: then the consumer is surely subscribed
            s.wait("a good batch stored", lambda: (
                _published(client.publish(f"{base}/data", json.dumps(good), qos=1))
            ) and s.query("SELECT count(*) FROM v_samples WHERE gateway = %s", f"gw-{uid}")[0][0] == 1,
                timeout=60)
            for t, payload, _ in bad:
                client.publish(t, payload, qos=1).wait_for_publish(5)
            client.publish(f"{base}/data", json.dumps({**good, "seq": 2}), qos=1).wait_for_publish(5)
            s.wait("dead letters written", lambda: s.query(
                "SELECT count(*) FROM dead_letters WHERE topic LIKE %s", f"{base}/%")[0][0] >= len(bad))
            s.wait("the consumer kept going", lambda: s.query(
                "SELECT count(*) FROM v_samples WHERE gateway = %s", f"gw-{uid}")[0][0] == 2)
        finally:
            client.loop_stop()
            client.disconnect()
    letters = s.query("SELECT reason || ': ' || coalesce(detail, ''), payload FROM dead_letters "
                      "WHERE topic LIKE %s ORDER BY id",
                      f"{base}/%")
    assert len(letters) == len(bad)
    # several writers may store them in any order: match each by its exact payload
    reasons = {bytes(payload): str(reason) for reason, payload in letters}
    for _, sent, word in bad:
        assert sent in reasons, f"payload {sent!r} is not in dead_letters as sent"
        assert word in reasons[sent].lower(), f"reason {reasons[sent]!r} should mention {word!r}"
