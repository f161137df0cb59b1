"""The warmer against a real database: a closed window's kept figures are called fresh again
while nothing they read has arrived, and computed again after a late batch into the window (a
batch of now's data does not count for a window of closed days)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from cloud_ingest import rollups, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from cloud_ingest.web import figures, warm
from cloud_ingest.web.queries.changes import changed_since
from cloud_ingest.web.windows import Window
from tests.cloud_ingest.helpers import T0, data
from tests.cloud_ingest.web.pages import fill

pytestmark = pytest.mark.integration

WINDOW = Window("custom", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 2, tzinfo=UTC))


def store(dsn: str, seq: int, *, t0: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)
        writer.write(conn, [writer.Inbound(DataBatch.of(data("ent-a", "gw1", seq, n=4, t0=t0)), t0)],
                     registry=Registry(), partitions=Partitions(flavor=flavor))
        while rollups.roll_up_pending(conn, flavor=flavor):
            pass


def test_only_data_into_the_window_changes_a_closed_windows_figures(pg_dsn: str) -> None:
    fill(pg_dsn)
    since = datetime.now(UTC) - timedelta(seconds=1)
    with psycopg.connect(pg_dsn, autocommit=True, row_factory=dict_row) as db:
        assert not changed_since(db, "ent-a", since=since, window_end=WINDOW.end), "nothing stored since"
        store(pg_dsn, 7, t0=int(time.time() * 1000))
        assert not changed_since(db, "ent-a", since=since, window_end=WINDOW.end), \
            "today's data is not in a window of closed days"
        store(pg_dsn, 8, t0=T0 + 600_000)
        assert changed_since(db, "ent-a", since=since, window_end=WINDOW.end), "a late batch into the window"
        assert not changed_since(db, "ent-b", since=since, window_end=WINDOW.end), "another enterprise's"
        assert changed_since(db, "no-such", since=since, window_end=WINDOW.end)


def test_the_warmer_keeps_a_closed_window_until_late_data_arrives(pg_dsn: str) -> None:
    fill(pg_dsn)
    cache = figures.FiguresCache()
    warmer = warm.Warmer(lambda: None, cache=cache)  # type: ignore[arg-type,return-value]
    key = cache.key("ent-a", WINDOW)
    with psycopg.connect(pg_dsn, autocommit=True, row_factory=dict_row) as db:
        warmer._compute(db, "ent-a", WINDOW)
        first = cache.get(key)
        assert first is not None and first["window"]["start"] == "2026-01-01T00:00:00.000Z"
        assert warmer._unchanged(db, "ent-a", WINDOW), "nothing new: kept as it is"
        assert cache.get(key) is first
        store(pg_dsn, 9, t0=T0 + 1_200_000)
        assert not warmer._unchanged(db, "ent-a", WINDOW), "late data: computed again"
        warmer._compute(db, "ent-a", WINDOW)
        again = cache.get(key)
        assert again is not None and again is not first
        assert {**again, "generated_at": ""} != {**first, "generated_at": ""}, "the late samples counted"
        today = Window("custom", datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC))
        warmer._compute(db, "ent-a", today)
        assert not warmer._unchanged(db, "ent-a", today), "a window not yet closed is always computed"
