"""Queries over the samples and their rollups: counts per tag and grid cell, the state of each
device per rollup bucket, the raw pulse where it is needed, and report-by-exception silences.

Every range is given in epoch ms of the gateway's clock; plans (plan.py) decide which table
answers which range. Requests travel as arrays unnested in the statement, so one statement
serves every tag or device of the enterprise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloud_ingest.evidence.plan import Plan
from cloud_ingest.evidence.pulse import Instant, is_offline
from cloud_ingest.evidence.queries_registry import Conn, ms, ts

LEVELS = {"h": ("samples_1h", 3_600_000), "m": ("samples_1m", 60_000)}


@dataclass(frozen=True, slots=True)
class Count:
    tag_id: int
    cell: int
    n: int
    good: int


def counts(conn: Conn, plans: Sequence[Plan], tag_plan: dict[int, int]) -> list[Count]:
    """n and good per (tag, grid cell) over each tag's plan, from the three sources."""
    if not tag_plan:
        return []
    rg: dict[str, tuple[list[int], list[int], list[int]]] = {
        "h": ([], [], []),
        "m": ([], [], []),
        "r": ([], [], []),
    }
    for pid, p in enumerate(plans):
        for lvl, spans in (("h", p.hours), ("m", p.minutes), ("r", p.raw)):
            for lo, hi in spans:
                rg[lvl][0].append(pid)
                rg[lvl][1].append(lo)
                rg[lvl][2].append(hi)
    params: dict[str, object] = {
        "t": list(tag_plan),
        "tp": list(tag_plan.values()),
        "pid": list(range(len(plans))),
        "base": [p.cell_base for p in plans],
        "cell": [p.cell_ms for p in plans],
    }
    ctes, parts = [], []
    for lvl in ("h", "m", "r"):
        params.update({f"{lvl}p": rg[lvl][0], f"{lvl}lo": rg[lvl][1], f"{lvl}hi": rg[lvl][2]})
        # one row per (tag, range), bounds as timestamptz columns: the index scans use them
        ctes.append(
            f" g{lvl} AS MATERIALIZED (SELECT tp.tag_id, pl.pid, pl.base, pl.stride, {ts('x.lo')} AS lo,"
            f"  {ts('x.hi')} AS hi FROM unnest(%({lvl}p)s::int[], %({lvl}lo)s::int8[], %({lvl}hi)s::int8[])"
            f"  AS x(pid, lo, hi) JOIN pl ON pl.pid = x.pid JOIN tp ON tp.pid = x.pid)"
        )
    for lvl, (table, _) in (("h", LEVELS["h"]), ("m", LEVELS["m"])):
        parts.append(
            "SELECT r.tag_id, g.pid, date_bin(g.stride, r.bucket, g.base) AS cell, r.n, r.n_good AS good"
            f" FROM g{lvl} g JOIN {table} r ON r.tag_id = g.tag_id AND r.bucket >= g.lo AND r.bucket < g.hi"
        )
    parts.append(
        "SELECT s.tag_id, g.pid, date_bin(g.stride, s.ts, g.base), 1, (s.quality = 0)::int"
        " FROM gr g JOIN samples s ON s.tag_id = g.tag_id AND s.ts >= g.lo AND s.ts < g.hi"
    )
    sql = (
        "WITH tp AS MATERIALIZED (SELECT * FROM unnest(%(t)s::int[], %(tp)s::int[]) AS x(tag_id, pid)),"
        # cells by date_bin (integer arithmetic on timestamps), not by epoch numerics per row
        f" pl AS MATERIALIZED (SELECT x.pid, {ts('x.base')} AS base, make_interval(secs => x.cell /"
        " 1000.0) AS stride"
        "  FROM unnest(%(pid)s::int[], %(base)s::int8[], %(cell)s::int8[]) AS x(pid, base, cell)),"
        + ",".join(ctes)
        + f" SELECT tag_id, pid, {ms('cell')}, n, good FROM (SELECT tag_id, pid, cell, sum(n)::int8 AS n,"
        "  sum(good)::int8 AS good FROM (" + " UNION ALL ".join(parts) + ") x GROUP BY 1, 2, 3) y"
    )
    out = []
    for tag, pid, start, n, good in conn.execute(sql, params):
        out.append(Count(tag, plans[pid].cell(start), n, good))
    return out


@dataclass(frozen=True, slots=True)
class BucketState:
    device_id: int
    bucket: int
    n: int
    good: int
    full_any: bool  # some tag has its full number of samples, good or not


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
        f"  FROM rt t JOIN {table} r ON r.tag_id = t.tag_id AND r.bucket >= t.lo AND r.bucket < t.hi"
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
        f"WITH rq AS MATERIALIZED (SELECT x.k, t.id AS tag_id, {ts('x.lo')} AS lo, {ts('x.hi')} AS hi"
        "  FROM unnest(%(d)s::int[], %(lo)s::int8[], %(hi)s::int8[]) WITH ORDINALITY AS x(device_id, lo,"
        " hi, k)"
        "  JOIN tags t ON t.device_id = x.device_id)"
        f" SELECT rq.k, {ms('s.ts')}, bool_or(s.quality = 0), bool_or(s.quality <> 0),"
        "  min(s.reason) FILTER (WHERE s.quality <> 0),"
        "  bool_or(s.quality <> 0 AND (s.reason IS NULL OR s.reason LIKE 'device offline:%%'))"
        " FROM rq JOIN samples s ON s.tag_id = rq.tag_id AND s.ts >= rq.lo AND s.ts < rq.hi"
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
        " LEFT JOIN LATERAL (SELECT s.reason FROM tags t JOIN samples s ON s.tag_id = t.id"
        f"  WHERE t.device_id = x.d AND s.ts >= {ts('x.lo')} AND s.ts < {ts('x.hi')} AND s.quality <> 0"
        "  LIMIT 1) r ON true ORDER BY x.k",
        ([r[0] for r in requests], [r[1] for r in requests], [r[2] for r in requests]),
    )
    return {requests[k - 1]: (is_offline(reason), reason) for k, reason in rows}


@dataclass(frozen=True, slots=True)
class TagSilences:
    first: int | None  # first good sample at or after the look-back start
    last: int | None
    silences: list[tuple[int, int]]  # (previous, next) good samples further apart than the limit


def change_silences(conn: Conn, requests: Sequence[tuple[int, int, int, int]]) -> dict[int, TagSilences]:
    """Report-by-exception tags, read raw: per (tag, lo, hi, limit_ms) the good samples' first,
    last, and every pair further apart than the limit (found by lag() in the database)."""
    if not requests:
        return {}
    params = {
        "t": [r[0] for r in requests],
        "lo": [r[1] for r in requests],
        "hi": [r[2] for r in requests],
        "lim": [r[3] for r in requests],
    }
    base = (
        f"WITH rq AS MATERIALIZED (SELECT x.tag_id, {ts('x.lo')} AS lo, {ts('x.hi')} AS hi, x.lim"
        "  FROM unnest(%(t)s::int[], %(lo)s::int8[], %(hi)s::int8[], %(lim)s::int8[]) AS x(tag_id, lo, hi,"
        " lim)),"
        f" g AS (SELECT rq.tag_id, rq.lim, {ms('s.ts')} AS t FROM rq JOIN samples s ON s.tag_id = rq.tag_id"
        "  AND s.ts >= rq.lo AND s.ts < rq.hi AND s.quality = 0)"
    )
    out = {r[0]: TagSilences(None, None, []) for r in requests}
    for tag, first, last in conn.execute(base + " SELECT tag_id, min(t), max(t) FROM g GROUP BY 1", params):
        out[tag] = TagSilences(first, last, [])
    for tag, prev, nxt in conn.execute(
        base
        + " SELECT tag_id, p, t FROM (SELECT tag_id, lim, t, lag(t) OVER (PARTITION BY tag_id ORDER BY t) p"
        "  FROM g) x WHERE p IS NOT NULL AND t - p > lim ORDER BY tag_id, p",
        params,
    ):
        out[tag].silences.append((prev, nxt))
    return out
