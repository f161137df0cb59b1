"""Latency distribution: a histogram of source-to-stored latency on a logarithmic axis (from
10 ms to a minute and more), with p50/p95/p99/max marked; when the figures split latency into
device→gateway, gateway→cloud and cloud→stored, one row of markers per segment below."""

from __future__ import annotations

import math
from typing import Any

from cloud_ingest.charts.svg import document, empty, line, num, rect, text

LEFT, TOP, PLOT_H = 150.0, 24.0, 120.0
MARKS = (("p50", "#1f618d"), ("p95", "#d68910"), ("p99", "#cb4335"), ("max", "#555555"))
SEGMENTS = {
    "device_gateway": "设备→网关 device→gateway",
    "gateway_cloud": "网关→云 gateway→cloud",
    "cloud_stored": "云→入库 cloud→stored",
}


def _label(ms: float) -> str:
    return f"{num(ms / 1000)} s" if ms >= 1000 else f"{num(ms)} ms"


def latency_distribution(figures: dict[str, Any], *, width: float = 760.0) -> str:
    title = "延迟分布 Latency distribution"
    lat = figures.get("latency_ms") or {}
    if lat.get("p50") is None:
        return empty(width, title, "latency")
    hist = lat.get("histogram") or []
    top = max([float(lat.get("max") or 1)] + [float(b["le_ms"]) for b in hist] + [1000.0])
    lo_exp, hi_exp = 1.0, math.ceil(math.log10(max(top, 10.0)))
    plot_w = width - LEFT - 20

    def x(ms: float) -> float:
        e = math.log10(max(ms, 10**lo_exp))
        return LEFT + plot_w * (e - lo_exp) / (hi_exp - lo_exp)

    body: list[str] = []
    total = sum(int(b["count"]) for b in hist) or 1
    peak = max((int(b["count"]) / total for b in hist), default=1.0) or 1.0
    prev = 10**lo_exp
    for b in hist:
        le, share = float(b["le_ms"]), int(b["count"]) / total
        h = PLOT_H * share / peak
        body.append(
            rect(
                x(prev) + 1,
                TOP + PLOT_H - h,
                max(x(le) - x(prev) - 2, 1.0),
                h,
                "#7fb3d5",
                cls="bin",
                title=f"≤ {_label(le)}: {b['count']} ({num(share * 100)}%)",
            )
        )
        prev = le
    body.append(line(LEFT, TOP + PLOT_H, LEFT + plot_w, TOP + PLOT_H, stroke="#666"))
    e = lo_exp
    while e <= hi_exp:
        tx = x(10**e)
        body += [
            line(tx, TOP + PLOT_H, tx, TOP + PLOT_H + 4, stroke="#666"),
            text(tx, TOP + PLOT_H + 15, _label(10**e), size=9, anchor="middle"),
        ]
        e += 1
    for i, (k, colour) in enumerate(MARKS):
        if lat.get(k) is None:
            continue
        mx = x(float(lat[k]))
        body += [
            line(mx, TOP - 4, mx, TOP + PLOT_H, stroke=colour, width=1.5, dash="4 2"),
            text(mx + 3, TOP - 8 + (i % 2) * 10, f"{k} {_label(float(lat[k]))}", size=9, fill=colour),
        ]
    body.append(text(4, TOP + 6, "占比 share", size=9, fill="#555"))
    y = TOP + PLOT_H + 30
    for key, label in SEGMENTS.items():
        seg = (lat.get("segments") or {}).get(key)
        if not seg:
            continue
        body += [
            text(LEFT - 4, y + 4, label, size=9, anchor="end"),
            line(LEFT, y, LEFT + plot_w, y, stroke="#ddd"),
        ]
        for k, colour in MARKS:
            if seg.get(k) is not None:
                body.append(
                    rect(
                        x(float(seg[k])) - 2,
                        y - 4,
                        4,
                        8,
                        colour,
                        cls=f"seg-{k}",
                        title=f"{label} {k} {_label(float(seg[k]))}",
                    )
                )
        y += 16
    return document(width, y + 4, body, title=title, kind="latency")
