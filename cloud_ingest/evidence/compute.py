"""The one computation of the evidence figures: queries in, ``Figures`` out.

The CLI, the API, the packages and the dashboard all call ``compute``; everything it decides is
in the pure modules it calls (plan, tag_figures, pulse, gaps, sessions, reconcile, indicators,
latency), each with its own tests. Data times are handled in each gateway's clock (the window
shifted by the gateway's corrected offset) and reported in the cloud's.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import tuple_row

from cloud_ingest.evidence import causes, device_pass, gateway_pass
from cloud_ingest.evidence import queries_ledger as ql
from cloud_ingest.evidence import queries_registry as qr
from cloud_ingest.evidence import queries_samples as qs
from cloud_ingest.evidence.assemble import assemble
from cloud_ingest.evidence.inputs import Inputs
from cloud_ingest.evidence.intervals import DAY_MS, HOUR_MS, Span, intersect
from cloud_ingest.evidence.plan import Plan, make_plan
from cloud_ingest.evidence.pulse import Silence
from cloud_ingest.evidence.queries_registry import Conn
from cloud_ingest.evidence.records import DeviceRow, TagRow
from cloud_ingest.evidence.schema import Figures, Parameters
from cloud_ingest.evidence.tag_figures import TagResult, by_exception, every_reading, limit_of
from cloud_ingest.evidence.window import SchemaTooOld, UnknownEnterprise, check_window, to_ms

DEFAULT_PARAMETERS = Parameters(
    late_after_s=60.0, clock_tolerance_ms=1000.0, complete_threshold=0.95, gap_factor=1.75
)
GRID_HOURS_UP_TO_MS = 3 * DAY_MS
SCHEMA_NEEDED = 11  # migrations 009-011 hold what the figures read

_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_restore = False


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The cyclic collector off while at least one computation runs. It is process-wide, so
    overlapping computations (the dashboard's warmer beside a request) are counted: the last one
    to end turns it back on, and only if it was on when the first began."""
    global _gc_pausers, _gc_restore
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_restore:
                gc.enable()


@dataclass(frozen=True, slots=True, kw_only=True)
class TagPeriod:
    tag: TagRow
    gateway_id: int
    period: Span  # gateway clock


def _origins(
    conn: Conn,
    tags: Sequence[TagRow],
    devices: Mapping[int, DeviceRow],
    shift: Mapping[int, int],
    *,
    start: int,
    end: int,
) -> list[TagPeriod]:
    """Each tag's expected period: from the later of the window start and the tag's origin (its
    registration, or its first sample if earlier) to the window end, in its gateway's clock."""
    need: list[TagRow] = []
    for t in tags:
        g = devices[t.device_id].gateway_id
        if g is None:
            continue
        s = shift.get(g, 0)
        # registered inside the window: its data may begin before that (a backlog), so the
        # first sample decides; registered before the window, the period starts with it
        if t.first_seen > start and (t.first_hour is None or t.first_hour <= t.first_seen + s):
            need.append(t)
    exact = qr.first_samples(
        conn,
        [t.id for t in need],
        [start + shift.get(devices[t.device_id].gateway_id or 0, 0) - HOUR_MS for t in need],
        [end + shift.get(devices[t.device_id].gateway_id or 0, 0) for t in need],
    )
    needed = {t.id for t in need}
    out = []
    for t in tags:
        g = devices[t.device_id].gateway_id
        if g is None:
            continue
        s = shift.get(g, 0)
        candidates = [t.first_seen + s]
        if t.id in needed:
            if t.id in exact:
                candidates.append(exact[t.id])
        elif t.first_hour is not None:
            candidates.append(t.first_hour)
        p0, p1 = max(start + s, min(candidates)), end + s
        if p1 > p0:
            out.append(TagPeriod(tag=t, gateway_id=g, period=(p0, p1)))
    return out


def _tag_results(
    conn: Conn, periods: Sequence[TagPeriod], plans: Mapping[tuple[int, int], Plan], params: Parameters
) -> dict[int, TagResult]:
    # gateways whose clocks agree share their plans: one set of statements for all their tags
    # (five gateways of one enterprise: five times fewer statements, each over more tags)
    unique: dict[Plan, int] = {}  # each plan hashed once (a plan is a long tuple)
    index = {k: unique.setdefault(p, len(unique)) for k, p in plans.items()}
    plan_list = list(unique)
    # samples an hour holds when nothing is missing; 0 (every hour grouped by cell) when the
    # interval does not divide an hour; None for report-by-exception tags (totals only)
    per_hour: dict[int, int | None] = {}
    for tp in periods:
        iv = tp.tag.interval_ms
        if tp.tag.report_mode == "change":
            per_hour[tp.tag.id] = None
        else:
            per_hour[tp.tag.id] = HOUR_MS // iv if iv and HOUR_MS % iv == 0 else 0
    found = qs.counts(
        conn, plan_list, {tp.tag.id: index[(tp.gateway_id, tp.period[0])] for tp in periods}, per_hour
    )
    change = [tp for tp in periods if tp.tag.report_mode == "change"]
    limits = {
        tp.tag.id: limit_of(
            heartbeat_ms=tp.tag.heartbeat_ms, interval_ms=tp.tag.interval_ms, gap_factor=params.gap_factor
        )
        for tp in change
    }
    silences = qs.change_silences(
        conn,
        [(tp.tag.id, tp.period[0] - 2 * limits[tp.tag.id], tp.period[1], limits[tp.tag.id]) for tp in change],
    )
    out = {}
    for tp in periods:
        p = plans[(tp.gateway_id, tp.period[0])]
        cells = found.get(tp.tag.id, {})
        if tp.tag.report_mode == "change":
            out[tp.tag.id] = by_exception(
                tp.period,
                heartbeat_ms=tp.tag.heartbeat_ms,
                interval_ms=tp.tag.interval_ms,
                gap_factor=params.gap_factor,
                silences=silences[tp.tag.id],
                cells=cells,
                base=p.cell_base,
                cell_ms=p.cell_ms,
            )
        elif tp.tag.interval_ms:
            out[tp.tag.id] = every_reading(
                tp.period, interval_ms=tp.tag.interval_ms, cells=cells, base=p.cell_base, cell_ms=p.cell_ms
            )
        else:  # an every-reading tag with no interval announced: counted, nothing expected
            out[tp.tag.id] = TagResult(
                expected=0,
                credited=0.0,
                stored=sum(n for n, _ in cells.values()),
                good=sum(g for _, g in cells.values()),
                completeness=None,
                cells={},
            )
    return out


def _spacing(tags: Sequence[TagPeriod], gap_factor: float) -> tuple[int | None, int | None]:
    """(expected spacing of the device's pulse, its fastest every-reading interval); no spacing
    for a device whose tags announce no rate (known from data only, never born): it has no gaps
    to find, and nothing is expected of it."""
    every = [tp.tag.interval_ms for tp in tags if tp.tag.report_mode == "all" and tp.tag.interval_ms]
    if every:
        return min(every), min(every)
    change = [tp for tp in tags if tp.tag.report_mode == "change"]
    if not change:
        return None, None
    return min(
        limit_of(heartbeat_ms=tp.tag.heartbeat_ms, interval_ms=tp.tag.interval_ms, gap_factor=gap_factor)
        for tp in change
    ), None


def compute(
    conn: Conn,
    enterprise: str,
    *,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    params: Parameters = DEFAULT_PARAMETERS,
) -> Figures:
    """The figures of ``enterprise`` for [start, end). Raises window.EvidenceError for bad input.
    Works on any connection (the API's hand out dict rows: tuples are used while computing)."""
    factory = conn.row_factory
    conn.row_factory = tuple_row
    # a month is some 100,000 small containers (cells of 1,500 tags) that all live until the
    # figures are assembled: the cyclic collector would walk them again and again for nothing
    try:
        with _cyclic_gc_paused():
            fresh = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            with conn.transaction():
                # one snapshot for every query (the figures agree with each other while ingest goes
                # on); no JIT (its compile time is most of these short statements' run time); room
                # to aggregate a month of rollups in memory; a plan for each statement's own values
                # (psycopg prepares a statement run five times on a connection, and PostgreSQL's
                # generic plan for a time range it cannot see scans every bucket of the tags: a
                # 30-day window's minute edges took 80-200 ms each that way instead of 3 ms)
                if fresh:
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                conn.execute("SET LOCAL jit = off")
                conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
                conn.execute("SET LOCAL work_mem = '64MB'")
                return _compute(conn, enterprise, start=start, end=end, now=now, params=params)
    finally:
        conn.row_factory = factory


def _compute(
    conn: Conn, enterprise: str, *, start: datetime, end: datetime, now: datetime | None, params: Parameters
) -> Figures:
    now = now or datetime.now(UTC)
    span = check_window(start, end, now=now)
    have = qr.schema_version(conn)
    if have < SCHEMA_NEEDED:
        raise SchemaTooOld(have, SCHEMA_NEEDED)
    ent = qr.enterprise(conn, enterprise)
    if ent is None:
        raise UnknownEnterprise(enterprise, qr.enterprise_codes(conn))
    S, E = to_ms(span.start), to_ms(span.end)
    gws = qr.gateways(conn, ent.id)
    devs = qr.devices(conn, ent.id)
    dev_by_id = {d.id: d for d in devs}
    gw_ids = [g.id for g in gws]
    clocks = gateway_pass.clocks(conn, gws, start=S, end=E, params=params)
    shift = {g: c.shift for g, c in clocks.items()}
    cell_ms = HOUR_MS if E - S <= GRID_HOURS_UP_TO_MS else DAY_MS
    pending = ql.pending(conn, gw_ids)

    periods = _origins(conn, qr.tags(conn, ent.id), dev_by_id, shift, start=S, end=E)
    by_device: dict[int, list[TagPeriod]] = {}
    for tp in periods:
        by_device.setdefault(tp.tag.device_id, []).append(tp)
    plans: dict[tuple[int, int], Plan] = {}
    made: dict[tuple[Span, int, tuple[Span, ...]], Plan] = {}  # the same plan for the same inputs

    def plan(g: int, p0: int) -> Plan:
        if (g, p0) not in plans:
            key = ((p0, E + shift.get(g, 0)), S + shift.get(g, 0), tuple(pending.get(g, ())))
            if key not in made:
                made[key] = make_plan(key[0], cell_base=key[1], cell_ms=cell_ms, pending=key[2])
            plans[(g, p0)] = made[key]
        return plans[(g, p0)]

    for tp in periods:
        plan(tp.gateway_id, tp.period[0])
    tag_results = _tag_results(conn, periods, plans, params)
    jobs, device_period = [], {}
    for dev_id, tps in by_device.items():
        g = tps[0].gateway_id
        p0 = min(tp.period[0] for tp in tps)
        spacing, fastest = _spacing(tps, params.gap_factor)
        if spacing is None:
            continue
        device_period[dev_id] = (p0, E + shift.get(g, 0))
        # the fastest every-reading tag with the most good samples screens the device's buckets
        screen = max(
            (
                tp
                for tp in tps
                if tp.tag.report_mode == "all" and tp.tag.interval_ms == fastest and tp.period[0] == p0
            ),
            key=lambda tp: tag_results[tp.tag.id].good,
            default=None,
        )
        jobs.append(
            device_pass.DeviceJob(
                device_id=dev_id,
                plan=plan(g, p0),
                spacing=spacing,
                gap_factor=params.gap_factor,
                fastest_all_ms=fastest,
                screen_tag=None if screen is None else screen.tag.id,
            )
        )
    silences = device_pass.silences(conn, jobs)

    late = ql.late_batches(conn, gw_ids, shift, start=S, end=E, late_after_s=params.late_after_s)
    streams = ql.stream_starts(conn, gw_ids)
    rej = gateway_pass.rejections(
        conn,
        ent.code,
        since=min([S, *streams.values()]),
        start=S,
        end=E,
        lookahead_ms=DAY_MS,
        shift={g.code: shift.get(g.id, 0) for g in gws},
    )
    stale = {
        g.id: max(  # a list: a gateway with nothing expected in the window has no spacing
            [
                gateway_pass.STALE_AFTER_MS,
                *(3 * j.spacing for j in jobs if dev_by_id[j.device_id].gateway_id == g.id),
            ]
        )
        for g in gws
    }
    sessions = gateway_pass.online(conn, gws, start=S, end=E, now=to_ms(now), stale_after_ms=stale)
    gaps, late_n = causes.device_gaps(
        conn,
        jobs,
        silences,
        devices=dev_by_id,
        periods=device_period,
        late=late,
        rejections=rej,
        sessions=sessions,
        gateway_codes={g.id: g.code for g in gws},
        shift=shift,
        window=(S, E),
        params=params,
    )
    bins, maxima, n_latency = ql.latency_bins(conn, gw_ids, shift, start=S, end=E)
    return assemble(
        Inputs(
            enterprise=ent,
            span=span,
            now=now,
            params=params,
            gateways=gws,
            devices=devs,
            clocks=clocks,
            periods={tp.tag.id: tp.period for tp in periods},
            tags={tp.tag.id: tp.tag for tp in periods},
            tag_results=tag_results,
            device_period=device_period,
            gaps=gaps,
            late_samples=late_n,
            shift=shift,
            sessions=sessions,
            ledger={
                r.gateway_id: r
                for r in ql.ledger(conn, gw_ids, shift, start=S, end=E, late_after_s=params.late_after_s)
            },
            rejections=rej,
            latency_bins=bins,
            latency_max=maxima,
            latency_samples=n_latency,
            reconciliation=gateway_pass.reconciliation(conn, gws, devs, shift, rej, start=S, end=E),
            inventory=qr.inventory(conn, ent.id),
            last_import=qr.last_import(conn, ent.id),
            cell_ms=cell_ms,
            rollups_pending=any(intersect(pending.get(g, []), [p.period]) for (g, _), p in plans.items()),
        )
    )


__all__ = ["DEFAULT_PARAMETERS", "Silence", "compute"]
