"""One tag's series over a window as inline SVG: the mean as a line, min–max as a band.

A pure function from bins to SVG text, deterministic (fixed decimals, no ids drawn at random),
so the same data gives the same bytes. Missing bins break the line (no data is drawn as no
line, never interpolated across); bins with bad or uncertain samples get a red tick on the
time axis. The evidence charts (state timeline, completeness grid, gaps, latency) are the
report's, in ``cloud_ingest/charts``; this one exists because only the device page shows raw
series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from cloud_ingest.web.queries.devices import Bin
from cloud_ingest.web.render import local

W, H = 640, 84
PAD_L, PAD_R, PAD_T, PAD_B = 56, 8, 8, 20


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _label(v: float) -> str:
    """Axis labels a person reads: no exponents, four significant digits below 10,000."""
    return f"{v:,.0f}" if abs(v) >= 10_000 else f"{v:.4g}"


def series_svg(bins: Sequence[Bin], *, start: datetime, end: datetime, width: timedelta,
               unit: str | None, title: str) -> str:
    span = (end - start).total_seconds() or 1.0
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    numeric = [b for b in bins if b.avg is not None]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             f'class="series" role="img" aria-label="{escape(title)}">',
             f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" class="plot"/>']

    def x(t: datetime) -> float:
        return PAD_L + plot_w * max(0.0, min(1.0, (t - start).total_seconds() / span))

    if numeric:
        lo = min(_low(b) for b in numeric)
        hi = max(_high(b) for b in numeric)
        if hi == lo:
            lo, hi = lo - 1.0, hi + 1.0

        def y(v: float) -> str:
            return _fmt(PAD_T + plot_h * (1 - (v - lo) / (hi - lo)))

        half = width / 2
        for run in _runs(numeric, width):
            xs = [_fmt(x(b.start + half)) for b in run]
            if len(run) == 1:
                parts.append(f'<circle cx="{xs[0]}" cy="{y(_mean(run[0]))}" r="2" class="avg"/>')
                continue
            top = " ".join(f"{px},{y(_high(b))}" for px, b in zip(xs, run, strict=True))
            bottom = " ".join(f"{px},{y(_low(b))}" for px, b in reversed(list(zip(xs, run, strict=True))))
            parts.append(f'<polygon points="{top} {bottom}" class="band"/>')
            line = " ".join(f"{px},{y(_mean(b))}" for px, b in zip(xs, run, strict=True))
            parts.append(f'<polyline points="{line}" class="avg"/>')
        suffix = f" {escape(unit)}" if unit else ""
        for value, ty in ((hi, PAD_T + 9), (lo, PAD_T + plot_h)):
            parts.append(f'<text x="{PAD_L - 4}" y="{ty}" class="axis" text-anchor="end">'
                         f'{_label(value)}{suffix}</text>')
    else:
        text = "窗口内无数值数据 no numeric data in this window" if not bins else "文本值 text values"
        parts.append(f'<text x="{PAD_L + plot_w / 2:.1f}" y="{PAD_T + plot_h / 2:.1f}" class="empty" '
                     f'text-anchor="middle">{text}</text>')
    for b in bins:
        if b.n_good < b.n:
            bx = x(b.start)
            bw = max(1.0, x(b.start + width) - bx)
            parts.append(f'<rect x="{_fmt(bx)}" y="{PAD_T + plot_h}" width="{_fmt(bw)}" height="3" '
                         f'class="bad"><title>{local(b.start)}: {b.n - b.n_good} / {b.n} '
                         '非良好 not good</title></rect>')
    fmt = "%m-%d %H:%M" if span > 86400 else "%H:%M"
    parts.append(f'<text x="{PAD_L}" y="{H - 4}" class="axis">{local(start, fmt)}</text>')
    parts.append(f'<text x="{W - PAD_R}" y="{H - 4}" class="axis" text-anchor="end">{local(end, fmt)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _mean(b: Bin) -> float:
    assert b.avg is not None
    return b.avg


def _low(b: Bin) -> float:
    return b.lo if b.lo is not None else _mean(b)


def _high(b: Bin) -> float:
    return b.hi if b.hi is not None else _mean(b)


def _runs(bins: Sequence[Bin], width: timedelta) -> list[list[Bin]]:
    """Consecutive bins; a missing bin starts a new run (the line breaks there)."""
    runs: list[list[Bin]] = []
    for b in bins:
        if runs and b.start - runs[-1][-1].start <= width:
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs
