"""What the evidence needs from the write path: the reason of a sample that is not good, samples
per device per batch, the newest read time per batch, the skipped-polls counter, and every birth
and death as an event (a session born again after a reconnect keeps its history)."""

from __future__ import annotations

import psycopg
import pytest

from cloud_ingest import migrate, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from tests.cloud_ingest.helpers import T0, rows
from wire.json_v1 import BirthMessage, Counters, DeathMessage, DeviceCounters, DeviceInfo, TagInfo

pytestmark = pytest.mark.integration


def test_reasons_device_counts_read_times_and_skipped_polls(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn)
    samples: list[dict[str, object]] = [
        {"d": "m1", "t": "a", "ts": T0, "rt": T0 + 5, "v": 1.5},
        {"d": "m1", "t": "b", "ts": T0, "rt": T0 + 9, "v": None, "q": "bad", "r": "device offline: refused"},
        {"d": "m2", "t": "a", "ts": T0 + 1, "rt": T0 + 40, "v": 2.0, "q": "uncertain", "r": "sensor drift"},
        {
            "d": "m2",
            "t": "a",
            "ts": T0 + 2,
            "rt": T0 + 41,
            "v": 3.0,
            "r": "ignored: good samples keep no reason",
        },
    ]
    counters = Counters(
        batches_published=1,
        devices={"m1": DeviceCounters(read=4, published=2, skipped_polls=3), "m2": DeviceCounters(read=2)},
    )
    msg = DataBatch("ent", "gw", "s", 1, T0 + 50, samples, counters)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        writer.write(
            conn,
            [writer.Inbound(msg, T0 + 60)],
            registry=Registry(),
            partitions=Partitions(flavor=flavor_of(conn)),
        )
    assert rows(pg_dsn, "SELECT tag, quality, reason FROM v_samples ORDER BY device, tag, ts") == [
        ("a", 0, None),
        ("b", 2, "device offline: refused"),
        ("a", 1, "sensor drift"),
        ("a", 0, None),
    ]
    assert rows(
        pg_dsn, "SELECT d.code, b.n FROM batch_devices b JOIN devices d ON d.id = b.device_id ORDER BY 1"
    ) == [("m1", 2), ("m2", 2)]
    assert rows(pg_dsn, "SELECT (extract(epoch FROM max_rt) * 1000)::int8 FROM batches") == [(T0 + 41,)]
    assert rows(
        pg_dsn,
        "SELECT d.code, c.skipped_polls FROM device_counters c JOIN devices d ON d.id = c.device_id"
        " ORDER BY 1",
    ) == [("m1", 3), ("m2", 0)]


def test_every_birth_and_death_is_kept(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn)
    reg = Registry()
    dev = DeviceInfo(
        id="m1", profile="p", protocol="modbus", tags=[TagInfo(name="a", type="f", interval_ms=1000)]
    )
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for i in range(2):  # the same session, born again after a reconnect
            b = BirthMessage(
                enterprise="ent",
                gateway="gw",
                session="s",
                ts=T0 + 1000 * i,
                next_seq=1,
                agent_version="t",
                devices=[dev],
            )
            reg.apply_birth(conn, b, received_ms=T0 + 1000 * i + 5)
            reg.apply_birth(conn, b, received_ms=T0 + 1000 * i + 7)  # redelivered: the same event
            d = DeathMessage(enterprise="ent", gateway="gw", session="s", ts=T0 + 1000 * i - 1)
            reg.apply_death(conn, d, received_ms=T0 + 1000 * i + 500)
    assert rows(
        pg_dsn,
        "SELECT kind, (extract(epoch FROM received_at) * 1000)::int8 FROM gateway_events"
        " ORDER BY received_at",
    ) == [("birth", T0 + 5), ("death", T0 + 500), ("birth", T0 + 1005), ("death", T0 + 1500)]


def test_migration_011_fills_the_new_tables_from_what_was_stored_before(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn, target=10)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO enterprises (code) VALUES ('e')")
        conn.execute("INSERT INTO gateways (enterprise_id, code) VALUES (1, 'g')")
        conn.execute("INSERT INTO devices (enterprise_id, gateway_id, code) VALUES (1, 1, 'd')")
        conn.execute("INSERT INTO tags (device_id, name) VALUES (1, 't')")
        conn.execute("SELECT sfg_ensure_day_partition('2026-01-01')")
        conn.execute(
            "INSERT INTO samples (tag_id, ts, read_ts, value, quality, gateway_id, seq)"
            " SELECT 1, '2026-01-01'::timestamptz + i * interval '1 s', now(), i, 0, 1, 1 + i / 5"
            " FROM generate_series(0, 9) i"
        )
        conn.execute(
            "INSERT INTO gateway_sessions (gateway_id, session, born_at, birth_received_at)"
            " VALUES (1, 's', now(), now())"
        )
    migrate.migrate(pg_dsn)
    assert rows(pg_dsn, "SELECT seq, n FROM batch_devices ORDER BY seq") == [(1, 5), (2, 5)]
    assert rows(pg_dsn, "SELECT kind FROM gateway_events") == [("birth",)]


def test_a_bad_stretch_is_given_the_reason_of_its_earliest_sample(pg_dsn: str) -> None:
    from cloud_ingest.evidence.queries_states import bad_reasons

    migrate.migrate(pg_dsn)
    # tag "z" (stored first, the lowest id) goes bad later than tag "a": the stretch's reason is
    # a's, the earliest, whatever order the rows were stored or read in
    samples: list[dict[str, object]] = [
        {"d": "m1", "t": "z", "ts": T0 + 30, "rt": T0 + 30, "v": None, "q": "bad", "r": "exception code 2"},
        {"d": "m1", "t": "a", "ts": T0 + 10, "rt": T0 + 10, "v": None, "q": "bad",
         "r": "device offline: timeout"},
        {"d": "m1", "t": "a", "ts": T0 + 40, "rt": T0 + 40, "v": None, "q": "bad", "r": "exception code 4"},
    ]
    msg = DataBatch("ent", "gw", "s", 1, T0 + 50, samples,
                    Counters(batches_published=1, devices={"m1": DeviceCounters(read=3)}))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        writer.write(conn, [writer.Inbound(msg, T0 + 60)], registry=Registry(),
                     partitions=Partitions(flavor=flavor_of(conn)))
        device = rows(pg_dsn, "SELECT id FROM devices WHERE code = 'm1'")[0][0]
        got = bad_reasons(conn, [(device, T0, T0 + 100), (device, T0 + 20, T0 + 100),
                                 (device, T0 + 41, T0 + 100)])
    assert got == {
        (device, T0, T0 + 100): (True, "device offline: timeout"),
        (device, T0 + 20, T0 + 100): (False, "exception code 2"),
        (device, T0 + 41, T0 + 100): (True, None),  # no bad sample there: nothing known
    }
