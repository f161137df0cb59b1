"""What the report template reads: the figures turned into rows and phrases, so the template
only lays them out. Long tables are cut to what a reviewer reads on paper (the exceptions first),
with the full rows always in data/*.csv and a line saying how many were left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloud_ingest.attest import tables
from cloud_ingest.attest.verify_package import band_points
from cloud_ingest.charts.svg import STATES
from wire.business_links import LABELS

MAX_GAP_ROWS = 200
MAX_TAG_ROWS = 200
CLOCK_FLAG_MS = 1000.0


def pct(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"


def ms(value: Any) -> str:
    if value is None:
        return "—"
    v = float(value)
    return f"{v / 1000:.1f} s" if abs(v) >= 1000 else f"{v:.0f} ms"


def yes_no(value: Any) -> str:
    return "是 yes" if value else "否 no"


def cause_label(cause: str) -> str:
    _c, zh, en = STATES.get(cause, STATES["unknown"])
    return f"{zh} {en}"


@dataclass(frozen=True, kw_only=True)
class Cut:
    rows: list[dict[str, Any]]
    total: int

    @property
    def omitted(self) -> int:
        return self.total - len(self.rows)


def indicator_rows(f: dict[str, Any]) -> list[dict[str, str]]:
    bl = f.get("business_links") or {}
    n_links = len(bl.get("covered") or [])
    inv = f.get("inventory") or {}
    band = f.get("networking_band") or {}
    net = f.get("networking_rate")
    no_inv = not inv.get("production_devices")
    return [
        {
            "zh": "设备联网率",
            "en": "Device networking rate",
            "value": "无法计算：无设备台账 not computable: no inventory" if no_inv else pct(net),
            "basis": f"{inv.get('delivering_devices', 0)} / {inv.get('production_devices', 0)} 台生产设备 "
            f"production devices",
            "score": "—"
            if no_inv
            else f"{band.get('band', '')} → {band.get('points', band_points(net))} / 6 分 points",
        },
        {
            "zh": "设备数字化率",
            "en": "Device digitalization rate",
            "value": pct(f.get("digitalization_rate")),
            "basis": f"{inv.get('digital_devices', 0)} / {inv.get('production_devices', 0)}",
            "score": "—" if no_inv else f"{band_points(f.get('digitalization_rate'))} / 6 分 points",
        },
        {
            "zh": "关键工序数据采集率",
            "en": "Key-process data collection rate",
            "value": pct(f.get("key_process_rate")),
            "basis": "本平台定义，见方法说明 our definition, see methodology",
            "score": "—",
        },
        {
            "zh": "数据采集（业务环节覆盖）",
            "en": "Data collection (business links)",
            "value": f"{n_links} / 14",
            "basis": "有自动采集数据的业务环节 links with automatic data",
            "score": f"约 approx. {n_links * 10 / 14:.1f} / 10 分 points",
        },
    ]


def link_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**r, "label": f"{LABELS[r['link']][0]} {LABELS[r['link']][1]}"} for r in tables.business_link_rows(f)
    ]


def gap_table(f: dict[str, Any]) -> Cut:
    rows = sorted(
        tables.gap_rows(f), key=lambda g: (-float(g.get("duration_s") or 0), g["device"], g["start"])
    )
    shown = sorted(rows[:MAX_GAP_ROWS], key=lambda g: (g["start"], g["device"]))
    return Cut(
        rows=[{**g, "cause_label": cause_label(g.get("cause") or "unknown")} for g in shown], total=len(rows)
    )


def tag_table(f: dict[str, Any]) -> Cut:
    """Tags below 99% complete, worst first: the rest are complete and listed in data/tags.csv."""
    tags = list(f.get("tags") or [])
    low = sorted(
        (t for t in tags if (t.get("completeness") or 0) < 0.99),
        key=lambda t: (t.get("completeness") or 0, t["device"], t["tag"]),
    )
    return Cut(rows=low[:MAX_TAG_ROWS], total=len(low))


def clock_findings(f: dict[str, Any]) -> list[str]:
    out = []
    for g in f.get("gateways") or []:
        off = g.get("clock_offset_ms")
        if off is None:
            continue
        if g.get("clock_flagged") or abs(float(off)) >= CLOCK_FLAG_MS:
            direction = "快 fast" if float(off) > 0 else "慢 slow"
            out.append(
                f"网关 {g['gateway']} 的时钟{direction[0]}了 "
                f"{ms(abs(float(off)))}，其延迟已按该偏差校正并标注。"
                f" Gateway {g['gateway']}'s clock is {ms(abs(float(off)))} {direction.split()[1]}; "
                f"its latency "
                "figures are corrected by that offset and flagged."
            )
    return out or ["所有网关时钟偏差都在 1 s 以内。 Every gateway clock is within 1 s of the cloud's."]


def context(f: dict[str, Any], cover: dict[str, Any]) -> dict[str, Any]:
    from cloud_ingest import charts
    from cloud_ingest.report.methodology import methodology

    m = methodology()

    ent = {
        "code": tables.enterprise_code(f),
        "name": None,
        "industry": None,
        "district": None,
        **(cover.get("enterprise") or {}),
    }
    devices = sorted(f.get("devices") or [], key=lambda d: str(d["device"]))
    no_data = not any(int(d.get("samples_stored") or 0) for d in devices)
    return {
        "f": f,
        "cover": cover,
        "ent": ent,
        "no_data": no_data,
        "indicators": indicator_rows(f),
        "links": link_rows(f),
        "devices": devices,
        "gaps": gap_table(f),
        "tags": tag_table(f),
        "inventory": tables.inventory_rows(f),
        "recon": tables.reconciliation_rows(f),
        "gateways": tables.gateway_rows(f),
        "latency": tables.latency_rows(f),
        "clock": clock_findings(f),
        "definitions": m.definitions,
        "limits": m.limits,
        "methodology_note": m.note,
        "svg": {
            "timeline": charts.state_timeline(f),
            "grid": charts.completeness_grid(f),
            "gaps": charts.gap_causes(f),
            "latency": charts.latency_distribution(f),
        },
    }
