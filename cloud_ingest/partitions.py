"""Daily sample partitions on plain PostgreSQL: made ahead of time, and on demand for late data.

A partition must exist before the storing transaction starts: creating one takes a strong lock
on ``samples``, and doing it from inside a transaction that already holds a weaker one would
wait on itself. So the writer asks for the days its batches need first, on the autocommit
connection; known days are cached, so the common case costs nothing. On TimescaleDB the same
call is a no-op (chunks appear by themselves) and nothing else differs.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import psycopg

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)
_PART = re.compile(r"^samples_(\d{8})$")


def day_of(day_number: int) -> date:
    return _EPOCH + timedelta(days=day_number)


class Partitions:
    def __init__(self, *, flavor: str) -> None:
        self.flavor = flavor
        self._known: set[int] = set()

    def load(self, conn: psycopg.Connection) -> None:
        """Learn which day partitions exist (other workers may have made more since)."""
        self._known = {(d - _EPOCH).days for d in existing_days(conn)}

    def ensure_days(self, conn: psycopg.Connection, days: set[int]) -> None:
        if self.flavor != "plain":
            return
        for n in sorted(days - self._known):
            conn.execute("SELECT sfg_ensure_day_partition(%s)", (day_of(n),))
            self._known.add(n)

    def ensure_ahead(self, conn: psycopg.Connection, *, days_ahead: int) -> None:
        today = datetime.now(UTC).date()
        start = (today - _EPOCH).days - 1
        self.ensure_days(conn, set(range(start, start + days_ahead + 2)))


def existing_days(conn: psycopg.Connection) -> list[date]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'samples'::regclass"
    ).fetchall()
    out = []
    for (name,) in rows:
        m = _PART.match(name)
        if m:
            out.append(datetime.strptime(m.group(1), "%Y%m%d").date())
    return sorted(out)


def drop_older_than(conn: psycopg.Connection, *, days: int) -> list[str]:
    """Retention on plain PostgreSQL: whole partitions go, never single rows."""
    cutoff = datetime.now(UTC).date() - timedelta(days=days)
    dropped = []
    for d in existing_days(conn):
        if d < cutoff:
            name = f"samples_{d:%Y%m%d}"
            conn.execute(f'DROP TABLE IF EXISTS "{name}"'.encode())
            dropped.append(name)
    return dropped
