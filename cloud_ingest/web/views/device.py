"""The device page: its tags with the newest value and quality, and a series chart per tag over
the window, from the rollups."""

from __future__ import annotations

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from cloud_ingest.web.deps import Db, Viewer, enterprise_row, not_found
from cloud_ingest.web.queries import devices, live
from cloud_ingest.web.render import page
from cloud_ingest.web.series_chart import series_svg
from cloud_ingest.web.windows import PRESETS, WindowError, parse

router = APIRouter()

QUALITY = {0: ("良好", "good"), 1: ("不确定", "uncertain"), 2: ("差", "bad")}


@router.get("/enterprises/{code}/devices/{device}")
def device_page(request: Request, code: str, device: str, who: Viewer, db: Db, window: str | None = None,
                start: str | None = None, end: str | None = None) -> Response:
    ent = enterprise_row(db, who, code)
    dev = devices.device_row(db, ent["id"], device)
    if dev is None:
        raise not_found(f"设备 {device} 不存在 device {device} not found in {code}")
    window_error = None
    try:
        win = parse(window, start, end)
    except WindowError as err:
        window_error = str(err)
        win = parse("today", None, None)
    tags = devices.tags_latest(db, dev["id"])
    series = devices.series(db, [t["id"] for t in tags], start=win.start, end=win.end)
    charts = {
        t["id"]: Markup(series_svg(series[t["id"]].bins, start=win.start, end=win.end,
                                   width=series[t["id"]].bin_width, unit=t["unit"], title=t["name"]))
        for t in tags
    }
    rollup = next(iter(series.values())).rollup if series else None
    width = next(iter(series.values())).bin_width if series else None
    states, _ = live.device_states(db, int(ent["id"]))
    state = next((d for d in states if d.code == dev["code"]), None)
    return page(request, "device.html", live=state, labels=live.STATE_LABELS,
                status=400 if window_error else 200, ent=ent, dev=dev, tags=tags,
                charts=charts, quality=QUALITY, win=win, window_error=window_error, raw_start=start or "",
                raw_end=end or "", presets=PRESETS, rollup=rollup, bin_width=width)
