"""Storage behaviour: late backlog lands in old partitions; rollups match the raw samples."""

from __future__ import annotations

import time

import pytest

from cloud_ingest import migrate
from tests.cloud_ingest.helpers import (
    cloud_config,
    data,
    encode,
    publisher,
    rows,
    running,
    scalar,
    wait_until,
)

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000


def test_late_backlog_lands_in_old_partitions(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    now_day = time.time_ns() // 1_000_000 // DAY_MS * DAY_MS
    old = now_day - 40 * DAY_MS          # no partition was made for it ahead of time
    older = now_day - 400 * DAY_MS
    before = scalar(pg_dsn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'samples'::regclass")
    cfg = cloud_config(pg_dsn, broker, ent)
    with running(cfg), publisher(broker, f"pub-{uid}") as pub:
        pub.publish([encode(data(ent, "gw1", 1, t0=now_day + 3_600_000)),
                     encode(data(ent, "gw1", 2, t0=old)),
                     # one batch straddling midnight of an old day: two partitions at once
                     encode(data(ent, "gw1", 3, t0=older - 25_000, n=10, step_ms=1000))])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 3, what="3 batches")
    assert scalar(pg_dsn, "SELECT count(*) FROM v_samples") == 30
    # one new partition (plain) or chunk (TimescaleDB) per day that had none: the two old days
    # and the day across the old midnight; today's too on TimescaleDB, which makes no chunk
    # ahead of time (plain PostgreSQL made today's partition at migrate)
    plain = scalar(pg_dsn, "SELECT flavor FROM schema_version WHERE version = 1") == "plain"
    after = scalar(pg_dsn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'samples'::regclass")
    assert after == before + (3 if plain else 4)
    if not plain:
        return
    per_part = dict(rows(pg_dsn, "SELECT tableoid::regclass::text, count(*) FROM samples GROUP BY 1"))
    old_name = time.strftime("samples_%Y%m%d", time.gmtime(old / 1000))
    assert per_part[old_name] == 10
    older_day = time.strftime("samples_%Y%m%d", time.gmtime(older / 1000))
    prev_day = time.strftime("samples_%Y%m%d", time.gmtime((older - DAY_MS) / 1000))
    assert per_part[prev_day] + per_part[older_day] == 10 and per_part[prev_day] > 0


def test_rollups_match_raw_samples_and_survive_replay(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    cfg = cloud_config(pg_dsn, broker, ent)
    # 12 batches x 50 samples, one sample per second: 10 minutes over two hours' boundary
    stream = [encode(data(ent, "gw1", s, n=50, t0=1_767_229_000_000)) for s in range(1, 13)]
    raw_1m = ("SELECT device, tag, date_trunc('minute', ts AT TIME ZONE 'UTC'), count(*), sum(value),"
              " min(value), max(value) FROM v_samples GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
    roll_1m = ("SELECT d.code, t.name, r.bucket AT TIME ZONE 'UTC', r.n, r.sum, r.min, r.max"
               " FROM samples_1m r JOIN tags t ON t.id = r.tag_id JOIN devices d ON d.id = t.device_id"
               " ORDER BY 1, 2, 3")
    with running(cfg), publisher(broker, f"pub-{uid}") as pub:
        pub.publish(stream)
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches WHERE rolled_up") == 12,
                   what="rollups caught up")
        pub.publish(stream[2:5])  # replayed: must not count twice
        pub.publish([encode(data(ent, "gw1", 13, n=50, t0=1_767_229_000_000))])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches WHERE rolled_up") == 13,
                   what="rollups caught up again")
    expected = rows(pg_dsn, raw_1m)
    assert len(expected) > 20
    assert rows(pg_dsn, roll_1m) == expected
    assert scalar(pg_dsn, "SELECT sum(n) FROM samples_1m") == 650
    hours = rows(pg_dsn, "SELECT bucket, sum(n) FROM samples_1h GROUP BY 1 ORDER BY 1")
    assert [h[1] for h in hours] == [
        scalar(pg_dsn, "SELECT count(*) FROM samples WHERE date_trunc('hour', ts) = %s", (h[0],))
        for h in hours
    ]
    assert len(hours) == 2
