"""Migrations: idempotent, versioned, and an older schema is upgraded in place."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from cloud_ingest import migrate
from cloud_ingest.cli import main
from tests.cloud_ingest.helpers import scalar


def test_migrate_twice_via_cli(pg_dsn: str) -> None:
    runner = CliRunner()
    with psycopg.connect(pg_dsn) as conn:
        expected = "timescale" if migrate.timescale_available(conn) else "plain"
    first = runner.invoke(main, ["migrate", "--dsn", pg_dsn])
    assert first.exit_code == 0, first.output
    assert "applied 001" in first.output and f"({expected})" in first.output
    second = runner.invoke(main, ["migrate", "--dsn", pg_dsn])
    assert second.exit_code == 0, second.output
    assert "schema is current" in second.output
    latest = migrate.available()[-1].version
    assert scalar(pg_dsn, "SELECT max(version) FROM schema_version") == latest
    assert scalar(pg_dsn, "SELECT count(*) FROM schema_version") == len(migrate.available())
    for rel in ("v_samples", "v_batches", "dead_letters", "batches", "gateway_sessions",
                "gateway_counters_latest", "device_counters"):
        assert scalar(pg_dsn, "SELECT to_regclass(%s) IS NOT NULL", (rel,)), rel


def test_upgrade_older_schema_in_place(pg_dsn: str) -> None:
    assert migrate.migrate(pg_dsn, target=1) == [1]
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO enterprises (code, industry) VALUES ('old-ent', 'food')")
    applied = migrate.migrate(pg_dsn)
    assert applied == [m.version for m in migrate.available()][1:]
    assert scalar(pg_dsn, "SELECT industry FROM enterprises WHERE code = 'old-ent'") == "food"
    assert migrate.migrate(pg_dsn) == []


def test_a_version_numbered_below_the_newest_applied_is_still_applied(
        pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release can fill a number an earlier release left free: a database that has the
    newer versions but not that one gets it at the next migrate, once."""
    def shipped(*versions: int) -> list[migrate.Migration]:
        return [migrate.Migration(v, f"t{v}", {"*": f"CREATE TABLE t{v} (x int)"}) for v in versions]

    monkeypatch.setattr(migrate, "available", lambda: shipped(1, 3))
    assert migrate.migrate(pg_dsn) == [1, 3]
    monkeypatch.setattr(migrate, "available", lambda: shipped(1, 2, 3))
    assert migrate.migrate(pg_dsn) == [2]
    assert migrate.migrate(pg_dsn) == []
    assert scalar(pg_dsn, "SELECT to_regclass('t2') IS NOT NULL")


def test_samples_layout_of_the_flavor(pg_dsn: str) -> None:
    """Plain PostgreSQL: daily partitions made a week ahead. TimescaleDB: a hypertable on ts
    with one-day chunks (checked on 2.28.3, see docs/storage.md)."""
    migrate.migrate(pg_dsn)
    flavor = scalar(pg_dsn, "SELECT flavor FROM schema_version WHERE version = 1")
    if flavor == "timescale":
        interval = scalar(pg_dsn, "SELECT time_interval FROM timescaledb_information.dimensions"
                                  " WHERE hypertable_name = 'samples' AND column_name = 'ts'")
        assert str(interval) == "1 day, 0:00:00"
        return
    assert flavor == "plain"
    n = scalar(pg_dsn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'samples'::regclass")
    assert n >= 8


def test_status_command(pg_dsn: str) -> None:
    runner = CliRunner()
    empty = runner.invoke(main, ["status", "--dsn", pg_dsn])
    assert empty.exit_code == 0 and "run `cloud-ingest migrate`" in empty.output
    migrate.migrate(pg_dsn)
    out = runner.invoke(main, ["status", "--dsn", pg_dsn])
    assert out.exit_code == 0, out.output
    assert "registry: 0 enterprises" in out.output and "dead letters: none" in out.output


def test_migrate_names_a_bad_config(tmp_path: Path) -> None:
    f = tmp_path / "cloud.yaml"
    f.write_text("database: {dsn: 5, pool: 3}\n")
    out = CliRunner().invoke(main, ["migrate", "--config", str(f)])
    assert out.exit_code != 0
    assert "database.pool: unknown field" in out.output and str(f) in out.output


def test_concurrent_migrations_apply_each_version_once(pg_dsn: str) -> None:
    """Several workers starting together may all run migrate: the advisory lock serialises them."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: migrate.migrate(pg_dsn), range(3)))
    latest = [m.version for m in migrate.available()]
    assert sorted(v for r in results for v in r) == latest  # each version applied by exactly one
    assert scalar(pg_dsn, "SELECT count(*) FROM schema_version") == len(latest)
