"""Gaps of one device with their causes: silences of its pulse (pulse.py) and stretches of late
data, turned into the disjoint, sorted list the figures show (docs/evidence.md §10).

Every input is already in the gateway's clock and limited to the device; the caller converts
the result to cloud time. The order of causes is the documented one: bad samples first (the
gateway said why), then what the cloud and the gateway recorded about a stretch with no data at
all (dead letters, drop counters, skipped polls, the gateway's own absence), else ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cloud_ingest.evidence.intervals import Span, intersect, merge, subtract, total
from cloud_ingest.evidence.pulse import Silence
from cloud_ingest.evidence.schema import GapCause


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterDelta:
    """How the gateway's counters for the device grew across a stretch."""

    dropped: dict[str, int]
    skipped_polls: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RawGap:
    lo: int
    hi: int
    cause: GapCause
    detail: str | None = None
    dropped: dict[str, int] | None = None


Deltas = Callable[[int, int], CounterDelta]


def _no_data_cause(
    lo: int, hi: int, *, rejected: Sequence[Span], deltas: Deltas, gateway_offline: Sequence[Span]
) -> RawGap:
    if intersect([(lo, hi)], rejected):
        return RawGap(lo=lo, hi=hi, cause="rejected", detail="data rejected by the cloud (dead letter)")
    delta = deltas(lo, hi)
    dropped = {k: v for k, v in sorted(delta.dropped.items()) if v > 0}
    if dropped:
        return RawGap(
            lo=lo,
            hi=hi,
            cause="dropped_at_gateway",
            dropped=dropped,
            detail=", ".join(f"{k} {v}" for k, v in dropped.items()),
        )
    if delta.skipped_polls > 0:
        return RawGap(lo=lo, hi=hi, cause="gateway_overrun", detail=f"{delta.skipped_polls} polls skipped")
    if total(intersect([(lo, hi)], gateway_offline)) * 2 > hi - lo:
        return RawGap(lo=lo, hi=hi, cause="gateway_offline")
    return RawGap(lo=lo, hi=hi, cause="unknown")


def blanks(s: Silence, *, sliver: int) -> list[Span]:
    """The parts of a silence with no sample at all. A part between bad samples on both sides
    belongs to them (the gateway was busy trying to reach the device and skipped a poll), and so
    does one shorter than ``sliver`` beside them (a poll's jitter)."""
    covered = merge((b.lo, b.hi) for b in s.bad)
    ends, starts = {hi for _, hi in covered}, {lo for lo, _ in covered}
    out = []
    for lo, hi in subtract([(s.lo, s.hi)], covered):
        before, after = lo in ends, hi in starts
        if (before and after) or ((before or after) and hi - lo < sliver):
            continue
        out.append((lo, hi))
    return out


def classify(
    silences: Sequence[Silence],
    *,
    late: Sequence[Span],
    rejected: Sequence[Span],
    deltas: Deltas,
    gateway_offline: Sequence[Span],
    sliver: int = 0,
) -> list[RawGap]:
    """The device's gaps: each silence split by its bad coverage (which grows over slivers),
    the rest classified; then stretches of late data outside every silence. Adjacent gaps of
    the same cause merge."""
    out: list[RawGap] = []
    for s in silences:
        empty = blanks(s, sliver=sliver)
        for clo, chi in subtract([(s.lo, s.hi)], empty):
            inside = sorted((b for b in s.bad if b.hi > clo and b.lo < chi), key=lambda b: b.lo)
            for i, b in enumerate(inside):  # what lies between two kinds goes to the earlier
                lo = clo if i == 0 else b.lo
                hi = inside[i + 1].lo if i + 1 < len(inside) else chi
                out.append(
                    RawGap(
                        lo=lo, hi=hi, cause="device_offline" if b.offline else "bad_value", detail=b.reason
                    )
                )
        for lo, hi in empty:
            out.append(
                _no_data_cause(lo, hi, rejected=rejected, deltas=deltas, gateway_offline=gateway_offline)
            )
    for lo, hi in subtract(late, [(s.lo, s.hi) for s in silences]):
        out.append(
            RawGap(lo=lo, hi=hi, cause="delivered_late", detail="buffered at the gateway, delivered later")
        )
    out.sort(key=lambda g: g.lo)
    merged: list[RawGap] = []
    for g in out:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.cause == g.cause
            and g.lo <= last.hi
            and last.dropped == g.dropped
            and (last.detail == g.detail or g.cause in ("device_offline", "bad_value"))
        ):
            merged[-1] = RawGap(
                lo=last.lo, hi=max(last.hi, g.hi), cause=g.cause, detail=last.detail, dropped=last.dropped
            )
        else:
            merged.append(g)
    return merged


def late_spans(batches: Sequence[Span], *, spacing: int, gap_factor: float, period: Span) -> list[Span]:
    """Stretches of a device's late data: each late batch's source-time span plus one spacing,
    joined where the next late batch follows within the gap limit, clipped to the period."""
    join = int((gap_factor - 1) * spacing)
    spans = merge(((lo, hi + spacing) for lo, hi in batches), join_within=join)
    return intersect(spans, [period])


def offline_time(gaps: Sequence[RawGap]) -> int:
    """What the online ratio subtracts: every gap but late delivery."""
    return total((g.lo, g.hi) for g in gaps if g.cause != "delivered_late")
