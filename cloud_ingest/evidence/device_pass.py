"""Finding every device's silences cheaply: rollups first, raw samples only where they are needed.

For each device: the whole days of its plan are screened in ``samples_1d`` (a day in which the
screening tag is full in every hour needs none of its hours looked at; the other days join the
hours). The hours are asked for their state in ``samples_1h``; an hour in which some
every-reading tag has all its good samples is gap-free and is never looked at again.
Hours that are short go down to ``samples_1m`` (when the device is fast enough to fill a
minute), and minutes that are short — with the plan's raw edges, a margin of two spacings around
every short stretch, and a look-back before the period — are read raw. Buckets with no sample at
all, or only bad ones in full number, are known from the rollup alone. The pieces then go to
``pulse.find_silences``. Three statements per level for all devices together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloud_ingest.evidence import queries_states as qs
from cloud_ingest.evidence.intervals import DAY_MS, HOUR_MS, MINUTE_MS, Span, merge, subtract
from cloud_ingest.evidence.plan import Plan
from cloud_ingest.evidence.pulse import Piece, Silence, find_silences
from cloud_ingest.evidence.queries_registry import Conn


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceJob:
    device_id: int
    plan: Plan  # over the device's period, gateway clock
    spacing: int  # expected spacing of its pulse, ms
    gap_factor: float
    fastest_all_ms: int | None  # shortest interval of its every-reading tags (None: none)
    screen_tag: int | None = None  # a tag at that interval with the most good samples: screens buckets

    @property
    def margin(self) -> int:
        return 2 * self.spacing

    def uses(self, size: int) -> bool:
        return self.fastest_all_ms is not None and self.fastest_all_ms <= size


@dataclass
class _Known:
    bad: list[tuple[int, int, int]]  # (lo, hi, seen) buckets with only bad samples in full number
    none: list[Span]
    raw: list[Span]


def _split(
    states: Sequence[qs.BucketState], size: int, known: dict[int, _Known], partial: dict[int, list[Span]]
) -> None:
    for s in states:
        k = known[s.device_id]
        span = (s.bucket, s.bucket + size)
        if s.n == 0:
            k.none.append(span)
        elif s.good == 0 and s.full_any:
            k.bad.append((span[0], span[1], s.n))
        else:
            partial.setdefault(s.device_id, []).append(span)


def _screened(
    conn: Conn, level: str, size: int, requests: Sequence[tuple[int, int, int]], jobs: dict[int, DeviceJob]
) -> list[tuple[int, int, int]]:
    """The requests narrowed to the buckets where the device's screening tag is short (a month
    of hours costs one tag per device instead of all of them); devices without one go whole."""
    screen = [
        (d, jobs[d].screen_tag or 0, jobs[d].fastest_all_ms or 1, lo, hi)
        for d, lo, hi in requests
        if jobs[d].screen_tag is not None
    ]
    out = [(d, lo, hi) for d, lo, hi in requests if jobs[d].screen_tag is None]
    by_dev: dict[int, list[Span]] = {}
    for d, b in qs.short_buckets(conn, level, screen):
        by_dev.setdefault(d, []).append((b, b + size))
    for d, spans in sorted(by_dev.items()):
        out += [(d, lo, hi) for lo, hi in merge(spans)]
    return out


def silences(conn: Conn, jobs: Sequence[DeviceJob]) -> dict[int, list[Silence]]:
    known = {j.device_id: _Known([], [], []) for j in jobs}
    by_id = {j.device_id: j for j in jobs}
    day_rq, hour_rq, minute_rq = [], [], []
    for j in jobs:
        k = known[j.device_id]
        k.raw += j.plan.raw
        # a device too slow to fill an hour (or reporting only by exception) is read raw: it is
        # light by construction
        for lo, hi in j.plan.days:
            if j.uses(HOUR_MS):
                day_rq.append((j.device_id, lo, hi))
            else:
                k.raw.append((lo, hi))
        for lo, hi in j.plan.hours:
            if j.uses(HOUR_MS):
                hour_rq.append((j.device_id, lo, hi))
            else:
                k.raw.append((lo, hi))
        for lo, hi in j.plan.minutes:
            if j.uses(MINUTE_MS):
                minute_rq.append((j.device_id, lo, hi))
            else:
                k.raw.append((lo, hi))
    hour_rq += _screened(conn, "d", DAY_MS, day_rq, by_id)  # the short days go on as hours
    partial: dict[int, list[Span]] = {}
    _split(qs.states(conn, "h", _screened(conn, "h", HOUR_MS, hour_rq, by_id)), HOUR_MS, known, partial)
    for dev, spans in partial.items():
        for lo, hi in spans:
            if by_id[dev].uses(MINUTE_MS):
                minute_rq.append((dev, lo, hi))
            else:
                known[dev].raw.append((lo, hi))
    partial = {}
    _split(qs.states(conn, "m", _screened(conn, "m", MINUTE_MS, minute_rq, by_id)), MINUTE_MS, known, partial)
    for dev, spans in partial.items():
        known[dev].raw += spans
    raw_rq: list[tuple[int, int, int]] = []
    for j in jobs:
        k = known[j.device_id]
        p0, p1 = j.plan.period
        short = merge([*k.none, *((lo, hi) for lo, hi, _ in k.bad), *k.raw])
        # the look-back (a good sample just before the period?) matters only when the period opens
        # short: a full first bucket has its first sample within a spacing of the start
        extra = [(p0 - j.margin, p0)] if any(lo <= p0 < hi for lo, hi in short) else []
        for lo, hi in short:
            extra += [(lo - j.margin, lo), (hi, hi + j.margin)]
        k.raw = merge((max(lo, p0 - j.margin), min(hi, p1)) for lo, hi in [*k.raw, *extra]
                      if hi > p0 - j.margin)
        # a margin may reach into a bucket known as bad or empty: the raw read decides there
        k.none = subtract(k.none, k.raw)
        k.bad = [(lo, hi, 0) for lo, hi in merge(subtract([(lo, hi) for lo, hi, _ in k.bad], k.raw))]
        raw_rq += [(j.device_id, lo, hi) for lo, hi in k.raw]
    raws = qs.pulse(conn, raw_rq)
    reasons = qs.bad_reasons(conn, [(d, lo, hi) for d, k in known.items() for lo, hi, _ in k.bad])
    out: dict[int, list[Silence]] = {}
    for j in jobs:
        k = known[j.device_id]
        p0, p1 = j.plan.period
        pieces: list[Piece] = []
        for lo, hi, instants in raws.get(j.device_id, []):
            pieces.append(Piece(lo=lo, hi=hi, kind="raw", instants=tuple(instants)))
        for lo, hi in k.none:
            pieces.append(Piece(lo=lo, hi=hi, kind="none"))
        for lo, hi, _ in k.bad:
            offline, reason = reasons.get((j.device_id, lo, hi), (True, None))
            pieces.append(Piece(lo=lo, hi=hi, kind="bad", offline=offline, reason=reason))
        covered = [(p.lo, p.hi) for p in pieces]
        for lo, hi in subtract([(p0 - j.margin, p1)], covered):
            pieces.append(Piece(lo=lo, hi=hi, kind="full"))
        pieces.sort(key=lambda p: p.lo)
        lookback = any(i.good and i.ts < p0 for p in pieces if p.kind == "raw" for i in p.instants)
        out[j.device_id] = find_silences(
            [p for p in pieces if p.hi > p0 or p.kind == "raw"],
            period=(p0, p1),
            spacing=j.spacing,
            gap_factor=j.gap_factor,
            lookback_found=lookback,
        )
    return out
