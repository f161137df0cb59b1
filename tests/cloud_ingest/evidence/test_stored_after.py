"""What the reconciliation counts as stored between two counter reports: the same whether the
stream's batches are one unbroken run of seqs (summed by range) or not (batch by batch)."""

from __future__ import annotations

import psycopg
import pytest

from cloud_ingest import migrate
from cloud_ingest.evidence import queries_ledger as ql
from tests.cloud_ingest.evidence import days_data as dd

pytestmark = pytest.mark.integration

PLAIN = (
    "SELECT d.device_id, sum(d.n)::int8 FROM batch_devices d JOIN batches b ON b.gateway_id = d.gateway_id"
    " AND b.seq = d.seq WHERE b.gateway_id = %s AND b.seq > %s AND b.seq <= %s GROUP BY 1"
)


def test_runs_with_and_without_a_missing_seq(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn)
    dd.write(pg_dsn)
    # seqs ROUNDS + 1 .. + 4 never arrive (lost on the way): the run up to ROUNDS + 5 has a hole
    late = [dd._sample("a", "p", dd.T0 + 4 * dd.DAY + 8 * dd.HOUR + 1000)]
    dd.write_late(pg_dsn, dd.ROUNDS + 5, late, received_ms=dd.T0 + 5 * dd.DAY)
    with psycopg.connect(pg_dsn) as conn:
        gw = conn.execute("SELECT id FROM gateways").fetchone()[0]  # type: ignore[index]
        for a, b in ((None, dd.ROUNDS), (None, dd.ROUNDS + 5), (100, dd.ROUNDS + 5), (100, 2000)):
            got = ql.stored_after(conn, [(gw, 0, a, b)])
            want = {(gw, 0, dev): n for dev, n in conn.execute(PLAIN, (gw, a or 0, b))}
            assert got == want and sum(want.values()) > 0, (a, b)
