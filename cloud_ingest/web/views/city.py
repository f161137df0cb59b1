"""The city overview (reviewers and admins): every enterprise at a glance — gateways online,
devices delivering now against its inventory, its networking rate and MIIT band for the window
chosen (today unless told), its last package — sortable, and filterable by industry and
district. ``/`` sends each person to their starting page.

The inventory and rate columns are the enterprise's evidence figures for the window, from the
one computation (``web/figures.py``, kept per enterprise and window), the numbers its own page
and the API show for the same window. The overview does not wait for a city's computations:
today's figures of every enterprise are kept fresh by the background warmer (``web/warm.py``),
a request computes what is missing only within ``COMPUTE_BUDGET_S``, and a row whose figures are
still being computed says so while the table reloads itself until none is.
"""

from __future__ import annotations

import dataclasses
import time

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from cloud_ingest.web.deps import Db, Viewer, warmer
from cloud_ingest.web.figures import figures_for, kept_figures
from cloud_ingest.web.queries import city
from cloud_ingest.web.queries.city import EnterpriseRow
from cloud_ingest.web.render import page
from cloud_ingest.web.windows import PRESETS, Window, WindowError, parse

router = APIRouter()

COMPUTE_BUDGET_S = 0.15
"""How long one request of the overview may spend computing figures that are not kept yet."""
RELOAD_S = 2

COLUMNS = [  # key, Chinese, English, numeric
    ("code", "企业编码", "Code", False), ("name", "名称", "Name", False),
    ("industry", "行业", "Industry", False), ("district", "区县", "District", False),
    ("gateways_online", "网关在线", "Gateways online", True),
    ("devices", "已接入设备", "Devices announced", True),
    ("inventory_rows", "台账设备", "Inventory size", True),
    ("delivering", "正在上报 / 台账生产设备", "Delivering now / in inventory", True),
    ("networking_rate", "设备联网率 · 档位", "Networking rate · MIIT band", True),
    ("last_package_at", "最近证据包", "Last package", False),
]


@router.get("/")
def home(who: Viewer) -> Response:
    if who.role == "enterprise":
        return RedirectResponse(f"/enterprises/{who.enterprise}", status_code=303)
    return RedirectResponse("/city", status_code=303)


def with_figures(db: Db, row: EnterpriseRow, win: Window, *, compute: bool) -> EnterpriseRow:
    """``row`` with its figures for ``win``: kept ones, or computed now if ``compute``; else
    marked pending (the warmer is computing them)."""
    figures, missing = (figures_for(db, row.code, win) if compute else (kept_figures(row.code, win), None))
    if figures is None and missing is None:
        return dataclasses.replace(row, figures_pending=True)
    if figures is None:  # an enterprise whose figures cannot be computed keeps its row, saying why
        return dataclasses.replace(row, figures_error=missing)
    inv, band = figures["inventory"], figures.get("networking_band") or {}
    return dataclasses.replace(
        row, inventory_rows=inv["rows"] if inv["present"] else None,
        in_inventory=inv["production_devices"] if inv["present"] else None,
        networking_rate=figures.get("networking_rate"), band_points=band.get("points"),
        band_range=band.get("range"))


@router.get("/city")
def overview(request: Request, who: Viewer, db: Db, industry: str = "", district: str = "",
             sort: str = "code", order: str = "asc", window: str | None = None, start: str | None = None,
             end: str | None = None) -> Response:
    if who.role == "enterprise":  # an enterprise sees itself only: its own page is its overview
        return RedirectResponse(f"/enterprises/{who.enterprise}", status_code=303)
    window_error = None
    try:
        win = parse(window, start, end)
    except WindowError as err:
        window_error = str(err)
        win = parse("today", None, None)
    rows = city.enterprises(db)
    industries = sorted({r.industry for r in rows if r.industry})
    districts = sorted({r.district for r in rows if r.district})
    warm = warmer(request)
    until = time.monotonic() + COMPUTE_BUDGET_S
    shown = []
    for r in rows:
        if (industry and r.industry != industry) or (district and r.district != district):
            continue
        shown.append(with_figures(db, r, win, compute=time.monotonic() < until))
    for r in shown:  # kept fresh from now on (after the rows are read: none is half-computed)
        warm.watch(r.code, win)
    sort = sort if sort in city.SORTABLE else "code"
    descending = order == "desc"
    shown = city.sort_rows(shown, sort, descending=descending)
    return page(request, "city.html", status=400 if window_error else 200, rows=shown, total=len(rows),
                industries=industries, districts=districts, industry=industry, district=district, sort=sort,
                order="desc" if descending else "asc", columns=COLUMNS, win=win, window_error=window_error,
                raw_start=start or "", raw_end=end or "", presets=PRESETS,
                pending=sum(1 for r in shown if r.figures_pending), reload_s=RELOAD_S,
                self_url=request.url.path + (f"?{request.url.query}" if request.url.query else ""))
