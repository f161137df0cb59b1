"""What the report template reads: the figures turned into rows and phrases, so the template
only lays them out. Long tables are cut to what a reviewer reads on paper (the exceptions first),
with the full rows always in data/*.csv and a line saying how many were left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloud_ingest.attest import tables
from cloud_ingest.charts.svg import STATES

MAX_GAP_ROWS = 200
MAX_TAG_ROWS = 200
CLOCK_TOLERANCE_MS = 1000.0  # when the figures do not say (schema 1.0 always does)


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


def _score(b: Any) -> str:
    if not isinstance(b, dict):
        return "—"
    return f"{b.get('range', '')} → {num(b.get('points'))} / {num(b.get('max_points'))} 分 points"


def num(value: Any) -> str:
    return "—" if value is None else f"{float(value):g}"


def indicator_rows(f: dict[str, Any]) -> list[dict[str, str]]:
    bl = f.get("business_links") or {}
    covered, total = int(bl.get("covered") or 0), int(bl.get("total") or 14)
    inv = f.get("inventory") or {}
    why = f.get("not_computable") or {}

    def value(key: str) -> str:
        if f.get(key) is not None:
            return pct(f.get(key))
        reason = why.get(key, "no_inventory")
        return {
            "no_inventory": "无法计算：未导入设备台账 not computable: no inventory imported",
            "no_production_devices": "无法计算：台账中没有生产设备 not computable: no production devices",
            "no_key_process_devices": "无法计算：台账中没有关键工序设备 "
            "not computable: no key-process devices",
        }.get(reason, f"无法计算 not computable: {reason}")

    prod = inv.get("production_devices", 0)
    return [
        {
            "zh": "设备联网率",
            "en": "Device networking rate",
            "value": value("networking_rate"),
            "basis": f"{inv.get('delivering_devices', 0)} / {prod} 台生产设备上报了数据 "
            f"production devices delivered data",
            "score": _score(f.get("networking_band")),
        },
        {
            "zh": "设备数字化率",
            "en": "Device digitalization rate",
            "value": value("digitalization_rate"),
            "basis": f"{inv.get('digital_devices', 0)} / {prod} 台（台账申报 as declared in the inventory）",
            "score": _score(f.get("digitalization_band")),
        },
        {
            "zh": "关键工序数据采集率",
            "en": "Key-process data collection rate",
            "value": value("key_process_rate"),
            "basis": f"{inv.get('key_process_complete', 0)} / {inv.get('key_process_devices', 0)} "
            "台关键工序设备数据完整（本平台定义，见方法说明） key-process devices complete (our "
            "definition, see methodology)",
            "score": "—",
        },
        {
            "zh": "数据采集（业务环节覆盖）",
            "en": "Data collection (business links)",
            "value": f"{covered} / {total}",
            "basis": f"有自动采集数据的业务环节；台账申报 {bl.get('declared', 0)} 个 "
            f"links with automatic data; {bl.get('declared', 0)} declared",
            "score": f"约 approx. {covered * 10 / total:.1f} / 10 分 points",
        },
    ]


def link_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**r, "label": f"{r['label_zh']} {r['label_en']}"} for r in tables.business_link_rows(f)]


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
    tolerance = float((f.get("parameters") or {}).get("clock_tolerance_ms") or CLOCK_TOLERANCE_MS)
    out = []
    for g in f.get("gateways") or []:
        off = g.get("clock_offset_ms")
        if off is None:
            continue
        if g.get("clock_ok") is False:
            direction = "快 fast" if float(off) > 0 else "慢 slow"
            fixed = (
                "其数据时间已按该偏差校正。 Its data times are corrected by that offset."
                if g.get("clock_corrected")
                else "其数据时间未校正。 Its data times are not corrected."
            )
            out.append(
                f"网关 {g['gateway']} 的时钟{direction[0]}了 {ms(abs(float(off)))}（超出容差 "
                f"{ms(tolerance)}）。 Gateway {g['gateway']}'s clock is {ms(abs(float(off)))} "
                f"{direction.split()[1]} (beyond the {ms(tolerance)} tolerance). {fixed}"
            )
    return out or [
        f"所有网关时钟偏差都在 {ms(tolerance)} 以内。 Every gateway clock is within {ms(tolerance)} of the "
        "cloud's."
    ]


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
        "devices": [d for d in devices if d.get("samples_expected") is not None or d.get("gateway")],
        "gaps": gap_table(f),
        "tags": tag_table(f),
        "inventory": [d for d in tables.inventory_rows(f) if d.get("in_inventory") or d.get("gateway")],
        "rollups": f.get("rollups") or {},
        "notes": f.get("notes") or [],
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
