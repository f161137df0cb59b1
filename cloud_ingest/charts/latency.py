"""Latency distribution: a histogram of source-to-stored latency on a logarithmic axis (from
10 ms to a minute and more), with p50/p95/p99/max marked; when the figures split latency into
device→gateway, gateway→cloud and cloud→stored, one row of markers per segment below."""

from __future__ import annotations

import math
from typing import Any

from cloud_ingest.charts.svg import document, empty, line, num, rect, text, text_width

LEFT, TOP, PLOT_H = 150.0, 30.0, 120.0
MARKS = (("p50", "#1f618d"), ("p95", "#d68910"), ("p99", "#cb4335"), ("max", "#555555"))
SEGMENTS = {
    "device_to_gateway": "设备→网关 device→gateway",
    "gateway_to_cloud": "网关→云 gateway→cloud",
    "cloud_to_stored": "云→入库 cloud→stored",
}
OPEN_BIN_MS = 1e11  # the last histogram bin is open (schema 1.0 writes its edge as 1e12)


def _label(ms: float) -> str:
    return f"{num(ms / 1000)} s" if ms >= 1000 else f"{num(ms)} ms"


def _bars(histogram: list[dict[str, Any]]) -> list[tuple[float, int, bool]]:
    """(upper edge, samples, open?) per bar: bins up to 10 ms are one bar (the axis starts at
    1 ms; 0 ms and below, as a corrected clock can give, belong there too)."""
    out: list[tuple[float, int, bool]] = []
    low = 0
    for b in histogram:
        le, n = float(b["le_ms"]), int(b["n"])
        if le <= 10:
            low += n
            continue
        if low or not out:
            out.append((10.0, low, False))
            low = 0
        out.append((le, n, le >= OPEN_BIN_MS))
    if low:
        out.append((10.0, low, False))
    while len(out) > 1 and not out[-1][1]:  # the axis ends at the last bin holding samples
        out.pop()
    return out


def latency_distribution(figures: dict[str, Any], *, width: float = 760.0) -> str:
    title = "延迟分布 Latency distribution"
    lat = figures.get("latency_ms") or {}
    if lat.get("p50") is None:
        return empty(width, title, "latency")
    hist = _bars(lat.get("histogram") or [])
    closed = [le for le, _n, _o in hist if le < OPEN_BIN_MS]
    top = max([float(lat.get("max") or 1), *closed, 1000.0])
    if any(is_open and n for _le, n, is_open in hist):
        top = max(top, max(closed, default=top) * 10)
    lo_exp, hi_exp = 0.0, float(math.ceil(math.log10(max(top, 10.0))))
    plot_w = width - LEFT - 20

    def x(ms: float) -> float:
        e = math.log10(min(max(ms, 10**lo_exp), 10**hi_exp))
        return LEFT + plot_w * (e - lo_exp) / (hi_exp - lo_exp)

    body: list[str] = []
    total = sum(n for _le, n, _o in hist) or 1
    peak = max((n / total for _le, n, _o in hist), default=1.0) or 1.0
    prev = 10**lo_exp
    for le, n, is_open in hist:
        right = 10**hi_exp if is_open else le
        h = PLOT_H * (n / total) / peak
        label = f"> {_label(prev)}" if is_open else f"≤ {_label(le)}"
        body.append(
            rect(
                x(prev) + 1,
                TOP + PLOT_H - h,
                max(x(right) - x(prev) - 2, 1.0),
                h,
                "#7fb3d5",
                cls="bin",
                title=f"{label}: {n} ({num(n / total * 100)}%)",
            )
        )
        prev = right
    body.append(line(LEFT, TOP + PLOT_H, LEFT + plot_w, TOP + PLOT_H, stroke="#666"))
    e = lo_exp
    while e <= hi_exp:
        tx = x(10**e)
        body += [
            line(tx, TOP + PLOT_H, tx, TOP + PLOT_H + 4, stroke="#666"),
            text(tx, TOP + PLOT_H + 15, _label(10**e), size=9, anchor="middle"),
        ]
        e += 1
    lx = LEFT  # the percentiles' values in a row above the plot (close values never overlap)
    for k, colour in MARKS:
        if lat.get(k) is None:
            continue
        mx = x(float(lat[k]))
        label = f"{k} {_label(float(lat[k]))}"
        body += [
            line(mx, TOP - 2, mx, TOP + PLOT_H, stroke=colour, width=1.5, dash="4 2"),
            line(lx, TOP - 12, lx + 14, TOP - 12, stroke=colour, width=1.5, dash="4 2"),
            text(lx + 18, TOP - 9, label, size=9, fill=colour),
        ]
        lx += 18 + text_width(label, 9) + 16
    body.append(text(4, TOP + 6, "占比 share", size=9, fill="#555"))
    y = TOP + PLOT_H + 30
    for key, label in SEGMENTS.items():
        seg = lat.get(key)
        if not isinstance(seg, dict) or all(seg.get(k) is None for k, _c in MARKS):
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
