"""The consumer against the real broker and a fresh database: store, replay, reject, keep going."""

from __future__ import annotations

import gzip
import json

import psycopg
import pytest

from cloud_ingest import migrate
from tests.cloud_ingest.helpers import (
    T0,
    birth,
    cloud_config,
    data,
    encode,
    publisher,
    rows,
    running,
    scalar,
    wait_until,
)
from wire.json_v1 import DeathMessage, topic

pytestmark = pytest.mark.integration


def test_batches_stored_once_even_when_replayed(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    cfg = cloud_config(pg_dsn, broker, ent)
    stream = [encode(birth(ent, "gw1"))] + [encode(data(ent, "gw1", s, n=20)) for s in range(1, 11)]
    with running(cfg), publisher(broker, f"pub-{uid}") as pub:
        pub.publish(stream)
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 10, what="10 batches")
        pub.publish(stream[1:])  # the whole stream again, as a gateway replaying its buffer would
        pub.publish(stream[3:6])
        # a sentinel after the replay: once it is stored, the replay has been processed
        pub.publish([encode(data(ent, "gw1", 11, n=20))])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 11, what="sentinel")
    assert scalar(pg_dsn, "SELECT count(*) FROM samples") == 220
    assert scalar(pg_dsn, "SELECT count(*) FROM (SELECT DISTINCT tag, ts FROM v_samples) x") == 220
    assert [r[0] for r in rows(pg_dsn, "SELECT seq FROM v_batches WHERE enterprise = %s ORDER BY seq",
                                (ent,))] == list(range(1, 12))
    # values, all three timestamps and the batch's seq come through v_samples
    first = rows(pg_dsn, "SELECT enterprise, gateway, device, tag, extract(epoch FROM ts) * 1000,"
                         " extract(epoch FROM read_ts) * 1000, stored_ts IS NOT NULL, value, value_text,"
                         " quality, seq FROM v_samples ORDER BY ts LIMIT 2")
    assert first[0] == (ent, "gw1", "dev0", "power", T0, T0 + 5, True, 0.0, None, 0, 1)
    assert first[1][3] == "power" and first[1][2] == "dev1"
    text = rows(pg_dsn, "SELECT value, value_text FROM v_samples WHERE tag = 'state' ORDER BY ts LIMIT 1")
    assert text == [(None, "s2")]


def test_registry_sessions_and_counters(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    cfg = cloud_config(pg_dsn, broker, ent)
    death = DeathMessage(enterprise=ent, gateway="gw1", session="s1", ts=T0 + 99_000, reason="lost")
    with running(cfg), publisher(broker, f"pub-{uid}") as pub:
        pub.publish([encode(birth(ent, "gw1"))])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM tags") == 4, what="birth registered")
        # dev7 and its tag were never announced: registered from data, samples kept; the batch
        # comes gzipped and marked as backlog, as an agent with publish.compress sends it
        msg = data(ent, "gw1", 1, n=8, devices=8).model_copy(update={"historical": True})
        t, p = encode(msg)
        pub.publish([(t, gzip.compress(p)), (topic(ent, "gw1", "death"), death.model_dump_json().encode())])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM gateway_sessions WHERE died_at IS NOT NULL")
                   == 1, what="death")
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM samples") == 8, what="samples")
    ent_row = rows(pg_dsn, "SELECT name, industry, district, registered_by FROM enterprises")
    assert ent_row == [("Test Dairy", "food", "Saihan", "birth")]
    dev0 = rows(pg_dsn, "SELECT workshop, line, key_process, registered_by FROM devices WHERE code = 'dev0'")
    assert dev0 == [("Filling", "line-1", True, "birth")]
    assert rows(pg_dsn, "SELECT t.name, unit, data_type, interval_ms, report_mode, heartbeat_ms FROM tags t"
                        " JOIN devices d ON d.id = t.device_id WHERE d.code = 'dev0' ORDER BY 1") == [
        ("power", "kW", "float32", 1000, "all", None), ("state", None, "string", 5000, "change", 60_000)]
    assert rows(pg_dsn, "SELECT t.name, business_links FROM tags t JOIN devices d ON d.id = t.device_id"
                        " WHERE d.code = 'dev0' ORDER BY 1") == [("power", ["energy"]), ("state", [])]
    assert rows(pg_dsn, "SELECT seq, historical FROM v_batches") == [(1, True)]
    assert scalar(pg_dsn, "SELECT registered_by FROM devices WHERE code = 'dev7'") == "data"
    assert scalar(pg_dsn, "SELECT count(*) FROM v_samples WHERE device = 'dev7'") == 1
    sess = rows(pg_dsn, "SELECT session, next_seq, agent_version, death_reason FROM gateway_sessions")
    assert sess == [("s1", 1, "0.1.0", "lost")]
    # every counter the gateway reported, per device, plus the latest per gateway
    assert scalar(pg_dsn, "SELECT count(*) FROM device_counters") == 8
    assert rows(pg_dsn, "SELECT read, published, read_errors, dropped->>'buffer_full' FROM device_counters"
                        " dc JOIN devices d ON d.id = dc.device_id WHERE d.code = 'dev3'") == [(8, 1, 1, "2")]
    assert scalar(pg_dsn, "SELECT batches_published FROM gateway_counters_latest") == 1


def test_malformed_messages_go_to_dead_letters(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    cfg = cloud_config(pg_dsn, broker, ent)
    cfg = cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update={"max_message_bytes": 16_384})})
    t = topic(ent, "gw1", "data")
    good = json.loads(encode(data(ent, "gw1", 1))[1])
    bad = [
        (t, b"{this is not json"),
        (t, json.dumps({**good, "v": 7}).encode()),
        (t, json.dumps({**good, "seq": -1}).encode()),
        (t, b"[" + b"1," * 10_000 + b"1]"),
        (topic(ent, "gw1", "weird"), b"{}"),
        (topic(ent, "someone-else", "data"), json.dumps(good).encode()),
        (t, "\u00ff\u00fe".encode("latin-1")),
    ]
    with running(cfg), publisher(broker, f"pub-{uid}") as pub:
        pub.publish([*bad, encode(data(ent, "gw1", 1)), *bad[:2], encode(data(ent, "gw1", 2))])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 2, what="good batches")
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == len(bad) + 2,
                   what="dead letters")
    reasons = rows(pg_dsn, "SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY reason")
    assert dict(reasons) == {"bad_json": 3, "unknown_version": 2, "schema": 1, "oversized": 1,
                             "bad_topic": 1, "topic_mismatch": 1}
    payload, detail = rows(pg_dsn, "SELECT payload, detail FROM dead_letters WHERE reason = 'schema'")[0]
    assert bytes(payload) == json.dumps({**good, "seq": -1}).encode()
    assert "seq" in detail
    assert scalar(pg_dsn, "SELECT count(*) FROM samples") == 20


def test_poison_message_is_isolated(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    """Valid JSON the database cannot store (NUL in text) sinks alone; its group-mates are stored."""
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    cfg = cloud_config(pg_dsn, broker, ent)
    poison = json.loads(encode(data(ent, "gw1", 2))[1])
    poison["samples"][1]["v"] = "bad\u0000text"
    with running(cfg), publisher(broker, f"pub-{uid}") as pub:
        pub.publish([encode(data(ent, "gw1", 1)), (topic(ent, "gw1", "data"), json.dumps(poison).encode()),
                     encode(data(ent, "gw1", 3))])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 1, what="poison")
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 2, what="the others stored")
    reason, detail = rows(pg_dsn, "SELECT reason, detail FROM dead_letters")[0]
    assert reason == "db_rejected" and "0x00" in detail
    assert [r[0] for r in rows(pg_dsn, "SELECT seq FROM batches ORDER BY seq")] == [1, 3]


def test_system_errors_are_retried_not_dead_lettered(
    pg_dsn: str, broker: tuple[str, int], uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that does not match the service (here: a renamed column) is not the messages'
    fault: nothing is acknowledged or dead-lettered, and the batch is stored once it is fixed."""
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    cfg = cloud_config(pg_dsn, broker, ent)
    cfg = cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update={"retry_max_s": 0.5})})
    with running(cfg), publisher(broker, f"pub-{uid}") as pub:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE batches RENAME COLUMN historical TO historical_x")
        pub.publish([encode(data(ent, "gw1", 1))])
        wait_until(lambda: "UndefinedColumn" in caplog.text, what="the service retrying")
        assert scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 0
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE batches RENAME COLUMN historical_x TO historical")
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 1, what="stored after the fix")
    assert scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 0
    assert scalar(pg_dsn, "SELECT count(*) FROM samples") == 10


def test_blocks_are_stored_as_their_samples_once_and_a_bad_block_is_dead_lettered(
    pg_dsn: str, broker: tuple[str, int], uid: str
) -> None:
    """A gateway with ``publish.blocks`` sends a clean Modbus request as one block: every value
    is stored as a good sample of its own, next to the plain samples of the same message."""
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    cfg = cloud_config(pg_dsn, broker, ent)
    t = topic(ent, "gw1", "data")
    doc = json.loads(encode(data(ent, "gw1", 1, n=2))[1])  # dev0.power, dev1.power
    doc["samples"] += [
        {"d": "dev0", "ts": T0 + 10_000, "rt": T0 + 10_007, "values": {"power": 7.25, "state": "RUN"}},
        {"d": "dev1", "t": "state", "ts": T0 + 10_000, "rt": T0 + 10_007, "v": None, "q": "bad",
         "c": 2, "r": "exception 2"},
        {"d": "dev1", "ts": T0 + 11_000, "rt": T0 + 11_004, "values": {"power": 3, "on": True}},
    ]
    good = json.dumps(doc).encode()
    broken = json.loads(good)
    broken["seq"] = 2
    broken["samples"][2]["values"]["state"] = None  # a block holds good values only
    with running(cfg), publisher(broker, f"pub-{uid}") as pub:
        pub.publish([encode(birth(ent, "gw1")), (t, good), (t, json.dumps(broken).encode())])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 1, what="bad block")
        pub.publish([(t, good), (t, gzip.compress(good))])  # redelivered, as after a lost PUBACK
        pub.publish([encode(data(ent, "gw1", 3, n=2))])  # sentinel: the replay is behind it
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 2, what="sentinel")
    stored = rows(pg_dsn, "SELECT device, tag, extract(epoch FROM ts) * 1000 - %s,"
                          " extract(epoch FROM read_ts) * 1000 - %s, value, value_text, quality, code"
                          " FROM v_samples WHERE seq = 1 ORDER BY ts, device, tag", (T0, T0))
    assert stored == [
        ("dev0", "power", 0, 5, 0.0, None, 0, None),
        ("dev1", "power", 1000, 1005, 1.0, None, 0, None),
        ("dev0", "power", 10_000, 10_007, 7.25, None, 0, None),
        ("dev0", "state", 10_000, 10_007, None, "RUN", 0, None),
        ("dev1", "state", 10_000, 10_007, None, None, 2, 2),
        ("dev1", "on", 11_000, 11_004, 1.0, None, 0, None),
        ("dev1", "power", 11_000, 11_004, 3.0, None, 0, None),
    ]
    assert scalar(pg_dsn, "SELECT count(*) FROM samples") == 7 + 2
    # the device's unannounced tag in a block is registered from data, like a sample's
    assert scalar(pg_dsn, "SELECT registered_by FROM tags WHERE name = 'on'") == "data"
    reason, detail = rows(pg_dsn, "SELECT reason, detail FROM dead_letters")[0]
    assert reason == "schema" and "values" in detail and "state" in detail
