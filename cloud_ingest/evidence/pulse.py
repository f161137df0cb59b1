"""A device's pulse: the instants at which it delivered good data, and the silences between them.

What is known about a device over its period comes in pieces, from the cheapest source that can
tell: a rollup bucket in which some tag has every expected sample is ``full`` (no silence inside);
one with only bad samples, in full number, is ``bad`` (polled, not readable); one with nothing is
``none``; everything else was read raw and is a list of instants. ``find_silences`` walks them in
order and returns each silence longer than ``gap_factor × spacing`` as [last + spacing, next),
with the bad coverage inside it, so the caller can name a cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from cloud_ingest.evidence.intervals import Span, merge

OFFLINE_PREFIX = "device offline:"


@dataclass(frozen=True, slots=True)
class Instant:
    """One source timestamp of the device: some tag good at it, some bad (with a reason)."""

    ts: int
    good: bool
    bad: bool = False
    offline: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    lo: int
    hi: int
    kind: Literal["full", "bad", "none", "raw"]
    instants: tuple[Instant, ...] = ()
    offline: bool = True  # for kind "bad": the reason said the device was unreachable
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BadSpan:
    lo: int
    hi: int
    offline: bool
    reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    lo: int
    hi: int
    bad: tuple[BadSpan, ...] = field(default=())


def is_offline(reason: str | None) -> bool:
    """The supervisor's reasons for an unreachable device start with "device offline:"; a bad
    sample stored before reasons were kept (NULL) is taken as offline too."""
    return reason is None or reason.startswith(OFFLINE_PREFIX)


def _bad_spans(pieces: Sequence[Piece], spacing: int, join: int) -> list[BadSpan]:
    raw: list[BadSpan] = []
    for p in pieces:
        if p.kind == "bad":
            raw.append(BadSpan(lo=p.lo, hi=p.hi, offline=p.offline, reason=p.reason))
        elif p.kind == "raw":
            raw += [
                BadSpan(lo=i.ts, hi=i.ts + spacing, offline=i.offline, reason=i.reason)
                for i in p.instants
                if i.bad and not i.good
            ]
    raw.sort(key=lambda b: b.lo)
    out: list[BadSpan] = []
    for b in raw:
        last = out[-1] if out else None
        if last is not None and b.lo <= last.hi + join and b.offline == last.offline:
            out[-1] = BadSpan(
                lo=last.lo, hi=max(last.hi, b.hi), offline=last.offline, reason=last.reason or b.reason
            )
        else:
            out.append(b)
    return out


def find_silences(
    pieces: Sequence[Piece], *, period: Span, spacing: int, gap_factor: float, lookback_found: bool
) -> list[Silence]:
    """Silences of the device within ``period`` (pieces sorted, disjoint, covering the period and
    possibly a look-back margin before it). Without a good instant in the look-back, the period
    start counts as one (a window that opens in a silence has a gap from its start + spacing)."""
    p0, p1 = period
    limit = gap_factor * spacing
    # what is known good: instants, and whole full pieces (gap-free by their rollup)
    covered: list[Span] = [] if lookback_found else [(p0, p0)]
    for p in pieces:
        if p.kind == "full":
            covered.append((p.lo, p.hi - 1))
        elif p.kind == "raw":
            covered += [(i.ts, i.ts) for i in p.instants if i.good]
    covered.append((p1, p1))
    covered.sort()
    silences: list[Span] = []
    reach = covered[0][1]
    for lo, hi in covered[1:]:
        if lo - reach > limit:
            a, b = max(reach + spacing, p0), min(lo, p1)
            if b > a:
                silences.append((a, b))
        reach = max(reach, hi)
    if not silences:
        return []
    bad = _bad_spans(pieces, spacing, int(limit - spacing))
    out = []
    for lo, hi in merge(silences):
        inside = tuple(
            BadSpan(lo=max(b.lo, lo), hi=min(b.hi, hi), offline=b.offline, reason=b.reason)
            for b in bad
            if b.hi > lo and b.lo < hi
        )
        out.append(Silence(lo=lo, hi=hi, bad=inside))
    return out
