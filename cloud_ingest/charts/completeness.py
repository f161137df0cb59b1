"""Completeness grid (status history): rows are devices — or workshop/line groups when there are
too many devices to draw one row each — and columns are the figures' grid buckets (hours for
windows up to three days, else days). A cell is the device's completeness in that bucket as the
figures compute it (``grid``: credited ÷ expected, docs/evidence.md §15); a group's cell is the
mean of its devices' cells; grey where nothing was expected."""

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


def columns(
    start: datetime, end: datetime, *, hourly: bool | None = None
) -> list[tuple[datetime, datetime, str]]:
    """Whole days (or hours) overlapping the window, clipped to it (the gap chart's columns)."""
    if hourly is None:
        hourly = (end - start) <= timedelta(days=3)
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


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def completeness_grid(figures: dict[str, Any], *, max_rows: int = 60, width: float = 760.0) -> str:
    title = "数据完整性网格 Completeness grid"
    grid = figures.get("grid") or {}
    starts = [parse_time(t) for t in grid.get("starts") or []]
    rows = sorted(grid.get("rows") or [], key=lambda r: str(r["device"]))
    if not rows or not starts:
        return empty(width, title, "completeness")
    hourly = grid.get("bucket") == "hour"
    place = {str(d["device"]): d for d in figures.get("devices") or []}
    groups: list[tuple[str, list[dict[str, Any]]]]
    if len(rows) <= max_rows:
        groups = [(str(r["device"]), [r]) for r in rows]
        unit = "设备 device"
    else:
        by: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            d = place.get(str(r["device"])) or {}
            by.setdefault(f"{d.get('workshop') or '-'} / {d.get('line') or '-'}", []).append(r)
        groups = [(f"{k} ({len(v)})", v) for k, v in sorted(by.items())]
        unit = "车间/产线 workshop/line (devices)"
    cell_w = min(24.0, (width - LABEL_W - 10) / len(starts))
    cell_h = 12.0 if len(groups) > 30 else 16.0
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
    for j, t in enumerate(starts):
        if j % every == 0:
            lab = t.strftime("%H") if hourly else t.strftime("%d")
            body.append(text(LABEL_W + j * cell_w + cell_w / 2, y0 + 8, lab, size=8, anchor="middle"))
    y = y0 + 12
    for name, members in groups:
        body.append(text(LABEL_W - 6, y + cell_h - 4, name, size=9 if cell_h < 16 else 10, anchor="end"))
        for j, t in enumerate(starts):
            cells = [
                (m.get("completeness") or [])[j] if j < len(m.get("completeness") or []) else None
                for m in members
            ]
            value = _mean(cells)
            body.append(
                rect(
                    LABEL_W + j * cell_w,
                    y,
                    cell_w - 1,
                    cell_h - 1,
                    NO_TIME if value is None else colour(value),
                    cls="cell",
                    title=f"{name} {t:%Y-%m-%d %H:%M} "
                    + ("无应收 nothing expected" if value is None else f"{num(value * 100)}%"),
                )
            )
        y += cell_h
    y += 12
    lx = LABEL_W
    for _floor, c, lab in (*BINS, (0.0, NO_TIME, "无应收 none expected")):
        body += [rect(lx, y - 9, 10, 10, c), text(lx + 14, y, lab, size=10)]
        lx += 14 + text_width(lab, 10) + 14
    return document(width, y + 10, body, title=title, kind="completeness")
