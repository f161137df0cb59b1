"""Queries the device pass makes (device_pass.py): which rollup buckets a device's screening tag
is short in, the state of each device per rollup bucket, the raw pulse where it is needed, and
the reason of stretches known to hold only bad samples.

Every range is given in epoch ms of the gateway's clock; requests travel as arrays unnested in
the statement, so one statement serves every device of the enterprise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloud_ingest.evidence.pulse import Instant, is_offline
from cloud_ingest.evidence.queries_registry import Conn, ms, ts

LEVELS = {"d": ("samples_1d", 86_400_000), "h": ("samples_1h", 3_600_000), "m": ("samples_1m", 60_000)}
# a bucket in which the screening tag (interval rq.iv) does not have all its good samples; a day
# is short unless every one of its 24 hours is full (exactly what screening its hours would find)
_SHORT = {
    "d": "(r.hours < 24 OR r.n_good_min < 3600000 / rq.iv)",
    "h": "r.n_good < %(size)s / rq.iv",
    "m": "r.n_good < %(size)s / rq.iv",
}

# the columns _SHORT reads, so the lateral scans stay index-only
_COLS = {"d": "r.bucket, r.hours, r.n_good_min", "h": "r.bucket, r.n_good", "m": "r.bucket, r.n_good"}


@dataclass(frozen=True, slots=True)
class BucketState:
    device_id: int
    bucket: int
    n: int
    good: int
    full_any: bool  # some tag has its full number of samples, good or not


def short_buckets(
    conn: Conn, level: str, requests: Sequence[tuple[int, int, int, int, int]]
) -> list[tuple[int, int]]:
    """Screening with one tag per device: for (device, tag, interval, lo, hi), the buckets in
    which that tag does not have all its good samples. Only those can hold a gap of the device
    (a bucket where one every-reading tag is full has none), so only they are looked at closer."""
    if not requests:
        return []
    table, size = LEVELS[level]
    # each range's short buckets among those present (the bulk: index-only, filtered on the
    # covered count), and how many are present, to find the ranges missing whole buckets
    params: dict[str, list[int]] = {
        "k": list(range(len(requests))),
        "t": [r[1] for r in requests],
        "iv": [r[2] for r in requests],
        "lo": [r[3] for r in requests],
        "hi": [r[4] for r in requests],
    }
    rq = (
        f"WITH rq AS MATERIALIZED (SELECT x.k, x.t, x.iv, {ts('x.lo')} AS lo, {ts('x.hi')} AS hi FROM"
        " unnest(%(k)s::int[], %(t)s::int[], %(iv)s::int8[], %(lo)s::int8[], %(hi)s::int8[])"
        " AS x(k, t, iv, lo, hi))"
    )
    out: set[tuple[int, int]] = set()
    present: dict[int, int] = {}
    # one index range per request (LATERAL ... OFFSET 0): as a plain join, the planner, blind to
    # how short the ranges are, hashed every row of the rollup when its pages were not yet marked
    # visible (a month of 1,500 tags never vacuumed: the 1.08 M hours read for 28 ranges)
    for k, n, shorts in conn.execute(
        f"{rq} SELECT rq.k, count(*), array_agg({ms('r.bucket')}) FILTER (WHERE {_SHORT[level]})"
        f" FROM rq CROSS JOIN LATERAL (SELECT {_COLS[level]} FROM {table} r WHERE r.tag_id = rq.t"
        " AND r.bucket >= rq.lo AND r.bucket < rq.hi OFFSET 0) r GROUP BY 1",
        {**params, "size": size},
    ):
        present[k] = int(n)
        out.update((requests[k][0], int(b)) for b in shorts or ())
    missing = [k for k, r in enumerate(requests) if present.get(k, 0) < (r[4] - r[3]) // size]
    if missing:  # buckets with no row at all: the absent ones of those ranges
        # one index probe per bucket wanted (OFFSET 0 keeps the planner from turning NOT EXISTS
        # into an anti join that hashes the whole rollup: 81 -> 0.2 ms for a week of 1,500 tags)
        sub = {key: [v[k] for k in missing] for key, v in params.items()}
        for k, b in conn.execute(
            f"{rq} SELECT rq.k, {ms('b')} FROM rq, generate_series(rq.lo, rq.hi - %(step)s::interval,"
            f" %(step)s::interval) AS b WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE r.tag_id = rq.t"
            " AND r.bucket = b OFFSET 0)",
            {**sub, "size": size, "step": f"{size // 1000} seconds"},
        ):
            out.add((requests[k][0], int(b)))
    return sorted(out)


def states(conn: Conn, level: str, requests: Sequence[tuple[int, int, int]]) -> list[BucketState]:
    """Every bucket of the requested (device, lo, hi) ranges (bucket-aligned) in which no
    every-reading tag of the device has all its good samples: the candidates for a gap."""
    if not requests:
        return []
    table, size = LEVELS[level]
    sql = (
        f"WITH rq AS MATERIALIZED (SELECT x.device_id, {ts('x.lo')} AS lo, {ts('x.hi')} AS hi"
        "  FROM unnest(%(d)s::int[], %(lo)s::int8[], %(hi)s::int8[]) AS x(device_id, lo, hi)),"
        " rt AS MATERIALIZED (SELECT rq.*, t.id AS tag_id, t.report_mode, t.interval_ms FROM rq"
        "  JOIN tags t ON t.device_id = rq.device_id),"
        " agg AS (SELECT t.device_id, r.bucket, sum(r.n) AS n, sum(r.n_good) AS good,"
        "  bool_or(t.report_mode = 'all' AND t.interval_ms <= %(size)s"
        "          AND r.n_good >= %(size)s / t.interval_ms) AS full_good,"
        "  bool_or(t.report_mode = 'all' AND t.interval_ms <= %(size)s"
        "          AND r.n >= %(size)s / t.interval_ms) AS full_any"
        # one index range per (range, tag), as in pulse below: a plain join hashes the whole rollup
        f"  FROM rt t CROSS JOIN LATERAL (SELECT r.bucket, r.n, r.n_good FROM {table} r"
        "   WHERE r.tag_id = t.tag_id AND r.bucket >= t.lo AND r.bucket < t.hi OFFSET 0) r"
        "  GROUP BY 1, 2),"
        " want AS (SELECT rq.device_id, b FROM rq,"
        "  generate_series(rq.lo, rq.hi - %(step)s::interval, %(step)s::interval) AS b)"
        f" SELECT w.device_id, {ms('w.b')}, coalesce(a.n, 0)::int8, coalesce(a.good, 0)::int8,"
        "  coalesce(a.full_any, false)"
        " FROM want w LEFT JOIN agg a ON a.device_id = w.device_id AND a.bucket = w.b"
        " WHERE NOT coalesce(a.full_good, false)"
    )
    rows = conn.execute(
        sql,
        {
            "d": [r[0] for r in requests],
            "lo": [r[1] for r in requests],
            "hi": [r[2] for r in requests],
            "size": size,
            "step": f"{size // 1000} seconds",
        },
    )
    return [BucketState(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def pulse(
    conn: Conn, requests: Sequence[tuple[int, int, int]]
) -> dict[int, list[tuple[int, int, list[Instant]]]]:
    """The raw instants of each requested (device, lo, hi) range: one per source timestamp at
    which any tag of the device has a sample, good or not (with the reason of a bad one)."""
    out: dict[int, list[tuple[int, int, list[Instant]]]] = {}
    if not requests:
        return out
    rows = conn.execute(
        f"WITH rq AS MATERIALIZED (SELECT x.k, array_agg(t.id) AS tag_ids, {ts('x.lo')} AS lo,"
        f" {ts('x.hi')} AS hi"
        "  FROM unnest(%(d)s::int[], %(lo)s::int8[], %(hi)s::int8[]) WITH ORDINALITY AS x(device_id, lo,"
        " hi, k)"
        "  JOIN tags t ON t.device_id = x.device_id GROUP BY x.k, x.lo, x.hi)"
        f" SELECT rq.k, {ms('s.ts')}, bool_or(s.quality = 0), bool_or(s.quality <> 0),"
        "  min(s.reason) FILTER (WHERE s.quality <> 0),"
        "  bool_or(s.quality <> 0 AND (s.reason IS NULL OR s.reason LIKE 'device offline:%%'))"
        # one index scan per range for all the device's tags, never a hash of every sample: the
        # planner cannot see how short the ranges are (OFFSET 0 keeps the lateral scan from being
        # flattened into a join it would hash; 181 -> 19 ms for 1,740 ranges of a week), and one
        # scan per range rather than per (range, tag) prunes the partitions once for all its tags
        " FROM rq CROSS JOIN LATERAL (SELECT s.ts, s.quality, s.reason FROM samples s"
        "  WHERE s.tag_id = ANY(rq.tag_ids) AND s.ts >= rq.lo AND s.ts < rq.hi OFFSET 0) s"
        " GROUP BY rq.k, s.ts ORDER BY rq.k, s.ts",
        {"d": [r[0] for r in requests], "lo": [r[1] for r in requests], "hi": [r[2] for r in requests]},
    )
    found: dict[int, list[Instant]] = {}
    for k, t, good, bad, reason, offline in rows:
        found.setdefault(int(k), []).append(
            Instant(t, bool(good), bool(bad), bool(offline) or (bool(bad) and is_offline(reason)), reason)
        )
    for k, (dev, lo, hi) in enumerate(requests, start=1):
        out.setdefault(dev, []).append((lo, hi, found.get(k, [])))
    return out


def bad_reasons(
    conn: Conn, requests: Sequence[tuple[int, int, int]]
) -> dict[tuple[int, int, int], tuple[bool, str | None]]:
    """For (device, lo, hi) stretches known to hold only bad samples: the reason of the first
    one, and whether it says the device was unreachable."""
    if not requests:
        return {}
    rows = conn.execute(
        "SELECT x.k, r.reason FROM unnest(%s::int[], %s::int8[], %s::int8[]) WITH ORDINALITY AS x(d, lo,"
        " hi, k)"
        # the earliest bad sample of the stretch (ties: the lowest tag), so the same data always
        # gives the same reason: each tag's first by its index, then the first of those
        " LEFT JOIN LATERAL (SELECT f.reason FROM tags t CROSS JOIN LATERAL (SELECT s.ts, s.reason"
        f"   FROM samples s WHERE s.tag_id = t.id AND s.ts >= {ts('x.lo')} AND s.ts < {ts('x.hi')}"
        "   AND s.quality <> 0 ORDER BY s.ts LIMIT 1) f"
        "  WHERE t.device_id = x.d ORDER BY f.ts, t.id LIMIT 1) r ON true ORDER BY x.k",
        ([r[0] for r in requests], [r[1] for r in requests], [r[2] for r in requests]),
    )
    return {requests[k - 1]: (is_offline(reason), reason) for k, reason in rows}
