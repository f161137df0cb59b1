"""The enterprise page: the live device grid by workshop and line (an htmx partial polled every
few seconds), its gateways, and the evidence for a chosen window. The page is the cheap part;
the evidence is a partial it loads after itself, and opening the page asks the warmer to keep
this window's figures and the presets' (today, 7 and 30 days) computed, so the partial and a
switch of window find them kept."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from cloud_ingest.web.deps import Db, Viewer, enterprise_row, warmer
from cloud_ingest.web.queries import gateways, live
from cloud_ingest.web.render import page
from cloud_ingest.web.views import evidence
from cloud_ingest.web.windows import PRESETS, WindowError, parse

router = APIRouter()

REFRESH_CHOICES = (2, 5, 10, 30, 60)
DEFAULT_REFRESH_S = 5


def refresh_of(value: str | None) -> int:
    """The grid's refresh period in seconds (one of the choices; the default otherwise)."""
    try:
        seconds = int(value or DEFAULT_REFRESH_S)
    except ValueError:
        return DEFAULT_REFRESH_S
    return seconds if seconds in REFRESH_CHOICES else DEFAULT_REFRESH_S


def live_context(db: Db, ent: dict[str, Any], refresh: int) -> dict[str, Any]:
    devices, read_at = live.device_states(db, int(ent["id"]))
    return {"lines": live.by_line(devices), "counts": live.counts(devices), "labels": live.STATE_LABELS,
            "read_at": read_at, "refresh": refresh, "stale_after": refresh * 3 + 1}


@router.get("/enterprises/{code}")
def enterprise_page(request: Request, code: str, who: Viewer, db: Db, window: str | None = None,
                    start: str | None = None, end: str | None = None, refresh: str | None = None,
                    build: str | None = None) -> Response:
    ent = enterprise_row(db, who, code)
    window_error = None
    try:
        win = parse(window, start, end)
    except WindowError as err:
        window_error = str(err)
        win = parse("today", None, None)
    period = refresh_of(refresh)
    warm = warmer(request)
    warm.watch(ent["code"], win)
    for preset in ("today", "7d", "30d"):
        if preset != win.preset:
            warm.watch(ent["code"], parse(preset, None, None))
    return page(request, "enterprise.html", status=400 if window_error else 200, ent=ent, win=win,
                window_error=window_error, raw_start=start or "", raw_end=end or "", presets=PRESETS,
                refresh_choices=REFRESH_CHOICES, gateways=gateways.gateway_list(db, ent["id"]),
                packages=evidence.packages_of(db, ent["code"]), poll_s=evidence.BUILD_POLL_S,
                job=evidence.job_of(request, ent["code"], build) if who.role == "admin" else None,
                **live_context(db, ent, period))


@router.get("/enterprises/{code}/live")
def live_grid(request: Request, code: str, who: Viewer, db: Db, refresh: str | None = None) -> Response:
    """The partial the page polls: the same 404 as the page for an enterprise not the viewer's."""
    ent = enterprise_row(db, who, code)
    return page(request, "partials/live_grid.html", ent=ent, **live_context(db, ent, refresh_of(refresh)))
