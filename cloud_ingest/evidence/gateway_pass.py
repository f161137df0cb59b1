"""Per gateway: clock offset, online stretches, ledger counts, dead letters and the loss
reconciliation (queries + the pure functions of sessions.py and reconcile.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cloud_ingest.evidence import dead_letters as dl
from cloud_ingest.evidence import queries_ledger as ql
from cloud_ingest.evidence import queries_registry as qr
from cloud_ingest.evidence.intervals import Span
from cloud_ingest.evidence.latency import clock_verdict
from cloud_ingest.evidence.queries_registry import Conn
from cloud_ingest.evidence.reconcile import (
    ZERO,
    DeviceStretch,
    Snapshot,
    StreamStretch,
    reconcile_gateway,
    unexplained,
)
from cloud_ingest.evidence.records import DeviceRow, GatewayRow, ReportRow
from cloud_ingest.evidence.schema import GatewayReconciliation, Parameters
from cloud_ingest.evidence.sessions import Event, Stretch, stretches
from cloud_ingest.evidence.window import from_ms

STALE_AFTER_MS = 300_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Clock:
    offset_ms: float | None
    ok: bool | None
    corrected: bool

    @property
    def shift(self) -> int:
        """What to subtract from this gateway's times (0 unless corrected)."""
        return round(self.offset_ms) if self.corrected and self.offset_ms is not None else 0


def clocks(
    conn: Conn, gateways: Sequence[GatewayRow], *, start: int, end: int, params: Parameters
) -> dict[int, Clock]:
    offsets = ql.clock_offsets(conn, [g.id for g in gateways], start=start, end=end)
    out = {}
    for g in gateways:
        off = offsets.get(g.id)
        ok, corrected = clock_verdict(off, tolerance_ms=params.clock_tolerance_ms)
        out[g.id] = Clock(offset_ms=off, ok=ok, corrected=corrected)
    return out


def online(
    conn: Conn,
    gateways: Sequence[GatewayRow],
    *,
    start: int,
    end: int,
    now: int,
    stale_after_ms: Mapping[int, int],
) -> dict[int, list[Stretch] | None]:
    """Online stretches (cloud clock) per gateway; None for a gateway never born (registered by data)."""
    ids = [g.id for g in gateways]
    evs: dict[int, list[Event]] = {}
    for e in qr.events(conn, ids, start=start, end=end):
        evs.setdefault(e.gateway_id, []).append(
            Event(kind="birth" if e.kind == "birth" else "death", session=e.session, ts=e.ts,
                  received=e.received, reason=e.reason, last_before=e.last_before)
        )
    last = qr.last_messages(conn, ids, before=end)
    return {
        g: None
        if g not in evs
        else stretches(
            evs[g],
            now=min(now, end),
            last_message=last.get(g),
            stale_after_ms=stale_after_ms.get(g, STALE_AFTER_MS),
        )
        for g in ids
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejections:
    by_gateway: dict[str, dict[str, int]]  # gateway code -> reason -> messages
    spans: dict[tuple[str, str], list[Span]]  # (gateway, device) -> sample spans (gateway clock)
    samples: dict[tuple[str, str], int]  # (gateway, device) -> samples, received in window
    letters: list[tuple[str | None, int, dl.Contents]]  # (gateway, received, contents), all read
    messages: int
    reasons: dict[str, int]
    total_samples: int


def rejections(
    conn: Conn,
    enterprise: str,
    *,
    since: int,
    start: int,
    end: int,
    lookahead_ms: int,
    shift: Mapping[str, int],
) -> Rejections:
    """Dead letters received from ``since`` (the start of the oldest stream still sending, for
    the reconciliation's running totals) until ``lookahead_ms`` after the window. A dead letter
    counts for the window when the samples it held fall in it (a rejected backlog batch arrives
    later than its data), or, when it cannot be read, when it was received in it."""
    letters = qr.dead_letters(conn, enterprise, start=since, end=end, lookahead_ms=lookahead_ms)
    by_gateway: dict[str, dict[str, int]] = {}
    spans: dict[tuple[str, str], list[Span]] = {}
    samples: dict[tuple[str, str], int] = {}
    reasons: dict[str, int] = {}
    read = []
    total = 0
    for d in letters:
        c = dl.read(d.payload)
        read.append((d.gateway, d.received, c))
        for dev, share in c.devices.items():
            spans.setdefault((d.gateway or "", dev), []).append((share.min_ts, share.max_ts + 1))
        off = shift.get(d.gateway or "", 0)
        if c.devices:
            lo = min(x.min_ts for x in c.devices.values()) - off
            hi = max(x.max_ts for x in c.devices.values()) - off
            if hi < start or lo >= end:
                continue
        elif d.received >= end or d.received < start:
            continue
        reasons[d.reason] = reasons.get(d.reason, 0) + 1
        if d.gateway is not None:
            counts = by_gateway.setdefault(d.gateway, {})
            counts[d.reason] = counts.get(d.reason, 0) + 1
        for dev, share in c.devices.items():
            samples[(d.gateway or "", dev)] = samples.get((d.gateway or "", dev), 0) + share.n
        total += c.samples
    return Rejections(
        by_gateway=by_gateway,
        spans=spans,
        samples=samples,
        letters=read,
        messages=sum(reasons.values()),
        reasons=reasons,
        total_samples=total,
    )


def _snap(r: ReportRow | None) -> Snapshot:
    if r is None:
        return ZERO
    return Snapshot(
        read=r.read,
        published=r.published,
        read_errors=r.read_errors,
        skipped_polls=r.skipped_polls,
        dropped=r.dropped,
    )


@dataclass
class _Stream:
    a: dict[int, ReportRow] = field(default_factory=dict)
    b: dict[int, ReportRow] = field(default_factory=dict)


def reconciliation(
    conn: Conn,
    gateways: Sequence[GatewayRow],
    devices: Sequence[DeviceRow],
    shifts: Mapping[int, int],
    rej: Rejections,
    *,
    start: int,
    end: int,
) -> list[GatewayReconciliation]:
    ids = [g.id for g in gateways]
    dev_ids = [d.id for d in devices]
    code = {d.id: d.code for d in devices}
    streams: dict[tuple[int, int], _Stream] = {}
    for at, side in ((start, "a"), (end, "b")):
        for r in ql.reports(conn, ids, dev_ids, shifts, at=at):
            getattr(streams.setdefault((r.gateway_id, r.base), _Stream()), side)[r.device_id] = r
    marks: dict[tuple[int, int], tuple[int | None, int]] = {}
    for key, st in streams.items():
        if not st.b:
            continue
        a = max(st.a.values(), key=lambda r: (r.sent, r.seq)) if st.a else None
        b = max(st.b.values(), key=lambda r: (r.sent, r.seq))
        if a is not None and (a.sent, a.seq) == (b.sent, b.seq):
            continue  # nothing sent in the window on this stream
        marks[key] = (None if a is None else a.seq, b.seq)
    stored = ql.stored_after(conn, [(g, base, a, b) for (g, base), (a, b) in marks.items()])
    totals = ql.stream_totals(
        conn, [(g, base, k) for (g, base), ab in marks.items() for k in ab if k is not None]
    )
    gw_code = {g.id: g.code for g in gateways}
    out = []
    for g in gateways:
        parts, first, last = [], None, None
        per_device: dict[str, int] = {}
        for (gid, base), (a_seq, b_seq) in sorted(marks.items()):
            if gid != g.id:
                continue
            st = streams[(gid, base)]
            rej_by_dev = _rejected_between(rej, gw_code[gid], st, a_seq, b_seq)
            devs = [
                DeviceStretch(
                    device=code[d],
                    a=_snap(st.a.get(d)),
                    b=_snap(st.b.get(d)),
                    stored=stored.get((gid, base, d), 0),
                    rejected=rej_by_dev.get(code[d], 0),
                )
                for d in sorted(set(st.a) | set(st.b), key=lambda d: code[d])
            ]
            u = {
                k: totals[(gid, base, k)][1]
                - totals[(gid, base, k)][0]
                - _rejected_upto(rej, gw_code[gid], st, k)
                for k in (a_seq, b_seq)
                if k is not None and (gid, base, k) in totals
            }
            part = StreamStretch(
                devices=devs, u_a=u.get(a_seq) if a_seq is not None else None, u_b=u.get(b_seq)
            )
            parts.append(part)
            if unexplained(part.u_a, part.u_b):  # whose samples: the same sums per device
                for dev, n in _device_unexplained(
                    conn, rej, gw_code[gid], st, gid, base, a_seq, b_seq, code
                ).items():
                    per_device[dev] = per_device.get(dev, 0) + n
            if a_seq is not None and st.a:
                first = min(first or 2**62, max(r.sent for r in st.a.values()) - shifts.get(gid, 0))
            last = max(last or 0, max(r.sent for r in st.b.values()) - shifts.get(gid, 0))
        out.append(
            reconcile_gateway(
                g.code,
                parts,
                device_unexplained=per_device,
                reports_from=None if first is None else from_ms(first),
                reports_to=None if last is None else from_ms(last),
            )
        )
    return out


def _device_unexplained(
    conn: Conn,
    rej: Rejections,
    gateway: str,
    st: _Stream,
    gid: int,
    base: int,
    a_seq: int | None,
    b_seq: int,
    code: Mapping[int, str],
) -> dict[str, int]:
    """U per device at both reports (published − stored up to it − rejected up to it), the
    slow path taken only when the stream as a whole shows unexplained samples."""
    upto = {k: ql.stored_after(conn, [(gid, base, None, k)]) for k in (a_seq, b_seq) if k is not None}
    out = {}
    def u(dev_id: int, k: int | None, side: dict[int, ReportRow]) -> int | None:
        if k is None or dev_id not in side:
            return None
        rejected = _rejected_between(rej, gateway, st, None, k).get(code[dev_id], 0)
        return side[dev_id].published - upto[k].get((gid, base, dev_id), 0) - rejected

    for dev_id in set(st.a) | set(st.b):
        dev = code[dev_id]
        n = unexplained(u(dev_id, a_seq, st.a), u(dev_id, b_seq, st.b))
        if n:
            out[dev] = n
    return out


def _sent_of(st: _Stream, seq: int | None) -> int | None:
    for r in (*st.a.values(), *st.b.values()):
        if r.seq == seq:
            return r.sent
    return None


def _rejected_between(
    rej: Rejections, gateway: str, st: _Stream, a_seq: int | None, b_seq: int
) -> dict[str, int]:
    lo, hi = _sent_of(st, a_seq), _sent_of(st, b_seq)
    out: dict[str, int] = {}
    for gw, _, c in rej.letters:
        if gw != gateway or c.sent is None or hi is None or c.sent > hi or (lo is not None and c.sent <= lo):
            continue
        for dev, share in c.devices.items():
            out[dev] = out.get(dev, 0) + share.n
    return out


def _rejected_upto(rej: Rejections, gateway: str, st: _Stream, seq: int) -> int:
    hi = _sent_of(st, seq)
    return sum(
        c.samples
        for gw, _, c in rej.letters
        if gw == gateway and c.sent is not None and hi is not None and c.sent <= hi
    )
