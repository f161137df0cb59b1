"""The daily rollup kept by the maintenance loop (plain PostgreSQL) and built by migration 022
for a database that already holds data: always the raw samples by UTC day."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from cloud_ingest import migrate
from cloud_ingest.cli import main
from tests.cloud_ingest.evidence import days_data as dd
from tests.cloud_ingest.helpers import scalar

pytestmark = pytest.mark.integration


def _same_as_raw(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        got, want = conn.execute(dd.ROLLUP_DAYS).fetchall(), conn.execute(dd.RAW_DAYS).fetchall()
    assert len(want) == 4 * 6 - 1  # 4 tags x 6 UTC days touched, but b.q has no sample on 01-03
    assert got == want


def test_migration_022_rolls_up_the_days_already_stored(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn, target=21)
    dd.write(pg_dsn)  # minutes and hours kept; no daily rollup yet
    assert scalar(pg_dsn, "SELECT to_regclass('samples_1d')") is None
    assert 22 in migrate.migrate(pg_dsn)
    _same_as_raw(pg_dsn)


def test_a_late_batch_across_midnight_re_rolls_both_closed_days(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn)
    dd.write(pg_dsn)
    _same_as_raw(pg_dsn)
    midnight = dd.T0 + 2 * dd.DAY  # b.q never reported on 01-03: its first samples that day, late
    late = [dd._sample("b", "q", midnight + dt) for dt in (-61_000, 1_000, 121_000)]
    dd.write_late(pg_dsn, dd.ROUNDS + 1, late, received_ms=dd.T0 + 30 * dd.DAY)
    out = CliRunner().invoke(main, ["status", "--dsn", pg_dsn])
    assert out.exit_code == 0 and "rollups: 1 batches pending" in out.output, out.output
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        dd.roll_up(conn)
        rows = conn.execute(
            "SELECT r.bucket AT TIME ZONE 'UTC', r.n, r.hours, r.n_good_min FROM samples_1d r"
            " JOIN tags t ON t.id = r.tag_id JOIN devices d ON d.id = t.device_id"
            " WHERE d.code = 'b' AND t.name = 'q' AND r.bucket >= to_timestamp(%s / 1000.0)"
            " AND r.bucket < to_timestamp(%s / 1000.0) ORDER BY 1",
            (midnight - dd.DAY, midnight + dd.DAY),
        ).fetchall()
    assert [(n, hours, low) for _, n, hours, low in rows] == [(721, 24, 30), (2, 1, 2)]
    out = CliRunner().invoke(main, ["status", "--dsn", pg_dsn])
    assert "rollups: 0 batches pending" in out.output, out.output
    with psycopg.connect(pg_dsn) as conn:
        got, want = conn.execute(dd.ROLLUP_DAYS).fetchall(), conn.execute(dd.RAW_DAYS).fetchall()
    assert got == want and len(want) == 4 * 6
