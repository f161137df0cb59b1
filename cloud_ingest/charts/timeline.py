"""State timeline: one row per device across the window, coloured by what the evidence says
each stretch of time was (delivering, or a gap with its cause), as Grafana's state timeline."""

from __future__ import annotations

from typing import Any

from cloud_ingest.charts.svg import STATES, document, empty, legend, line, parse_time, rect, text, time_ticks

LABEL_W, ROW_H, GAP = 150.0, 14.0, 3.0


def _gap_seconds(device: dict[str, Any]) -> float:
    return sum(float(g.get("duration_s") or 0) for g in device.get("gaps") or [])


def pick_rows(devices: list[dict[str, Any]], max_rows: int) -> list[dict[str, Any]]:
    """All devices when they fit; otherwise those with the most gap time (the ones a reviewer
    asks about), in device order."""
    if len(devices) <= max_rows:
        return sorted(devices, key=lambda d: str(d["device"]))
    worst = sorted(devices, key=lambda d: (-_gap_seconds(d), str(d["device"])))[:max_rows]
    return sorted(worst, key=lambda d: str(d["device"]))


def state_timeline(figures: dict[str, Any], *, max_rows: int = 40, width: float = 760.0) -> str:
    title = "设备状态时间线 Device state timeline"
    # devices the window expected data of (an inventory row never networked has no row to draw)
    devices = [
        d for d in figures.get("devices") or [] if d.get("samples_expected") is not None or d.get("gateway")
    ]
    if not devices:
        return empty(width, title, "timeline")
    start, end = parse_time(figures["window"]["start"]), parse_time(figures["window"]["end"])
    span = max((end - start).total_seconds(), 1.0)
    plot_w = width - LABEL_W - 10
    rows = pick_rows(devices, max_rows)

    def x(t: str) -> float:
        s = (parse_time(t) - start).total_seconds()
        return LABEL_W + plot_w * min(max(s / span, 0.0), 1.0)

    body: list[str] = []
    used = {"delivering"}
    y = 8.0
    for d in rows:
        label = str(d["device"]) + (f" {d['line']}" if d.get("line") else "")
        body.append(text(LABEL_W - 6, y + ROW_H - 3, label, size=10, anchor="end"))
        body.append(rect(LABEL_W, y, plot_w, ROW_H, STATES["delivering"][0], cls="state-delivering"))
        for g in sorted(d.get("gaps") or [], key=lambda g: (g["start"], g["end"])):
            cause = g.get("cause") if g.get("cause") in STATES else "unknown"
            used.add(cause)
            x0, x1 = x(g["start"]), x(g["end"])
            colour, zh, en = STATES[cause]
            body.append(
                rect(
                    x0,
                    y,
                    max(x1 - x0, 1.0),
                    ROW_H,
                    colour,
                    cls=f"state-{cause}",
                    title=f"{d['device']} {zh} {en} {g['start']} → {g['end']}",
                )
            )
        y += ROW_H + GAP
    body.append(line(LABEL_W, y, width - 10, y))
    # whole hours or days; a window shorter than that is labelled by its two ends (UTC)
    ticks = time_ticks(start, end) or [(start, f"{start:%H:%M:%S}"), (end, f"{end:%H:%M:%S} UTC")]
    for t, lab in ticks:
        tx = LABEL_W + plot_w * (t - start).total_seconds() / span
        near = "start" if tx < LABEL_W + 30 else "end" if tx > LABEL_W + plot_w - 30 else "middle"
        body += [
            line(tx, 8, tx, y + 4, stroke="#ffffff", width=0.6),
            text(tx, y + 15, lab, size=9, anchor=near),
        ]
    y += 22
    if len(rows) < len(devices):
        # two lines: the gap table lists only the longest gaps, so the device table is the one
        # that holds every device (with its gap count)
        for note in (
            f"共 {len(devices)} 台设备，此处只画缺口时间最长的 {len(rows)} 台；全部设备及其缺口数见设备表",
            f"{len(rows)} of {len(devices)} devices drawn (most gap time first); every device and its "
            "gap count is in the device table",
        ):
            body.append(text(LABEL_W, y + 4, note, size=9, fill="#555"))
            y += 13
        y += 3
    parts, h = legend(LABEL_W, y + 6, [k for k in STATES if k in used], width=width)
    return document(width, y + h + 8, body + parts, title=title, kind="timeline")
