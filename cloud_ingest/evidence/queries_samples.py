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


def _within(col: str, spans: Sequence[tuple[int, int]], params: list[object]) -> str:
    """``col`` in any of the spans: one bounding range (what the index scans) and, when there are
    several, the spans themselves as a filter."""
    params += [spans[0][0], spans[-1][1]]
    cond = f"{col} >= {ts('%s')} AND {col} < {ts('%s')}"
    if len(spans) > 1:
        ors = []
        for lo, hi in spans:
            params += [lo, hi]
            ors.append(f"({col} >= {ts('%s')} AND {col} < {ts('%s')})")
        cond += " AND (" + " OR ".join(ors) + ")"
    return cond


def _by_cell(
    conn: Conn,
    p: Plan,
    tags: Sequence[int],
    table: str,
    col: str,
    spans: Sequence[tuple[int, int]],
    out: dict[int, dict[int, list[int]]],
) -> None:
    """n and good per (tag, cell), grouped in the database: for the small parts of a plan."""
    if not spans or not tags:
        return
    n, good = (
        ("count(*)", "count(*) FILTER (WHERE quality = 0)")
        if table == "samples"
        else ("sum(n)", "sum(n_good)")
    )
    params: list[object] = [p.cell_ms / 1000.0, p.cell_base, list(tags)]
    where = _within(col, spans, params)
    sql = (
        f"SELECT tag_id, {ms('c')}, n, g FROM (SELECT tag_id, date_bin(make_interval(secs => %s), {col},"
        f" {ts('%s')}) AS c, {n}::int8 AS n, {good}::int8 AS g FROM {table} WHERE tag_id = ANY(%s) AND"
        f" {where}"
        " GROUP BY 1, 2) x"
    )
    for tag, start, cnt, g in conn.execute(sql, params):
        acc = out.setdefault(tag, {}).setdefault(p.cell(start), [0, 0])
        acc[0] += cnt
        acc[1] += g


def _hours(
    conn: Conn,
    p: Plan,
    tags: Sequence[int],
    per_hour: dict[int, int | None],
    out: dict[int, dict[int, list[int]]],
) -> None:
    """The hourly part, the bulk of a long window, in one index-only pass per kind of tag that
    groups by tag alone: an hour in which a tag has exactly its expected samples (nearly all of
    them) needs no cell of its own; only the hours that deviate are grouped by cell. A tag
    missing hours altogether is grouped by cell in full instead (_by_cell)."""
    if not p.hours or not tags:
        return
    hours_in: dict[int, int] = {}
    for lo, hi in p.hours:
        for b in range(lo, hi, 3_600_000):
            hours_in[p.cell(b)] = hours_in.get(p.cell(b), 0) + 1
    total = sum(hours_in.values())
    by_per: dict[int | None, list[int]] = {}
    for t in tags:
        by_per.setdefault(per_hour.get(t), []).append(t)
    exact: list[int] = []
    for per, group in sorted(by_per.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        # totals per tag: grouped in index order, in parallel where the planner sees cores
        params: list[object] = [group]
        totals = {
            tag: (cnt, g, k)
            for tag, cnt, g, k in conn.execute(
                "SELECT tag_id, sum(n)::int8, sum(n_good)::int8, count(*) FROM samples_1h"
                f" WHERE tag_id = ANY(%s) AND {_within('bucket', p.hours, params)} GROUP BY 1",
                params,
            )
        }
        devs: dict[int, dict[int, tuple[int, int, int]]] = {}
        if per is not None:  # the hours that deviate from the expected count, by cell
            params = [p.cell_ms / 1000.0, p.cell_base, group]
            where = _within("bucket", p.hours, params)
            params += [per, per]
            for tag, start, cnt, g, k in conn.execute(
                f"SELECT tag_id, {ms('c')}, n, g, k FROM (SELECT tag_id, date_bin(make_interval(secs => %s),"
                f" bucket, {ts('%s')}) AS c, sum(n)::int8 AS n, sum(n_good)::int8 AS g, count(*) AS k"
                f" FROM samples_1h WHERE tag_id = ANY(%s) AND {where} AND (n <> %s OR n_good <> %s)"
                " GROUP BY 1, 2) x",
                params,
            ):
                devs.setdefault(tag, {})[p.cell(start)] = (cnt, g, k)
        for tag in group:
            cnt_all, g_all, k_all = totals.get(tag, (0, 0, 0))
            if per is None:  # totals only (report-by-exception tags: their cells come from silences)
                acc = out.setdefault(tag, {}).setdefault(-1, [0, 0])
                acc[0] += cnt_all
                acc[1] += g_all
                continue
            if k_all != total:
                exact.append(tag)
                continue
            mine = devs.get(tag)
            cells = out.setdefault(tag, {})
            if not mine and not cells:  # the common case: every hour as expected
                cells.update({cell: [per * hours, per * hours] for cell, hours in hours_in.items()})
                continue
            for cell, hours in hours_in.items():
                cnt, g, k = (mine or {}).get(cell, (0, 0, 0))
                acc = cells.setdefault(cell, [0, 0])
                acc[0] += per * (hours - k) + cnt
                acc[1] += per * (hours - k) + g
    _by_cell(conn, p, exact, "samples_1h", "bucket", p.hours, out)


def counts(
    conn: Conn, plans: Sequence[Plan], tag_plan: dict[int, int], per_hour: dict[int, int | None]
) -> dict[int, dict[int, tuple[int, int]]]:
    """n and good per tag and grid cell (cell -1: totals only, for tags given no ``per_hour``)
    over each tag's plan: whole hours from ``samples_1h`` (see _hours), the edges from
    ``samples_1m`` and ``samples``. Plain statements per plan (``tag_id = ANY(...)`` and a time
    range) that the planner can estimate; most enterprises have one plan (one clock)."""
    tags_of: dict[int, list[int]] = {}
    for tag, pid in tag_plan.items():
        tags_of.setdefault(pid, []).append(tag)
    out: dict[int, dict[int, list[int]]] = {}
    for pid, tags in sorted(tags_of.items()):
        p = plans[pid]
        _hours(conn, p, tags, per_hour, out)
        _by_cell(conn, p, tags, "samples_1m", "bucket", p.minutes, out)
        _by_cell(conn, p, tags, "samples", "ts", p.raw, out)
    merged: dict[int, dict[int, tuple[int, int]]] = {}
    for tag, cells in out.items():
        if -1 in cells and len(cells) > 1:  # totals-only tags: everything into one
            n = sum(v[0] for v in cells.values())
            g = sum(v[1] for v in cells.values())
            merged[tag] = {-1: (n, g)}
        else:
            merged[tag] = {c: (v[0], v[1]) for c, v in cells.items()}
    return merged


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
    for k, n, shorts in conn.execute(
        f"{rq} SELECT rq.k, count(*), array_agg({ms('r.bucket')}) FILTER (WHERE r.n_good < %(size)s / rq.iv)"
        f" FROM rq JOIN {table} r ON r.tag_id = rq.t AND r.bucket >= rq.lo AND r.bucket < rq.hi GROUP BY 1",
        {**params, "size": size},
    ):
        present[k] = int(n)
        out.update((requests[k][0], int(b)) for b in shorts or ())
    missing = [k for k, r in enumerate(requests) if present.get(k, 0) < (r[4] - r[3]) // size]
    if missing:  # buckets with no row at all: the absent ones of those ranges
        sub = {key: [v[k] for k in missing] for key, v in params.items()}
        for k, b in conn.execute(
            f"{rq} SELECT rq.k, {ms('b')} FROM rq, generate_series(rq.lo, rq.hi - %(step)s::interval,"
            f" %(step)s::interval) AS b WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE r.tag_id = rq.t"
            " AND r.bucket = b)",
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
