"""Per-tag expected, credited and completeness (docs/evidence.md §7), and their grid cells.

Every-reading tags are counted (event-weighted); report-by-exception tags are judged by their
silences (time-weighted). Periods are in the gateway's clock; the caller gives the counts the
queries found and, for report-by-exception tags, their silences.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cloud_ingest.evidence.intervals import Span, clip, merge, total
from cloud_ingest.evidence.queries_samples import TagSilences

DEFAULT_HEARTBEAT_MS = 60_000


@dataclass(frozen=True, slots=True, kw_only=True)
class TagResult:
    expected: int
    credited: float
    stored: int
    good: int
    completeness: float | None
    cells: dict[int, tuple[float, float]]  # cell -> (credited, expected)
    missing: tuple[Span, ...] = ()  # change tags: the silences counted as missing


def cell_spans(period: Span, *, base: int, cell_ms: int) -> dict[int, Span]:
    return dict(_cell_spans(period, base, cell_ms))


@functools.lru_cache(maxsize=256)  # every tag of a plan has the same period and cells
def _cell_spans(period: Span, base: int, cell_ms: int) -> tuple[tuple[int, Span], ...]:
    lo, hi = period
    out: dict[int, Span] = {}
    if hi <= lo:
        return ()
    c = (lo - base) // cell_ms
    while True:
        a, b = base + c * cell_ms, base + (c + 1) * cell_ms
        if a >= hi:
            break
        out[c] = (max(a, lo), min(b, hi))
        c += 1
    return tuple(out.items())


@functools.lru_cache(maxsize=256)
def _cell_expected(
    period: Span, base: int, cell_ms: int, interval_ms: int
) -> tuple[tuple[int, int, float], ...]:
    return tuple(
        (c, (hi - lo) // interval_ms, float((hi - lo) // interval_ms))
        for c, (lo, hi) in _cell_spans(period, base, cell_ms)
    )


def every_reading(
    period: Span, *, interval_ms: int, cells: Mapping[int, Sequence[int]], base: int, cell_ms: int
) -> TagResult:
    """``cells``: cell -> (stored, good) (or a list of the two)."""
    # written for speed: a month of 1,500 tags is 45,000 cells
    counted = cells.values()
    stored = sum([v[0] for v in counted])
    good = sum([v[1] for v in counted])
    expected = max(0, (period[1] - period[0]) // interval_ms)
    get, zero = cells.get, (0, 0)
    grid = {}
    for c, exp_c, exp_f in _cell_expected(period, base, cell_ms, interval_ms):
        g = get(c, zero)[1]
        grid[c] = (float(g) if g < exp_c else exp_f, exp_f)
    credited = float(min(good, expected))
    return TagResult(
        expected=expected,
        credited=credited,
        stored=stored,
        good=good,
        completeness=None if not expected else round(credited / expected, 6),
        cells=grid,
    )


def silence_spans(s: TagSilences, *, period: Span, heartbeat_ms: int, limit_ms: int) -> list[Span]:
    """The missing stretches of a report-by-exception tag: after each silence longer than the
    limit, from one heartbeat after the last report until the next (docs/evidence.md §7)."""
    p0, p1 = period
    spans = [(prev + heartbeat_ms, nxt) for prev, nxt in s.silences]
    first = s.first if s.first is not None and s.first >= p0 else None
    if s.first is None or s.first >= p0:  # nothing in the look-back: the period start counts as a report
        nxt = p1 if first is None else first
        if nxt - p0 > limit_ms:
            spans.append((p0 + heartbeat_ms, nxt))
    if s.last is not None and p1 - s.last > limit_ms:
        spans.append((s.last + heartbeat_ms, p1))
    return clip(merge(spans), p0, p1)


def by_exception(
    period: Span,
    *,
    heartbeat_ms: int | None,
    interval_ms: int | None,
    gap_factor: float,
    silences: TagSilences,
    cells: Mapping[int, Sequence[int]],
    base: int,
    cell_ms: int,
) -> TagResult:
    hb = heartbeat_ms or DEFAULT_HEARTBEAT_MS
    limit = int(hb + gap_factor * (interval_ms or 0))
    missing = silence_spans(silences, period=period, heartbeat_ms=hb, limit_ms=limit)
    length = period[1] - period[0]
    expected = max(0, length // hb)
    completeness = None if length <= 0 else round(1 - total(missing) / length, 6)
    grid: dict[int, tuple[float, float]] = {}
    for c, (lo, hi) in cell_spans(period, base=base, cell_ms=cell_ms).items():
        exp_c = (hi - lo) / hb
        grid[c] = (exp_c * (1 - total(clip(missing, lo, hi)) / (hi - lo)), exp_c)
    return TagResult(
        expected=expected,
        credited=expected * (completeness or 0.0),
        stored=sum(n for n, _ in cells.values()),
        good=sum(g for _, g in cells.values()),
        completeness=completeness if expected else None,
        cells=grid,
        missing=tuple(missing),
    )


def limit_of(*, heartbeat_ms: int | None, interval_ms: int | None, gap_factor: float) -> int:
    return int((heartbeat_ms or DEFAULT_HEARTBEAT_MS) + gap_factor * (interval_ms or 0))


def grid_row(results: Sequence[TagResult], cells: Sequence[int]) -> list[float | None]:
    cred = dict.fromkeys(cells, 0.0)
    exp = dict.fromkeys(cells, 0.0)
    for r in results:
        for c, (a, b) in r.cells.items():
            if c in cred:
                cred[c] += a
                exp[c] += b
    return [None if exp[c] <= 0 else round(min(1.0, cred[c] / exp[c]), 6) for c in cells]
