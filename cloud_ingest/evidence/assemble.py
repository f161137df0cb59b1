"""Everything the queries found (inputs.Inputs) → the ``Figures`` document (pure): inventory matching, the
indicators, roll-ups, grid, latency, gateways and notes. Sorted and rounded so the same data
gives the same JSON."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from cloud_ingest.evidence import indicators as ind
from cloud_ingest.evidence.gaps import RawGap, offline_time
from cloud_ingest.evidence.inputs import Inputs
from cloud_ingest.evidence.latency import histogram, percentiles
from cloud_ingest.evidence.notes import findings
from cloud_ingest.evidence.records import (
    DeviceRow,
    InventoryRow,
)
from cloud_ingest.evidence.schema import (
    DeviceFigures,
    EnterpriseRef,
    Figures,
    Gap,
    GatewayFigures,
    Generator,
    Grid,
    GridRow,
    InventorySummary,
    Latency,
    Percentiles,
    RejectedSummary,
    Rollups,
    Session,
    TagFigures,
    Window,
)
from cloud_ingest.evidence.sessions import in_window, online_ratio
from cloud_ingest.evidence.tag_figures import TagResult, grid_row
from cloud_ingest.evidence.window import from_ms, to_ms


@functools.cache  # the installed package's metadata: read once (3 ms a computation otherwise)
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shopfloor-gateway")
    except PackageNotFoundError:
        return "unknown"


def _gap(g: RawGap, shift: int) -> Gap:
    return Gap(
        start=from_ms(g.lo - shift),
        end=from_ms(g.hi - shift),
        duration_s=round((g.hi - g.lo) / 1000, 3),
        cause=g.cause,
        detail=g.detail,
        dropped=g.dropped,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Dev:
    row: DeviceRow | None
    inv: InventoryRow | None
    figures: DeviceFigures
    result: ind.DeviceResult


def _devices(x: Inputs) -> list[_Dev]:
    inv = {r.code: r for r in x.inventory}
    gw_code = {g.id: g.code for g in x.gateways}
    tags_of: dict[int, list[int]] = {}
    for tid, t in x.tags.items():
        tags_of.setdefault(t.device_id, []).append(tid)
    out = []
    registry = {d.code: d for d in x.devices}
    for code in sorted(set(registry) | set(inv)):
        d, r = registry.get(code), inv.get(code)
        results = [x.tag_results[t] for t in tags_of.get(d.id, [])] if d else []
        expected = sum(tr.expected for tr in results)
        credited = sum(tr.credited for tr in results)
        good = sum(tr.good for tr in results)
        period = x.device_period.get(d.id) if d else None
        raw_gaps = x.gaps.get(d.id, []) if d else []
        shift = x.shift.get(d.gateway_id or 0, 0) if d else 0
        span_ms = 0 if period is None else period[1] - period[0]
        online_ms = max(0, span_ms - offline_time(raw_gaps))
        completeness = None if not expected else round(min(1.0, credited / expected), 6)
        workshop = r.workshop if r and r.workshop else (d.workshop if d else None)
        line = r.line if r and r.line else (d.line if d else None)
        fig = DeviceFigures(
            device=code,
            name=r.name if r else None,
            type=r.type if r else None,
            workshop=workshop,
            line=line,
            key_process=r.key_process if r else bool(d and d.key_process),
            production=r.production if r else True,
            in_inventory=r is not None,
            networked_declared=r.networked if r else None,
            digital_declared=r.digital if r else None,
            gateway=gw_code.get(d.gateway_id or 0) if d else None,
            delivering=good > 0,
            online_ratio=None if not span_ms else round(online_ms / span_ms, 6),
            completeness=completeness,
            complete=completeness is not None and completeness >= x.params.complete_threshold,
            samples_expected=expected if d and results else None,
            samples_stored=sum(tr.stored for tr in results),
            samples_good=good,
            samples_late=x.late_samples.get(d.id, 0) if d else 0,
            gaps=[_gap(g, shift) for g in raw_gaps],
        )
        out.append(
            _Dev(
                row=d,
                inv=r,
                figures=fig,
                result=ind.DeviceResult(
                    device=code,
                    workshop=workshop,
                    line=line,
                    delivering=good > 0,
                    credited=credited,
                    expected=expected,
                    good=good,
                    online_ms=online_ms,
                    expected_ms=span_ms,
                ),
            )
        )
    return out


def _tags(x: Inputs, code: Mapping[int, str], inv_links: Mapping[str, tuple[str, ...]]) -> list[TagFigures]:
    out = []
    for tid, t in x.tags.items():
        r = x.tag_results[tid]
        dev = code[t.device_id]
        out.append(
            TagFigures(
                device=dev,
                tag=t.name,
                report_mode="change" if t.report_mode == "change" else "all",
                interval_ms=t.interval_ms,
                heartbeat_ms=t.heartbeat_ms,
                links=sorted(set(t.links) | set(inv_links.get(dev, ()))),
                weighting="time" if t.report_mode == "change" else "event",
                expected=r.expected if r.expected else None,
                stored=r.stored,
                good=r.good,
                completeness=r.completeness,
            )
        )
    return sorted(out, key=lambda f: (f.device, f.tag))


def _gateways(x: Inputs) -> list[GatewayFigures]:
    window = (to_ms(x.span.start), to_ms(x.span.end))
    out = []
    for g in x.gateways:
        c = x.clocks[g.id]
        st = x.sessions.get(g.id)
        led = x.ledger.get(g.id)
        out.append(
            GatewayFigures(
                gateway=g.code,
                clock_offset_ms=c.offset_ms,
                clock_ok=c.ok,
                clock_corrected=c.corrected,
                online_ratio=None if st is None else round(online_ratio(st, window=window), 6),
                sessions=[]
                if st is None
                else [
                    Session(
                        session=s.session,
                        start=from_ms(s.lo),
                        end=None if s.hi is None else from_ms(s.hi),
                        end_reason=s.end_reason,
                    )
                    for s in in_window(st, window=window)
                ],
                streams=led.streams if led else 0,
                batches=led.batches if led else 0,
                late_batches=led.late_batches if led else 0,
                samples_stored=led.samples if led else 0,
                rejected=dict(sorted(x.rejections.by_gateway.get(g.code, {}).items())),
            )
        )
    return out


def _latency(x: Inputs) -> Latency:
    def part(name: str) -> Percentiles:
        return percentiles(list(x.latency_bins.get(name, [])), exact_max=x.latency_max.get(name))

    total = part("total")
    return Latency(
        p50=total.p50,
        p95=total.p95,
        p99=total.p99,
        max=total.max,
        samples=x.latency_samples,
        device_to_gateway=part("device_to_gateway"),
        gateway_to_cloud=part("gateway_to_cloud"),
        cloud_to_stored=part("cloud_to_stored"),
        corrected_gateways=sorted(g.code for g in x.gateways if x.clocks[g.id].corrected),
        histogram=histogram(list(x.latency_bins.get("total", []))),
    )


def assemble(x: Inputs) -> Figures:
    devs = _devices(x)
    code = {d.id: d.code for d in x.devices}
    inv_links = {r.code: r.links for r in x.inventory}
    tags = _tags(x, code, inv_links)
    has_inv = bool(x.inventory)
    prod = [d for d in devs if d.inv is not None and d.inv.production]
    delivering = [d for d in prod if d.figures.delivering]
    key = [d for d in prod if d.inv is not None and d.inv.key_process]
    not_computable: dict[str, str] = {}
    if not has_inv:
        not_computable = {
            k: "no_inventory" for k in ("networking_rate", "digitalization_rate", "key_process_rate")
        }
    networking = ind.ratio(len(delivering), len(prod)) if has_inv else None
    digital = (
        ind.ratio(sum(1 for d in prod if d.inv is not None and d.inv.digital), len(prod)) if has_inv else None
    )
    key_rate = ind.ratio(sum(d.figures.complete for d in key), len(key)) if has_inv else None
    if has_inv and not prod:
        not_computable.update(
            networking_rate="no_production_devices", digitalization_rate="no_production_devices"
        )
    if has_inv and not key:
        not_computable["key_process_rate"] = "no_key_process_devices"
    unlisted = [d.figures.device for d in devs if d.inv is None]
    inventory = InventorySummary(
        present=has_inv,
        imported_at=from_ms(x.last_import.imported_at) if x.last_import else None,
        source=x.last_import.source if x.last_import else None,
        sha256=x.last_import.sha256 if x.last_import else None,
        rows=len(x.inventory),
        production_devices=len(prod),
        networked_devices=sum(1 for d in prod if d.inv is not None and d.inv.networked),
        delivering_devices=len(delivering),
        digital_devices=sum(1 for d in prod if d.inv is not None and d.inv.digital),
        key_process_devices=len(key),
        key_process_complete=sum(d.figures.complete for d in key),
        unlisted_devices=unlisted if has_inv else [],
        silent_devices=[
            d.figures.device
            for d in prod
            if d.inv is not None and d.inv.networked and not d.figures.delivering
        ],
        undeclared_delivering=[
            d.figures.device
            for d in prod
            if d.inv is not None and not d.inv.networked and d.figures.delivering
        ],
    )
    counted = [d.result for d in devs if d.inv is None or d.inv.production]
    ent_group, workshops, lines = ind.rollups(counted)
    start_ms, end_ms = to_ms(x.span.start), to_ms(x.span.end)
    n_cells = -(-(end_ms - start_ms) // x.cell_ms)
    by_dev: dict[int, list[TagResult]] = {}
    for tid, t in x.tags.items():
        by_dev.setdefault(t.device_id, []).append(x.tag_results[tid])
    grid = Grid(
        bucket="hour" if x.cell_ms <= 3_600_000 else "day",
        starts=[from_ms(start_ms + c * x.cell_ms) for c in range(n_cells)],
        rows=[
            GridRow(device=code[d], completeness=grid_row(rs, list(range(n_cells))))
            for d, rs in sorted(by_dev.items(), key=lambda kv: code[kv[0]])
        ],
    )
    links = ind.business_links(
        (ind.TagLinks(device=t.device, links=tuple(t.links), delivering=t.good > 0) for t in tags),
        declared=[link for r in x.inventory for link in r.links],
    )
    notes = findings(x, unlisted=inventory.unlisted_devices, silent=inventory.silent_devices)
    return Figures(
        generated_at=x.now,
        generator=Generator(version=_version()),
        enterprise=EnterpriseRef(
            code=x.enterprise.code,
            name=x.enterprise.name,
            industry=x.enterprise.industry,
            district=x.enterprise.district,
        ),
        window=Window(
            start=x.span.start,
            end=x.span.end,
            duration_s=round((end_ms - start_ms) / 1000, 3),
            requested_end=x.span.requested_end,
        ),
        parameters=x.params,
        inventory=inventory,
        networking_rate=networking,
        networking_band=ind.band(networking),
        digitalization_rate=digital,
        digitalization_band=ind.band(digital),
        key_process_rate=key_rate,
        business_links=links,
        latency_ms=_latency(x),
        gateways=_gateways(x),
        devices=[d.figures for d in devs],
        tags=tags,
        reconciliation=list(x.reconciliation),
        rollups=Rollups(enterprise=ent_group, workshops=workshops, lines=lines),
        grid=grid,
        rejected=RejectedSummary(
            messages=x.rejections.messages,
            by_reason=dict(sorted(x.rejections.reasons.items())),
            samples=x.rejections.total_samples,
        ),
        not_computable=not_computable,
        notes=notes,
    )
