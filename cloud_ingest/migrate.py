"""Versioned, idempotent schema migrations.

Files in ``migrations/`` are named ``NNN_name.sql`` (one script for every database) or
``NNN_name.plain.sql`` / ``NNN_name.timescale.sql`` (one per storage flavour). The flavour is
chosen once, when the first migration runs: TimescaleDB if the server offers the extension,
plain PostgreSQL otherwise, and it is recorded in ``schema_version`` so later upgrades follow
it. Each version runs in its own transaction under an advisory lock, so several workers can
start at once and an older schema is upgraded in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import psycopg

from cloud_ingest.rollups import ROLLUP_LOCK

Flavor = Literal["plain", "timescale"]

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+?)(?:\.(plain|timescale))?\.sql$")
_LOCK_KEY = 0x5F6_1A6E  # any constant; shared by every migrating process

# Statements a migration needs run after it committed, outside any transaction (TimescaleDB's
# refresh_continuous_aggregate refuses to run inside one), under the rollups' lock (one refresh
# of the aggregates at a time). Each must be safe to run again by hand should the process stop
# between the commit and them.
AFTER_COMMIT: dict[tuple[int, str], tuple[str, ...]] = {
    # the days the hours already hold, older than the policy's window (022_rollup_1d.timescale.sql)
    (22, "timescale"): ("CALL refresh_continuous_aggregate('samples_1d', NULL, now() - interval '1 day')",),
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    scripts: dict[str, str]  # flavor ("*" for both) -> SQL

    def sql_for(self, flavor: Flavor) -> str:
        if "*" in self.scripts:
            return self.scripts["*"]
        return self.scripts[flavor]


def available() -> list[Migration]:
    """Every migration shipped in the package, in version order."""
    found: dict[int, Migration] = {}
    for entry in resources.files("cloud_ingest").joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if not m:
            continue
        version, name, flavor = int(m.group(1)), m.group(2), m.group(3) or "*"
        mig = found.setdefault(version, Migration(version, name, {}))
        mig.scripts[flavor] = entry.read_text(encoding="utf-8")
    for mig in found.values():
        if "*" not in mig.scripts and set(mig.scripts) != {"plain", "timescale"}:
            raise RuntimeError(f"migration {mig.version:03d} needs both .plain.sql and .timescale.sql")
    return [found[v] for v in sorted(found)]


def timescale_available(conn: psycopg.Connection) -> bool:
    """Installed already, or packaged *and* preloaded (CREATE EXTENSION fails without the latter)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
        " OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
        "     AND current_setting('shared_preload_libraries') LIKE '%%timescaledb%%')"
    ).fetchone()
    return bool(row and row[0])


def current(conn: psycopg.Connection) -> tuple[int, Flavor | None]:
    """(latest applied version, flavour); (0, None) on an empty database."""
    if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
        return 0, None
    row = conn.execute("SELECT version, flavor FROM schema_version ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        return 0, None
    return int(row[0]), row[1]


def migrate(dsn: str, *, target: int | None = None, connect_timeout_s: float = 10.0) -> list[int]:
    """Apply every shipped migration the database has not had (up to ``target``), in version
    order; returns those applied."""
    applied: list[int] = []
    with psycopg.connect(dsn, autocommit=True, connect_timeout=int(connect_timeout_s)) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version int PRIMARY KEY, name text NOT NULL, flavor text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            _, flavor = current(conn)
            if flavor is None:
                flavor = "timescale" if timescale_available(conn) else "plain"
            # Every shipped version not applied yet, in order, including one numbered below
            # the newest applied (a release that fills a number left free by an earlier one).
            done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_version")}
            for mig in available():
                if mig.version in done or (target is not None and mig.version > target):
                    continue
                with conn.transaction():
                    if flavor == "timescale" and mig.version == 1:
                        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                    conn.execute(mig.sql_for(flavor).encode())
                    conn.execute(
                        "INSERT INTO schema_version (version, name, flavor) VALUES (%s, %s, %s)",
                        (mig.version, mig.name, flavor),
                    )
                applied.append(mig.version)
                after = AFTER_COMMIT.get((mig.version, flavor), ())
                if after:
                    conn.execute("SELECT pg_advisory_lock(%s)", (ROLLUP_LOCK,))
                    try:
                        for sql in after:
                            conn.execute(sql.encode())
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (ROLLUP_LOCK,))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
