"""Keeping the 1-minute, 1-hour and 1-day rollups current, from the ledger's pending batches.

Plain PostgreSQL: every stored batch is pending (``batches.rolled_up = false``). The loop takes
a slice of pending batches, merges their time spans per enterprise into whole minutes, and
*recomputes* those minutes from ``samples`` for the enterprise's tags (by the (tag_id, ts)
index), then the hours that contain them from the minutes, then the (UTC) days that contain
those from the hours, in one transaction. Recomputing instead of adding makes it idempotent,
and late batches are handled like any other: a batch into a day long closed re-rolls that day.
Only one worker does it at a time (an advisory lock); batches committed meanwhile stay pending
for the next round, and ``cloud-ingest status`` counts them as the rollup backlog.

TimescaleDB: continuous aggregates do this; their policies only look back a few days, so a
pending batch older than that gets an explicit refresh of its range, outside a transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

ROLLUP_LOCK = 0x5F6_2011
CAGG_LOOKBACK = timedelta(days=2)  # well inside the 3-day start_offset of the 1-minute policy

_METRICS = "n = EXCLUDED.n, n_good = EXCLUDED.n_good, n_values = EXCLUDED.n_values, sum = EXCLUDED.sum," \
           " min = EXCLUDED.min, max = EXCLUDED.max"

_MINUTES = (
    "INSERT INTO samples_1m (tag_id, bucket, n, n_good, n_values, sum, min, max)"
    " SELECT s.tag_id, date_trunc('minute', s.ts), count(*), count(*) FILTER (WHERE s.quality = 0),"
    " count(s.value), sum(s.value), min(s.value), max(s.value)"
    " FROM samples s WHERE s.tag_id = ANY(%(tags)s) AND s.ts >= %(lo)s AND s.ts < %(hi)s"
    " GROUP BY 1, 2 ON CONFLICT (tag_id, bucket) DO UPDATE SET " + _METRICS
)
_HOURS = (
    "INSERT INTO samples_1h (tag_id, bucket, n, n_good, n_values, sum, min, max)"
    " SELECT tag_id, date_trunc('hour', bucket), sum(n), sum(n_good), sum(n_values), sum(sum), min(min),"
    " max(max) FROM samples_1m WHERE tag_id = ANY(%(tags)s) AND bucket >= %(lo)s AND bucket < %(hi)s"
    " GROUP BY 1, 2 ON CONFLICT (tag_id, bucket) DO UPDATE SET " + _METRICS
)

_DAYS = (
    "INSERT INTO samples_1d (tag_id, bucket, n, n_good, n_values, sum, min, max, hours, n_good_min)"
    " SELECT tag_id, date_trunc('day', bucket), sum(n), sum(n_good), sum(n_values), sum(sum), min(min),"
    " max(max), count(*), min(n_good) FROM samples_1h WHERE tag_id = ANY(%(tags)s) AND bucket >= %(lo)s"
    " AND bucket < %(hi)s GROUP BY 1, 2 ON CONFLICT (tag_id, bucket) DO UPDATE SET " + _METRICS
    + ", hours = EXCLUDED.hours, n_good_min = EXCLUDED.n_good_min"
)
_DAY_TABLE = "SELECT to_regclass('samples_1d') IS NOT NULL"


def _floor(dt: datetime, unit: timedelta) -> datetime:
    """Down to a whole unit of the UTC grid (days are UTC days, whatever the session's zone)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((dt.astimezone(UTC) - epoch) // unit) * unit


def merge_spans(spans: list[tuple[datetime, datetime]], unit: timedelta) -> list[tuple[datetime, datetime]]:
    """Half-open [lo, hi) spans covering whole units, overlapping ones merged."""
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted((_floor(lo, unit), _floor(hi, unit) + unit) for lo, hi in spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def roll_up_pending(conn: psycopg.Connection, *, flavor: str, limit: int = 2000) -> int:
    """One round; returns how many batches it took care of (0 if another worker holds the lock)."""
    if flavor == "timescale":
        return _refresh_late_timescale(conn, limit=limit)
    with conn.transaction():
        conn.execute("SET LOCAL TIME ZONE 'UTC'")
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (ROLLUP_LOCK,)).fetchone()
        if not got or not got[0]:
            return 0
        pending = conn.execute(
            "SELECT b.gateway_id, b.seq, g.enterprise_id, b.min_ts, b.max_ts FROM batches b"
            " JOIN gateways g ON g.id = b.gateway_id WHERE NOT b.rolled_up"
            " ORDER BY b.gateway_id, b.seq LIMIT %s FOR UPDATE OF b SKIP LOCKED",
            (limit,),
        ).fetchall()
        if not pending:
            return 0
        by_ent: dict[int, list[tuple[datetime, datetime]]] = {}
        for _, _, ent, lo, hi in pending:
            by_ent.setdefault(ent, []).append((lo, hi))
        minute, hour, day = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
        days = bool(conn.execute(_DAY_TABLE).fetchone() == (True,))  # schema 22 and later
        for ent, spans in by_ent.items():
            tags = [r[0] for r in conn.execute(
                "SELECT t.id FROM tags t JOIN devices d ON d.id = t.device_id WHERE d.enterprise_id = %s",
                (ent,),
            )]
            for lo, hi in merge_spans(spans, minute):
                conn.execute(_MINUTES, {"tags": tags, "lo": lo, "hi": hi})
            for lo, hi in merge_spans(spans, hour):
                conn.execute(_HOURS, {"tags": tags, "lo": lo, "hi": hi})
            for lo, hi in merge_spans(spans, day) if days else ():
                conn.execute(_DAYS, {"tags": tags, "lo": lo, "hi": hi})
        conn.execute(
            "UPDATE batches SET rolled_up = true FROM unnest(%s::int[], %s::int8[]) AS x(g, s)"
            " WHERE gateway_id = x.g AND seq = x.s",
            ([p[0] for p in pending], [p[1] for p in pending]),
        )
    return len(pending)


def _refresh_late_timescale(conn: psycopg.Connection, *, limit: int) -> int:
    # One worker at a time, as on plain PostgreSQL: two refreshes of overlapping windows fail
    # ("due to a concurrent refresh"). A session lock, since the refreshes run outside a transaction.
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (ROLLUP_LOCK,)).fetchone()
    if not got or not got[0]:
        return 0
    try:
        return _refresh_late_timescale_locked(conn, limit=limit)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (ROLLUP_LOCK,))


def _refresh_late_timescale_locked(conn: psycopg.Connection, *, limit: int) -> int:
    pending = conn.execute(
        "SELECT gateway_id, seq, min_ts, max_ts, min_ts < now() - %s FROM batches WHERE NOT rolled_up"
        " ORDER BY gateway_id, seq LIMIT %s",
        (CAGG_LOOKBACK, limit),
    ).fetchall()
    late = [(lo, hi) for _, _, lo, hi, old in pending if old]
    for lo, hi in merge_spans(late, timedelta(hours=1)):
        # CALL refresh_continuous_aggregate cannot run inside a transaction: autocommit connection.
        conn.execute("CALL refresh_continuous_aggregate('samples_1m', %s, %s)", (lo, hi))
        conn.execute("CALL refresh_continuous_aggregate('samples_1h', %s, %s)", (lo, hi))
    if late and conn.execute(_DAY_TABLE).fetchone() == (True,):
        # after the hours, whole days (a refresh takes only the buckets wholly inside its window)
        for lo, hi in merge_spans(late, timedelta(days=1)):
            conn.execute("CALL refresh_continuous_aggregate('samples_1d', %s, %s)", (lo, hi))
    if pending:
        conn.execute(
            "UPDATE batches SET rolled_up = true FROM unnest(%s::int[], %s::int8[]) AS x(g, s)"
            " WHERE gateway_id = x.g AND seq = x.s",
            ([p[0] for p in pending], [p[1] for p in pending]),
        )
    return len(pending)
