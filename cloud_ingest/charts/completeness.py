"""Completeness grid (status history): rows are devices — or workshop/line groups when there are
too many devices to draw one row each — and columns are days (hours for windows of two days or
less). A cell's value is the share of its time not inside a gap that lost data; gaps whose data
arrived late count as covered, as in the completeness figures. Per-tag completeness against the
expected sample count is in the tag table; this grid shows *when* data was missing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cloud_ingest.charts.svg import document, empty, num, parse_time, rect, text, text_width

LABEL_W = 150.0
BINS: tuple[tuple[float, str, str], ...] = (
    (0.99, "#1e8449", "≥99%"),
    (0.95, "#58d68d", "≥95%"),
    (0.80, "#f4d03f", "≥80%"),
    (0.50, "#eb984e", "≥50%"),
    (0.0, "#cb4335", "<50%"),
)
NO_TIME = "#eeeeee"


def colour(value: float) -> str:
    return next(c for lo, c, _ in BINS if value >= lo)


def columns(start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """Whole days (or hours) overlapping the window, clipped to it."""
    hourly = (end - start) <= timedelta(days=2)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    t = (
        start.replace(minute=0, second=0, microsecond=0)
        if hourly
        else start.replace(hour=0, minute=0, second=0, microsecond=0)
    )
    cols = []
    while t < end:
        lo, hi = max(t, start), min(t + step, end)
        cols.append((lo, hi, t.strftime("%H") if hourly else t.strftime("%d")))
        t += step
    return cols


def covered(device: dict[str, Any], lo: datetime, hi: datetime) -> float:
    span = (hi - lo).total_seconds()
    lost = 0.0
    for g in device.get("gaps") or []:
        if g.get("cause") == "delivered_late":
            continue
        a, b = max(parse_time(g["start"]), lo), min(parse_time(g["end"]), hi)
        lost += max((b - a).total_seconds(), 0.0)
    return max(0.0, 1.0 - lost / span) if span > 0 else 1.0


def completeness_grid(figures: dict[str, Any], *, max_rows: int = 60, width: float = 760.0) -> str:
    title = "数据完整性网格 Completeness grid"
    devices = sorted(figures.get("devices") or [], key=lambda d: str(d["device"]))
    if not devices:
        return empty(width, title, "completeness")
    start, end = parse_time(figures["window"]["start"]), parse_time(figures["window"]["end"])
    cols = columns(start, end)
    groups: list[tuple[str, list[dict[str, Any]]]]
    if len(devices) <= max_rows:
        groups = [(str(d["device"]), [d]) for d in devices]
        unit = "设备 device"
    else:
        by: dict[str, list[dict[str, Any]]] = {}
        for d in devices:
            by.setdefault(f"{d.get('workshop') or '-'} / {d.get('line') or '-'}", []).append(d)
        groups = [(f"{k} ({len(v)})", v) for k, v in sorted(by.items())]
        unit = "车间/产线 workshop/line (devices)"
    cell_w = min(24.0, (width - LABEL_W - 10) / len(cols))
    cell_h = 12.0 if len(groups) > 30 else 16.0
    hourly = (end - start) <= timedelta(days=2)
    body = [
        text(
            8,
            14,
            f"行 rows: {unit} · 列 columns: {'小时 hour (UTC)' if hourly else '日 day (UTC)'}",
            size=10,
            fill="#555",
        )
    ]
    y0 = 24.0
    every = max(1, int(18 // cell_w) + 1)
    for j, (_lo, _hi, lab) in enumerate(cols):
        if j % every == 0:
            body.append(text(LABEL_W + j * cell_w + cell_w / 2, y0 + 8, lab, size=8, anchor="middle"))
    y = y0 + 12
    for name, members in groups:
        body.append(text(LABEL_W - 6, y + cell_h - 4, name, size=9 if cell_h < 16 else 10, anchor="end"))
        for j, (lo, hi, _lab) in enumerate(cols):
            value = sum(covered(d, lo, hi) for d in members) / len(members)
            body.append(
                rect(
                    LABEL_W + j * cell_w,
                    y,
                    cell_w - 1,
                    cell_h - 1,
                    colour(value),
                    cls="cell",
                    title=f"{name} {lo:%Y-%m-%d %H:%M} {num(value * 100)}%",
                )
            )
        y += cell_h
    y += 12
    lx = LABEL_W
    for _floor, c, lab in BINS:
        body += [rect(lx, y - 9, 10, 10, c), text(lx + 14, y, lab, size=10)]
        lx += 14 + text_width(lab, 10) + 14
    return document(width, y + 10, body, title=title, kind="completeness")
