"""Latency percentiles and the gateway clock verdict, from the ledger's binned latencies.

The database bins each batch's latency (queries.LATENCY_BINS: 1 ms below one second, 1 %
above, sign kept) and returns (bin, samples) pairs; percentiles are nearest-rank over them, so
a month of batches costs one aggregate in the database and a few hundred pairs here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from cloud_ingest.evidence.schema import HistogramBin, Percentiles

QUANTILES = (0.50, 0.95, 0.99)
# display bins of the total latency (ms, upper edges): what the report's histogram draws
DISPLAY_EDGES = (
    0,
    10,
    20,
    50,
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
    3_600_000,
)


def bin_value(ms: float) -> float:
    """The same binning as the SQL (for tests and for values computed here)."""
    if abs(ms) < 1000:
        return float(round(ms))
    return math.copysign(round(math.exp(round(math.log(abs(ms)) * 100) / 100)), ms)


def weighted_quantiles(
    points: Iterable[tuple[float, int]], qs: Sequence[float] = QUANTILES
) -> list[float | None]:
    """Nearest rank: the smallest value whose cumulative weight reaches q × total."""
    pts = sorted((v, w) for v, w in points if w > 0)
    total = sum(w for _, w in pts)
    if not total:
        return [None] * len(qs)
    out: list[float | None] = []
    for q in qs:
        need, acc = q * total, 0
        value = pts[-1][0]
        for v, w in pts:
            acc += w
            if acc >= need:
                value = v
                break
        out.append(float(value))
    return out


def percentiles(points: Sequence[tuple[float, int]], *, exact_max: float | None) -> Percentiles:
    p50, p95, p99 = weighted_quantiles(points)
    return Percentiles(p50=p50, p95=p95, p99=p99, max=exact_max)


def histogram(points: Sequence[tuple[float, int]]) -> list[HistogramBin]:
    counts = [0] * (len(DISPLAY_EDGES) + 1)
    for v, w in points:
        i = next((k for k, edge in enumerate(DISPLAY_EDGES) if v <= edge), len(DISPLAY_EDGES))
        counts[i] += w
    edges = [*map(float, DISPLAY_EDGES), math.inf]
    return [
        HistogramBin(le_ms=e if math.isfinite(e) else 1e12, n=n) for e, n in zip(edges, counts, strict=True)
    ]


def clock_verdict(offset_ms: float | None, *, tolerance_ms: float) -> tuple[bool | None, bool]:
    """(clock_ok, corrected): a clock beyond the tolerance is flagged and its data corrected."""
    if offset_ms is None:
        return None, False
    ok = abs(offset_ms) <= tolerance_ms
    return ok, not ok
