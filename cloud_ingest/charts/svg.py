"""The few SVG pieces every chart uses, written so output is byte-stable: fixed number formats,
attributes in a fixed order, text escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"

# state / cause -> (colour, Chinese, English); the order is the legend's
STATES: dict[str, tuple[str, str, str]] = {
    "delivering": ("#2e9e5b", "正常上报", "delivering"),
    "delivered_late": ("#e0b422", "延迟送达", "delivered late"),
    "device_offline": ("#d64541", "设备离线", "device offline"),
    "bad_value": ("#c0392b", "坏值", "bad value"),
    "gateway_offline": ("#8e44ad", "网关离线", "gateway offline"),
    "dropped_at_gateway": ("#e67e22", "网关丢弃", "dropped at gateway"),
    "gateway_overrun": ("#b9770e", "网关超负荷", "gateway overrun"),
    "rejected": ("#34495e", "被拒收", "rejected"),
    "unknown": ("#95a5a6", "原因不明", "unknown"),
}


def num(x: float) -> str:
    """One decimal, no trailing zero noise: stable across platforms."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def text(
    x: float,
    y: float,
    body: str,
    *,
    size: float = 11,
    anchor: str = "start",
    fill: str = "#222",
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{num(x)}" y="{num(y)}" font-size="{num(size)}" text-anchor="{anchor}" fill="{fill}"'
        f' font-weight="{weight}">{escape(body)}</text>'
    )


def rect(
    x: float, y: float, w: float, h: float, fill: str, *, title: str | None = None, cls: str | None = None
) -> str:
    c = f' class="{cls}"' if cls else ""
    inner = f"<title>{escape(title)}</title>" if title else ""
    end = f">{inner}</rect>" if inner else "/>"
    return (
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0.0))}" height="{num(h)}" fill="{fill}"{c}{end}'
    )


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    stroke: str = "#999",
    width: float = 1,
    dash: str | None = None,
) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{stroke}"'
        f' stroke-width="{num(width)}"{d}/>'
    )


def document(width: float, height: float, body: list[str], *, title: str, kind: str) -> str:
    """The outer element: sized in user units with a viewBox, so it scales in HTML and PDF."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" width="{num(width)}"'
        f' height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}" role="img"'
        f' font-family="{FONT}"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def legend(x: float, y: float, keys: list[str], *, width: float = 760.0) -> tuple[list[str], float]:
    """Swatches with bilingual labels, wrapping inside the drawing's ``width``; returns the parts
    and the height used."""
    parts, cx, cy = [], x, y
    for k in keys:
        colour, zh, en = STATES[k]
        label = f"{zh} {en}"
        w = 16 + text_width(label, 10) + 12
        if cx + w > width - 4 and cx > x:
            cx, cy = x, cy + 16
        parts += [rect(cx, cy - 9, 10, 10, colour), text(cx + 14, cy, label, size=10)]
        cx += w
    return parts, cy - y + 16


def parse_time(s: str) -> datetime:
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def empty(width: float, title: str, kind: str) -> str:
    return document(
        width,
        40,
        [text(8, 24, "本时段无数据 no data in this window", size=12, fill="#666")],
        title=title,
        kind=kind,
    )


def text_width(body: str, size: float) -> float:
    """Rough advance of a label: CJK glyphs are square, Latin about half as wide."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.56 for ch in body)


def time_ticks(start: datetime, end: datetime, *, max_ticks: int = 10) -> list[tuple[datetime, str]]:
    """Tick times on whole hours or days, at most ``max_ticks``, labelled in UTC."""
    from datetime import timedelta

    span = (end - start).total_seconds()
    steps = [3600 * h for h in (1, 2, 3, 6, 12)] + [86400 * d for d in (1, 2, 3, 5, 7, 14, 30, 61, 91)]
    step = next((s for s in steps if span / s <= max_ticks), steps[-1])
    t = start.replace(minute=0, second=0, microsecond=0)
    if step >= 86400:
        t = t.replace(hour=0)
    ticks = []
    while t <= end:
        if t >= start:
            ticks.append((t, t.strftime("%m-%d") if step >= 86400 else t.strftime("%m-%d %H:%M")))
        t += timedelta(seconds=step)
    return ticks
