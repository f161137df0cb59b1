"""The hand-packed COPY rows round-trip every kind of value through a real database."""

from __future__ import annotations

import psycopg
import pytest

from cloud_ingest import migrate, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from tests.cloud_ingest.helpers import T0, rows

pytestmark = pytest.mark.integration

OPCUA_BAD = 0x80340000  # BadNodeIdUnknown: above int4


def _batch(seq: int, samples: list[dict[str, object]]) -> writer.Inbound:
    return writer.Inbound(DataBatch("ent", "gw", "s", seq, T0, samples), T0)


def test_values_round_trip(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn)
    samples: list[dict[str, object]] = [
        {"d": "dev", "t": "float", "ts": T0, "rt": T0 + 4, "v": 230.25},
        {"d": "dev", "t": "int", "ts": T0, "rt": T0, "v": -7, "q": "good"},
        {"d": "dev", "t": "bool", "ts": T0, "rt": T0, "v": True, "q": "uncertain", "c": 1083310080},
        {"d": "dev", "t": "text", "ts": T0, "rt": T0, "v": "灌装 filling ✓"},
        {"d": "dev", "t": "bad", "ts": T0, "rt": T0, "v": None, "q": "bad", "c": OPCUA_BAD,
         "r": "unknown node"},
        {"d": "dev", "t": "float", "ts": T0 + 1, "rt": T0 + 1, "v": 1e300},
        {"d": "dev", "t": "old", "ts": 0, "rt": 5, "v": 0},  # 1970: before the timestamptz epoch
    ]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        res = writer.write(conn, [_batch(1, samples)], registry=Registry(),
                           partitions=Partitions(flavor=flavor_of(conn)))
    assert (res.batches, res.rows) == (1, 7)
    got = rows(pg_dsn, "SELECT tag, (extract(epoch FROM ts) * 1000)::bigint,"
                       " (extract(epoch FROM read_ts) * 1000)::bigint, value, value_text, quality, code, seq"
                       " FROM v_samples ORDER BY tag, ts")
    assert got == [
        ("bad", T0, T0, None, None, 2, OPCUA_BAD, 1),
        ("bool", T0, T0, 1.0, None, 1, 1083310080, 1),
        ("float", T0, T0 + 4, 230.25, None, 0, None, 1),
        ("float", T0 + 1, T0 + 1, 1e300, None, 0, None, 1),
        ("int", T0, T0, -7.0, None, 0, None, 1),
        ("old", 0, 5, 0.0, None, 0, None, 1),
        ("text", T0, T0, None, "灌装 filling ✓", 0, None, 1),
    ]


def test_unstorable_values_raise_a_database_error(pg_dsn: str) -> None:
    """Such a message must be a dead letter (the ingestor catches psycopg.Error), not a crash."""
    migrate.migrate(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        reg, parts = Registry(), Partitions(flavor=flavor_of(conn))
        for bad in ({"v": 1, "c": 2**70}, {"v": 10**400}, {"v": "\ud800"}, {"v": "nul\x00"}):
            sample = {"d": "dev", "t": "x", "ts": T0, "rt": T0, **bad}
            with pytest.raises(psycopg.Error):
                writer.write(conn, [_batch(1, [sample])], registry=reg, partitions=parts)
        assert conn.execute("SELECT count(*) FROM batches").fetchone() == (0,)
