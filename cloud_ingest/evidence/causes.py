"""Naming the cause of each device silence (gaps.classify) from what the cloud recorded around it:
late batches, dead letters, the gateway's sessions and its counter reports on both sides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cloud_ingest.evidence import gaps as g
from cloud_ingest.evidence import queries_ledger as ql
from cloud_ingest.evidence.device_pass import DeviceJob
from cloud_ingest.evidence.gateway_pass import Rejections
from cloud_ingest.evidence.intervals import Span, intersect, subtract
from cloud_ingest.evidence.pulse import Silence
from cloud_ingest.evidence.queries_registry import Conn
from cloud_ingest.evidence.records import DeviceRow, LateBatch, ReportRow
from cloud_ingest.evidence.schema import Parameters
from cloud_ingest.evidence.sessions import Stretch, online_spans

NO_CHANGE = g.CounterDelta(dropped={}, skipped_polls=0)


def delta(before: ReportRow | None, after: ReportRow | None) -> g.CounterDelta:
    if after is None:
        return g.CounterDelta(dropped={}, skipped_polls=0)
    same = before is not None and before.base == after.base and before.gateway_id == after.gateway_id
    b_drop = before.dropped if same and before is not None else {}
    return g.CounterDelta(
        dropped={k: v - b_drop.get(k, 0) for k, v in after.dropped.items()},
        skipped_polls=after.skipped_polls - (before.skipped_polls if same and before else 0),
    )


def share(n: int, span: Span, period: Span) -> int:
    """A late batch straddling the period edge counts in proportion to its time inside."""
    inside = intersect([span], [period])
    if not inside:
        return 0
    lo, hi = inside[0]
    return n if (lo, hi) == span else round(n * (hi - lo) / max(1, span[1] - span[0]))




def device_gaps(conn: Conn, jobs: Sequence[DeviceJob], silences: Mapping[int, Sequence[Silence]], *,
                devices: Mapping[int, DeviceRow], periods: Mapping[int, Span], late: Sequence[LateBatch],
                rejections: Rejections, sessions: Mapping[int, Sequence[Stretch] | None],
                gateway_codes: Mapping[int, str], shift: Mapping[int, int], window: Span,
                params: Parameters) -> tuple[dict[int, list[g.RawGap]], dict[int, int]]:
    """(gaps, late samples) per device, gateway clock."""
    spacing = {j.device_id: j.spacing for j in jobs}
    sliver = {j.device_id: int((params.gap_factor - 1) * j.spacing) for j in jobs}
    # the stretches with no sample at all: the counter reports on both sides decide them
    requests: list[tuple[int, int, int, int]] = []
    for dev_id, found in silences.items():
        empty = [span for s in found for span in g.blanks(s, sliver=sliver[dev_id])]
        until = [lo for lo, _ in empty[1:]] + [periods[dev_id][1]] * bool(empty)
        requests += [(dev_id, lo, hi, u) for (lo, hi), u in zip(empty, until, strict=True)]
    deltas = {rq[:3]: delta(b, a) for rq, (b, a) in zip(requests, ql.around(conn, requests), strict=True)}
    out: dict[int, list[g.RawGap]] = {}
    late_samples: dict[int, int] = {}
    for dev_id, found in silences.items():
        d = devices[dev_id]
        gid = d.gateway_id or 0
        off = shift.get(gid, 0)
        period = periods[dev_id]
        own_late = [b for b in late if b.device_id == dev_id]
        late_samples[dev_id] = sum(share(b.n, (b.min_ts, b.max_ts + 1), period) for b in own_late)
        stretches = sessions.get(gid)
        offline: list[Span] = []
        if stretches is not None:
            online = [(lo + off, hi + off) for lo, hi in online_spans(stretches, window=window)]
            offline = subtract([(window[0] + off, window[1] + off)], online)
        rejected = [(lo, hi + spacing[dev_id])
                    for lo, hi in rejections.spans.get((gateway_codes.get(gid, ""), d.code), [])]

        def counted(lo: int, hi: int, dev_id: int = dev_id) -> g.CounterDelta:
            return deltas.get((dev_id, lo, hi), NO_CHANGE)

        out[dev_id] = g.classify(
            found, late=g.late_spans([(b.min_ts, b.max_ts) for b in own_late], spacing=spacing[dev_id],
                                     gap_factor=params.gap_factor, period=period),
            rejected=rejected, deltas=counted, gateway_offline=offline, sliver=sliver[dev_id])
    return out, late_samples
