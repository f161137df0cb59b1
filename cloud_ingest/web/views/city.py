"""The city overview (reviewers and admins): every enterprise at a glance, sortable and
filterable by industry and district. ``/`` sends each person to their starting page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from cloud_ingest.web.deps import Db, Viewer
from cloud_ingest.web.queries import city
from cloud_ingest.web.render import page

router = APIRouter()

COLUMNS = [  # key, Chinese, English, numeric
    ("code", "企业编码", "Code", False), ("name", "名称", "Name", False),
    ("industry", "行业", "Industry", False), ("district", "区县", "District", False),
    ("gateways_online", "网关在线", "Gateways online", True),
    ("devices", "已接入设备", "Devices announced", True), ("delivering", "正在上报", "Delivering now", True),
]


@router.get("/")
def home(who: Viewer) -> Response:
    if who.role == "enterprise":
        return RedirectResponse(f"/enterprises/{who.enterprise}", status_code=303)
    return RedirectResponse("/city", status_code=303)


@router.get("/city")
def overview(request: Request, who: Viewer, db: Db, industry: str = "", district: str = "",
             sort: str = "code", order: str = "asc") -> Response:
    if who.role == "enterprise":  # an enterprise sees itself only: its own page is its overview
        return RedirectResponse(f"/enterprises/{who.enterprise}", status_code=303)
    rows = city.enterprises(db)
    industries = sorted({r.industry for r in rows if r.industry})
    districts = sorted({r.district for r in rows if r.district})
    shown = [r for r in rows
             if (not industry or r.industry == industry) and (not district or r.district == district)]
    sort = sort if sort in city.SORTABLE else "code"
    descending = order == "desc"
    shown = city.sort_rows(shown, sort, descending=descending)
    return page(request, "city.html", rows=shown, total=len(rows), industries=industries, districts=districts,
                industry=industry, district=district, sort=sort, order="desc" if descending else "asc",
                columns=COLUMNS)
