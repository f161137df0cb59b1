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
        # beyond 2^53 float8 rounds: value_exact keeps the integer (migration 019), from 10^15 on
        {"d": "dev", "t": "u64", "ts": T0, "rt": T0, "v": 4632251081920692269},
        {"d": "dev", "t": "u64", "ts": T0 + 1, "rt": T0 + 1, "v": 2**64 - 1, "c": 3},
        {"d": "dev", "t": "u64", "ts": T0 + 2, "rt": T0 + 2, "v": 2**53},
        {"d": "dev", "t": "int", "ts": T0 + 1, "rt": T0 + 1, "v": 10**15},  # the last one float8 alone
        {"d": "dev", "t": "i64", "ts": T0, "rt": T0, "v": -(2**63)},
        {"d": "dev", "t": "i64", "ts": T0 + 1, "rt": T0 + 1, "v": -(2**53) - 1},
        {"d": "dev", "t": "i64", "ts": T0 + 2, "rt": T0 + 2, "v": 10**40},
    ]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        res = writer.write(conn, [_batch(1, samples)], registry=Registry(),
                           partitions=Partitions(flavor=flavor_of(conn)))
    assert (res.batches, res.rows) == (1, 14)
    got = rows(pg_dsn, "SELECT tag, (extract(epoch FROM ts) * 1000)::bigint,"
                       " (extract(epoch FROM read_ts) * 1000)::bigint, value, value_text, quality, code, seq,"
                       " value_exact FROM v_samples ORDER BY tag, ts")
    assert got == [
        ("bad", T0, T0, None, None, 2, OPCUA_BAD, 1, None),
        ("bool", T0, T0, 1.0, None, 1, 1083310080, 1, None),
        ("float", T0, T0 + 4, 230.25, None, 0, None, 1, None),
        ("float", T0 + 1, T0 + 1, 1e300, None, 0, None, 1, None),
        ("i64", T0, T0, float(-(2**63)), None, 0, None, 1, -(2**63)),
        ("i64", T0 + 1, T0 + 1, float(-(2**53) - 1), None, 0, None, 1, -(2**53) - 1),
        ("i64", T0 + 2, T0 + 2, 1e40, None, 0, None, 1, 10**40),
        ("int", T0, T0, -7.0, None, 0, None, 1, None),
        ("int", T0 + 1, T0 + 1, 1e15, None, 0, None, 1, None),
        ("old", 0, 5, 0.0, None, 0, None, 1, None),
        ("text", T0, T0, None, "灌装 filling ✓", 0, None, 1, None),
        ("u64", T0, T0, 4632251081920692224.0, None, 0, None, 1, 4632251081920692269),
        ("u64", T0 + 1, T0 + 1, float(2**64), None, 0, 3, 1, 2**64 - 1),
        ("u64", T0 + 2, T0 + 2, float(2**53), None, 0, None, 1, 2**53),  # > 10^15: see EXACT_LIMIT
    ]
    assert all(type(r[8]) is not float for r in got)  # numeric, not a rounded double


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
