"""Queries over the samples and their rollups for the tag figures: counts per tag and grid cell,
and report-by-exception silences (the device pass's queries are in queries_states.py).

Every range is given in epoch ms of the gateway's clock; plans (plan.py) decide which table
answers which range. Requests travel as arrays unnested in the statement, so one statement
serves every tag of the enterprise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloud_ingest.evidence.intervals import DAY_MS, HOUR_MS
from cloud_ingest.evidence.plan import Plan
from cloud_ingest.evidence.queries_registry import Conn, ms, ts


def _uniform(per: int) -> str:
    """A day known to hold, in every one of its 24 hours, exactly the ``per`` samples an hour
    expects, all good: each hour's good count is at least ``per`` and the day's count is 24 per,
    so no hour has more or fewer samples, or bad ones, whatever cells the day's hours fall in."""
    return f"(hours = 24 AND n_good_min = {int(per)} AND n = {24 * int(per)})"


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



def _rows(table: str, cols: str, col: str, tags: Sequence[int], spans: Sequence[tuple[int, int]],
          params: list[object]) -> str:
    """The rows of ``tags`` in the spans, one plain range scan per span (UNION ALL): the several
    spans of one condition (``_within``) made the planner OR two bitmaps and visit the table for
    every row, where a range each is read from the covering index alone (index-only)."""
    parts = []
    for lo, hi in spans:
        params += [list(tags), lo, hi]
        parts.append(f"SELECT {cols} FROM {table} WHERE tag_id = ANY(%s) AND {col} >= {ts('%s')}"
                     f" AND {col} < {ts('%s')}")
    return "(" + " UNION ALL ".join(parts) + ") r"

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
    params: list[object] = [p.cell_ms / 1000.0, p.cell_base]
    cols = f"tag_id, {col}, quality" if table == "samples" else f"tag_id, {col}, n, n_good"
    src = _rows(table, cols, col, tags, spans, params)
    sql = (
        f"SELECT tag_id, {ms('c')}, n, g FROM (SELECT tag_id, date_bin(make_interval(secs => %s), {col},"
        f" {ts('%s')}) AS c, {n}::int8 AS n, {good}::int8 AS g FROM {src} GROUP BY 1, 2) x"
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
        # one pass over the tags' hours, grouped in index order: the hours as expected fall into
        # one row per tag (no cell), the hours that deviate into a row per (tag, cell)
        totals: dict[int, tuple[int, int, int]] = {}
        devs: dict[int, dict[int, tuple[int, int, int]]] = {}
        if per is None:  # totals only
            cell_sql = "NULL::int8"
            params: list[object] = []
        else:
            binned = f"date_bin(make_interval(secs => %s), bucket, {ts('%s')})"
            cell_sql = f"CASE WHEN n <> %s OR n_good <> %s THEN {ms(binned)} END"
            params = [per, per, p.cell_ms / 1000.0, p.cell_base]
        src = _rows("samples_1h", "tag_id, bucket, n, n_good", "bucket", group, p.hours, params)
        for tag, start, cnt, g, k in conn.execute(
            f"SELECT tag_id, {cell_sql} AS c, sum(n)::int8, sum(n_good)::int8, count(*) FROM {src}"
            " GROUP BY 1, 2",
            params,
        ):
            c0, g0, k0 = totals.get(tag, (0, 0, 0))
            totals[tag] = (c0 + cnt, g0 + g, k0 + k)
            if start is not None:
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


def _days(
    conn: Conn,
    p: Plan,
    tags: Sequence[int],
    per_hour: dict[int, int | None],
    out: dict[int, dict[int, list[int]]],
) -> None:
    """The whole days, the bulk of a long window, from ``samples_1d``: one row per tag and day
    instead of 24. A day that is uniform (_uniform) adds the expected count to each cell for each
    of its hours there; only the days that are not are read by their hours (cells never cut an
    hour). A tag with no row for some day had no sample in it. Report-by-exception tags need
    totals only; tags whose interval does not divide an hour are read by their hours."""
    if not p.days or not tags:
        return
    day_starts = [d for lo, hi in p.days for d in range(lo, hi, DAY_MS)]
    cells_of: dict[int, dict[int, int]] = {}  # day -> cell -> hours of the day in it
    whole: dict[int, int] = {}  # cell -> hours of every day in it
    for d in day_starts:
        per_cell = cells_of.setdefault(d, {})
        for b in range(d, d + DAY_MS, HOUR_MS):
            per_cell[p.cell(b)] = per_cell.get(p.cell(b), 0) + 1
            whole[p.cell(b)] = whole.get(p.cell(b), 0) + 1
    by_per: dict[int | None, list[int]] = {}
    for t in tags:
        by_per.setdefault(per_hour.get(t), []).append(t)
    by_hour: list[int] = list(by_per.pop(0, []))  # every hour grouped by cell
    read: list[tuple[int, int, int, int]] = []  # (tag, day, n, good) of the days not uniform
    for per, group in sorted(by_per.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        params: list[object] = [group]
        where = _within("bucket", p.days, params)
        if per is None:  # totals only (their cells come from silences)
            for tag, cnt, g in conn.execute(
                f"SELECT tag_id, sum(n)::int8, sum(n_good)::int8 FROM samples_1d WHERE tag_id = ANY(%s)"
                f" AND {where} GROUP BY 1",
                params,
            ):
                acc = out.setdefault(tag, {}).setdefault(-1, [0, 0])
                acc[0] += cnt
                acc[1] += g
            continue
        # per tag: how many days have a row, and which of them are not uniform (a short list)
        missing: list[int] = []
        seen: set[int] = set()
        for tag, k, odd in conn.execute(
            f"SELECT tag_id, count(*), array_agg(ARRAY[{ms('bucket')}, n, n_good])"
            f" FILTER (WHERE NOT {_uniform(per)}) FROM samples_1d WHERE tag_id = ANY(%s) AND {where}"
            " GROUP BY 1",
            params,
        ):
            seen.add(tag)
            if k != len(day_starts):
                missing.append(tag)
                continue
            cells = out.get(tag)
            if cells is None:  # the common case (no edge hours before): every day as expected
                cells = out[tag] = {cell: [per * hours, per * hours] for cell, hours in whole.items()}
            else:
                for cell, hours in whole.items():
                    acc = cells.setdefault(cell, [0, 0])
                    acc[0] += per * hours
                    acc[1] += per * hours
            for d, n, g in odd or ():
                read.append((tag, int(d), int(n), int(g)))  # its own counts replace the expected
                for cell, hours in cells_of[int(d)].items():
                    cells[cell][0] -= per * hours
                    cells[cell][1] -= per * hours
        missing += [t for t in group if t not in seen]
        if missing:  # days with no row at all (no sample): the others one by one
            params = [missing]
            where = _within("bucket", p.days, params)
            for tag, d, uniform, n, g in conn.execute(
                f"SELECT tag_id, {ms('bucket')}, {_uniform(per)}, n, n_good FROM samples_1d"
                f" WHERE tag_id = ANY(%s) AND {where}",
                params,
            ):
                if not uniform:
                    read.append((tag, int(d), int(n), int(g)))
                    continue
                cells = out.setdefault(tag, {})
                for cell, hours in cells_of[int(d)].items():
                    acc = cells.setdefault(cell, [0, 0])
                    acc[0] += per * hours
                    acc[1] += per * hours
    _by_cell(conn, p, by_hour, "samples_1h", "bucket", p.days, out)
    _uneven_days(conn, p, read, cells_of, out)


def _uneven_days(
    conn: Conn,
    p: Plan,
    read: Sequence[tuple[int, int, int, int]],
    cells_of: dict[int, dict[int, int]],
    out: dict[int, dict[int, list[int]]],
) -> None:
    """The days that are not uniform, (tag, day, n, good) from ``samples_1d``, into their cells.
    A day in one cell adds its own counts; a day a cell boundary cuts in two (day cells that do
    not begin at UTC midnight) reads the hours of its shorter side, and the other side has the
    rest of the day's counts (a day's row is its hours summed: rollups.py); a day cut more often
    (hour cells) reads all its hours."""
    ranges: list[tuple[int, int, int]] = []  # (tag, lo, hi) read by its hours
    rest: list[tuple[int, int, int, int] | None] = []  # per range: (tag, other cell, n, good)
    for tag, d, n, g in read:
        parts = sorted(cells_of[d].items())  # cells in time order, with their hours of the day
        if len(parts) == 1:
            acc = out.setdefault(tag, {}).setdefault(parts[0][0], [0, 0])
            acc[0] += n
            acc[1] += g
        elif len(parts) == 2:
            (first, hours), (second, _) = parts
            cut = d + hours * HOUR_MS
            if hours <= 12:
                ranges.append((tag, d, cut))
                rest.append((tag, second, n, g))
            else:
                ranges.append((tag, cut, d + DAY_MS))
                rest.append((tag, first, n, g))
        else:
            ranges.append((tag, d, d + DAY_MS))
            rest.append(None)
    if not ranges:
        return
    found: dict[int, list[int]] = {}  # range -> [n, good] read
    # each range one index range of hours: as a plain join the planner, blind to how few the
    # ranges are, hashes every hour of every tag (a month of 1,500 tags: 1.08 M rows per plan);
    # OFFSET 0 keeps the lateral scan from being flattened back into that join
    binned = f"date_bin(make_interval(secs => %s), h.bucket, {ts('%s')})"
    for k, tag, start, cnt, g in conn.execute(
        f"SELECT x.k, x.t, {ms(binned)}, sum(h.n)::int8, sum(h.n_good)::int8"
        " FROM unnest(%s::int[], %s::int8[], %s::int8[]) WITH ORDINALITY AS x(t, lo, hi, k)"
        " CROSS JOIN LATERAL"
        " (SELECT r.bucket, r.n, r.n_good FROM samples_1h r WHERE r.tag_id = x.t"
        f" AND r.bucket >= {ts('x.lo')} AND r.bucket < {ts('x.hi')} OFFSET 0) h"
        " GROUP BY 1, 2, 3",
        (
            p.cell_ms / 1000.0,
            p.cell_base,
            [t for t, _, _ in ranges],
            [lo for _, lo, _ in ranges],
            [hi for _, _, hi in ranges],
        ),
    ):
        acc = out.setdefault(tag, {}).setdefault(p.cell(start), [0, 0])
        acc[0] += cnt
        acc[1] += g
        part = found.setdefault(int(k) - 1, [0, 0])
        part[0] += cnt
        part[1] += g
    for k, other in enumerate(rest):
        if other is None:
            continue
        tag, cell, n, g = other
        n_read, g_read = found.get(k, (0, 0))
        acc = out.setdefault(tag, {}).setdefault(cell, [0, 0])
        acc[0] += n - n_read
        acc[1] += g - g_read


def counts(
    conn: Conn, plans: Sequence[Plan], tag_plan: dict[int, int], per_hour: dict[int, int | None]
) -> dict[int, dict[int, list[int]]]:
    """[n, good] per tag and grid cell (cell -1: totals only, for tags given no ``per_hour``)
    over each tag's plan: whole days from ``samples_1d`` (see _days), the hours left from
    ``samples_1h`` (see _hours), the edges from ``samples_1m`` and ``samples``. Plain statements
    per plan (``tag_id = ANY(...)`` and a time range) that the planner can estimate; most
    enterprises have one plan (one clock)."""
    tags_of: dict[int, list[int]] = {}
    for tag, pid in tag_plan.items():
        tags_of.setdefault(pid, []).append(tag)
    out: dict[int, dict[int, list[int]]] = {}
    for pid, tags in sorted(tags_of.items()):
        p = plans[pid]
        _hours(conn, p, tags, per_hour, out)
        _days(conn, p, tags, per_hour, out)
        _by_cell(conn, p, tags, "samples_1m", "bucket", p.minutes, out)
        _by_cell(conn, p, tags, "samples", "ts", p.raw, out)
    for tag, cells in out.items():
        if -1 in cells and len(cells) > 1:  # totals-only tags: everything into one
            n = sum(v[0] for v in cells.values())
            g = sum(v[1] for v in cells.values())
            out[tag] = {-1: [n, g]}
    return out  # lists as they were summed (45,000 cells a month: no copies into tuples)


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
