"""The stored time of a batch is when its rows were all written (just before the commit), not
when the transaction began: a slow COPY must not make read → stored latency look shorter."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from cloud_ingest import migrate, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from tests.cloud_ingest.helpers import T0, rows

pytestmark = pytest.mark.integration


def test_stored_at_is_after_the_rows_were_written(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate.migrate(pg_dsn)
    seen: dict[str, Any] = {}
    real = writer._copy_samples

    def slow_copy(cur: psycopg.Cursor, todo: Any) -> int:
        cur.execute("SELECT now(), pg_sleep(0.2)")  # the transaction's start, then a slow write
        seen["begun"] = cur.fetchone()[0]  # type: ignore[index]
        n = real(cur, todo)
        cur.execute("SELECT clock_timestamp()")
        seen["written"] = cur.fetchone()[0]  # type: ignore[index]
        return n

    monkeypatch.setattr(writer, "_copy_samples", slow_copy)
    msg = DataBatch("ent", "gw", "s", 1, T0 + 50, [{"d": "m1", "t": "a", "ts": T0, "rt": T0, "v": 1.5}], None)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        writer.write(conn, [writer.Inbound(msg, T0 + 60)], registry=Registry(),
                     partitions=Partitions(flavor=flavor_of(conn)))
    [(stored,)] = rows(pg_dsn, "SELECT stored_at FROM batches")
    assert stored >= seen["written"] > seen["begun"]
