"""Gap causes as stacked bars: hours of gaps per day (or per hour for short windows), split by
cause, summed over all devices — where the lost time went, at a glance."""

from __future__ import annotations

from typing import Any

from cloud_ingest.charts.completeness import columns
from cloud_ingest.charts.svg import STATES, document, empty, legend, line, num, parse_time, rect, text

LEFT, TOP, PLOT_H = 60.0, 14.0, 150.0


def gap_causes(figures: dict[str, Any], *, width: float = 760.0) -> str:
    title = "缺口原因 Gap causes"
    devices = figures.get("devices") or []
    gaps = [g for d in devices for g in d.get("gaps") or []]
    if not gaps:
        return empty(width, title, "gaps").replace(
            "本时段无数据 no data in this window", "本时段没有缺口 no gaps in this window"
        )
    start, end = parse_time(figures["window"]["start"]), parse_time(figures["window"]["end"])
    bucket = (figures.get("grid") or {}).get("bucket")
    cols = columns(start, end, hourly=None if bucket is None else bucket == "hour")
    causes = [k for k in STATES if k != "delivering"]
    sums = [[0.0] * len(causes) for _ in cols]
    for g in gaps:
        ci = causes.index(g["cause"]) if g.get("cause") in causes else causes.index("unknown")
        a, b = parse_time(g["start"]), parse_time(g["end"])
        for j, (lo, hi, _lab) in enumerate(cols):
            overlap = (min(b, hi) - max(a, lo)).total_seconds()
            if overlap > 0:
                sums[j][ci] += overlap / 3600
    peak = max(sum(s) for s in sums) or 1.0
    scale = _nice(peak)
    plot_w = width - LEFT - 10
    bar_w = plot_w / len(cols)
    body: list[str] = []
    for k in range(5):
        v = scale * k / 4
        y = TOP + PLOT_H - PLOT_H * v / scale
        body += [
            line(LEFT, y, width - 10, y, stroke="#e5e5e5"),
            text(LEFT - 4, y + 3, num(v), size=9, anchor="end"),
        ]
    body.append(text(4, TOP + 4, "小时 h", size=9, fill="#555"))
    every = max(1, int(20 // bar_w) + 1)
    used = set()
    for j, (lo, _hi, lab) in enumerate(cols):
        y = TOP + PLOT_H
        for ci, hours in enumerate(sums[j]):
            if hours <= 0:
                continue
            h = PLOT_H * hours / scale
            y -= h
            colour, zh, en = STATES[causes[ci]]
            used.add(causes[ci])
            body.append(
                rect(
                    LEFT + j * bar_w + 1,
                    y,
                    max(bar_w - 2, 1.0),
                    h,
                    colour,
                    cls=f"bar-{causes[ci]}",
                    title=f"{lo:%Y-%m-%d %H:%M} {zh} {en} {num(hours)} h",
                )
            )
        if j % every == 0:
            body.append(text(LEFT + j * bar_w + bar_w / 2, TOP + PLOT_H + 12, lab, size=8, anchor="middle"))
    body.append(line(LEFT, TOP + PLOT_H, width - 10, TOP + PLOT_H, stroke="#666"))
    parts, h = legend(LEFT, TOP + PLOT_H + 32, [c for c in causes if c in used], width=width)
    return document(width, TOP + PLOT_H + 32 + h, body + parts, title=title, kind="gaps")


def _nice(peak: float) -> float:
    """The smallest 1/2/5 × 10^k not below ``peak``: round axis labels."""
    m = 1e-3
    while True:
        for f in (1, 2, 5):
            if f * m >= peak:
                return f * m
        m *= 10
