"""The figures as text a person reads at a terminal: Chinese first, English beside, aligned for
double-width characters. The JSON (``--json``) is the same computation, whole."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime, tzinfo

from cloud_ingest.evidence.schema import Figures

CAUSE_ZH = {
    "device_offline": "设备离线",
    "bad_value": "设备返回坏值",
    "gateway_offline": "网关离线",
    "delivered_late": "迟到",
    "dropped_at_gateway": "网关丢弃",
    "gateway_overrun": "网关跳过轮询",
    "rejected": "被拒收",
    "unknown": "原因不明",
}


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in r] for r in rows]]
    widths = [max(width(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - width(c)) for c, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])])


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def num(v: float | None, unit: str = "") -> str:
    return "—" if v is None else f"{v:,.0f}{unit}"


def when(dt: datetime | None, tz: tzinfo) -> str:
    return "—" if dt is None else dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def figures_text(f: Figures, *, tz: tzinfo) -> str:
    out: list[str] = []
    ent = f.enterprise
    out.append(f"数据贯通证据 Data-connectivity evidence — {ent.name or ent.code} ({ent.code})")
    out.append(
        f"时间窗 window: {when(f.window.start, tz)} – {when(f.window.end, tz)} ({tz})  "
        f"schema {f.schema_version}"
    )
    out.append("")
    nc = f.not_computable
    band = f.networking_band
    rows = [
        [
            "设备联网率 networking rate",
            pct(f.networking_rate)
            if f.networking_rate is not None
            else f"不可计算 not computable: {nc.get('networking_rate', '')}",
            f"{f.inventory.delivering_devices}/{f.inventory.production_devices}"
            + (f", {band.range} → {band.points:g}/{band.max_points:g} 分 points" if band else ""),
        ],
        [
            "设备数字化率 digitalization rate",
            pct(f.digitalization_rate)
            if f.digitalization_rate is not None
            else f"不可计算 not computable: {nc.get('digitalization_rate', '')}",
            f"{f.inventory.digital_devices}/{f.inventory.production_devices}",
        ],
        [
            "关键工序数据采集率 key-process rate",
            pct(f.key_process_rate)
            if f.key_process_rate is not None
            else f"不可计算 not computable: {nc.get('key_process_rate', '')}",
            f"{f.inventory.key_process_complete}/{f.inventory.key_process_devices}",
        ],
        [
            "业务环节覆盖 business links",
            f"{f.business_links.covered}/{f.business_links.total}",
            "、".join(li.label_zh for li in f.business_links.links if li.collected) or "—",
        ],
        [
            "完整性 completeness",
            pct(f.rollups.enterprise.completeness),
            f"{f.rollups.enterprise.samples_good:,}/{f.rollups.enterprise.samples_expected:,}",
        ],
        ["在线率 online ratio", pct(f.rollups.enterprise.online_ratio), ""],
        [
            "时延 latency p50/p95/p99/max",
            " / ".join(
                num(v, " ms")
                for v in (f.latency_ms.p50, f.latency_ms.p95, f.latency_ms.p99, f.latency_ms.max)
            ),
            f"{f.latency_ms.samples:,} samples",
        ],
        [
            "被拒收 rejected",
            f"{f.rejected.messages}",
            ", ".join(f"{k} {v}" for k, v in f.rejected.by_reason.items()),
        ],
    ]
    out.append(table(["指标 figure", "值 value", "依据 basis"], rows))
    out.append("")
    out.append("网关 gateways")
    out.append(
        table(
            ["网关 gateway", "在线率 online", "时钟偏差 clock offset", "批次 batches", "迟到 late"],
            [
                [
                    g.gateway,
                    pct(g.online_ratio),
                    "—"
                    if g.clock_offset_ms is None
                    else f"{g.clock_offset_ms / 1000:+.3f} s"
                    + (" 已校正 corrected" if g.clock_corrected else ""),
                    g.batches,
                    g.late_batches,
                ]
                for g in f.gateways
            ],
        )
    )
    out.append("")
    out.append("设备 devices")
    out.append(
        table(
            [
                "设备 device",
                "车间 workshop",
                "产线 line",
                "关键 key",
                "在线率 online",
                "完整性 complete",
                "应收 expected",
                "有效 good",
                "迟到 late",
                "缺口 gaps",
            ],
            [
                [
                    d.device,
                    d.workshop,
                    d.line,
                    "是" if d.key_process else "",
                    pct(d.online_ratio),
                    pct(d.completeness),
                    "—" if d.samples_expected is None else f"{d.samples_expected:,}",
                    f"{d.samples_good:,}",
                    f"{d.samples_late:,}",
                    len(d.gaps),
                ]
                for d in f.devices
            ],
        )
    )
    gaps = [(d.device, g) for d in f.devices for g in d.gaps]
    if gaps:
        out.append("")
        out.append("缺口 gaps")
        out.append(
            table(
                ["设备 device", "开始 start", "结束 end", "时长 duration", "原因 cause", "说明 detail"],
                [
                    [
                        dev,
                        when(g.start, tz),
                        when(g.end, tz),
                        f"{g.duration_s:,.0f} s",
                        f"{CAUSE_ZH[g.cause]} {g.cause}",
                        (g.detail or "")[:60],
                    ]
                    for dev, g in gaps[:200]
                ],
            )
        )
        if len(gaps) > 200:
            out.append(f"… {len(gaps) - 200} more / 另有 {len(gaps) - 200} 条（见 --json）")
    out.append("")
    out.append("对账 reconciliation")
    out.append(
        table(
            [
                "网关 gateway",
                "读取 read",
                "已发布 published",
                "丢弃 dropped",
                "入库 stored",
                "拒收 rejected",
                "无法解释 unexplained",
            ],
            [
                [
                    r.gateway,
                    f"{r.read:,}",
                    f"{r.published:,}",
                    ", ".join(f"{k} {v:,}" for k, v in r.dropped.items()) or "0",
                    f"{r.stored:,}",
                    f"{r.rejected:,}",
                    f"{r.unexplained:,}",
                ]
                for r in f.reconciliation
            ],
        )
    )
    if f.notes:
        out.append("")
        out.append("注意 notes")
        out += [f"- {n.zh} / {n.en}" for n in f.notes]
    return "\n".join(out)
