"""Half-open time intervals [lo, hi) in epoch milliseconds: the arithmetic every figure shares.

Kept as plain tuples so the pure functions of the evidence stay cheap and their tests readable.
"""

from __future__ import annotations

from collections.abc import Iterable

Span = tuple[int, int]  # [lo, hi), ms

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def floor_to(t: int, unit: int) -> int:
    return t - t % unit


def ceil_to(t: int, unit: int) -> int:
    return -(-t // unit) * unit


def merge(spans: Iterable[Span], *, join_within: int = 0) -> list[Span]:
    """Sorted, disjoint; spans closer than ``join_within`` become one; empty spans are dropped."""
    out: list[Span] = []
    for lo, hi in sorted(s for s in spans if s[1] > s[0]):
        if out and lo <= out[-1][1] + join_within:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def subtract(spans: Iterable[Span], cut: Iterable[Span]) -> list[Span]:
    """``spans`` minus ``cut`` (both any order); the result is sorted and disjoint."""
    cuts = merge(cut)
    out: list[Span] = []
    for lo, hi in merge(spans):
        pos = lo
        for clo, chi in cuts:
            if chi <= pos or clo >= hi:
                continue
            if clo > pos:
                out.append((pos, clo))
            pos = max(pos, chi)
            if pos >= hi:
                break
        if pos < hi:
            out.append((pos, hi))
    return out


def intersect(spans: Iterable[Span], within: Iterable[Span]) -> list[Span]:
    a, b = merge(spans), merge(within)
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def clip(spans: Iterable[Span], lo: int, hi: int) -> list[Span]:
    return intersect(spans, [(lo, hi)])


def total(spans: Iterable[Span]) -> int:
    return sum(hi - lo for lo, hi in merge(spans))


def expand(spans: Iterable[Span], unit: int) -> list[Span]:
    """Each span widened to whole units (the buckets it touches)."""
    return merge((floor_to(lo, unit), ceil_to(hi, unit)) for lo, hi in spans)
