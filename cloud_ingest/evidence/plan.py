"""Which source answers each stretch of a window: the daily, hourly or minute rollup, or the raw
samples.

A period is first cut at the grid's cell boundaries (so every piece belongs to one cell of the
completeness grid); in each piece the whole hours come from ``samples_1h``, the whole minutes
left from ``samples_1m``, and the rest — the window's edges, and every bucket that a batch not yet
rolled up touches — from ``samples``. Then every whole UTC day made of such hours goes to
``samples_1d`` instead (``days``; the rest stays in ``hours``). The four sets are disjoint and
cover the period exactly, so a count summed over them is exact. A day may hold a cell boundary
(a grid of local days, or of hours): its hours never do, so a day is read as one only where it
is known to hold its expected samples in every hour (queries_samples._days), and by its hours
otherwise. Periods are in the gateway's clock (the window shifted by the gateway's corrected
offset), so ``cell_base`` is the window start in that clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloud_ingest.evidence.intervals import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Span,
    ceil_to,
    expand,
    floor_to,
    merge,
    subtract,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    period: Span
    cell_base: int
    cell_ms: int
    hours: tuple[Span, ...]
    minutes: tuple[Span, ...]
    raw: tuple[Span, ...]
    days: tuple[Span, ...] = ()  # whole UTC days, each made of hours of the plan (not in ``hours``)

    def cell(self, t: int) -> int:
        return (t - self.cell_base) // self.cell_ms


def _whole(spans: Sequence[Span], unit: int, pending: Sequence[Span]) -> tuple[list[Span], list[Span]]:
    """(whole-unit parts not touched by pending, the rest)."""
    inner = [(ceil_to(lo, unit), floor_to(hi, unit)) for lo, hi in spans]
    whole = subtract([s for s in inner if s[1] > s[0]], expand(pending, unit))
    return whole, subtract(spans, whole)


def make_plan(period: Span, *, cell_base: int, cell_ms: int, pending: Sequence[Span] = ()) -> Plan:
    """``pending``: spans of samples the rollups may not hold yet (half-open, gateway clock)."""
    lo, hi = period
    if hi <= lo:
        return Plan(period=period, cell_base=cell_base, cell_ms=cell_ms, hours=(), minutes=(), raw=())
    first = cell_base + (lo - cell_base) // cell_ms * cell_ms
    edges = list(range(first + cell_ms, hi, cell_ms))
    pieces = [(a, b) for a, b in zip([lo, *edges], [*edges, hi], strict=True) if b > a]
    hours, rest = _whole(pieces, HOUR_MS, pending)
    minutes, raw = _whole(rest, MINUTE_MS, pending)
    # whole days of those hours (merged first: a cell boundary inside a day cuts pieces, not hours)
    days = [(ceil_to(a, DAY_MS), floor_to(b, DAY_MS)) for a, b in merge(hours)]
    days = [d for d in days if d[1] > d[0]]
    # contiguous ranges merge: no hour or minute bucket crosses a cell boundary, so the cell of
    # each row is computed from its bucket, and one range per stretch keeps the index scans few
    return Plan(
        period=period,
        cell_base=cell_base,
        cell_ms=cell_ms,
        hours=tuple(subtract(hours, days)),
        minutes=tuple(merge(minutes)),
        raw=tuple(merge(raw)),
        days=tuple(days),
    )
