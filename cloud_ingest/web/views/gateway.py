"""The gateway page: its sessions, streams, ledger, counters and backlog as last reported, and
the difference between its clock and the cloud's on the newest batch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cloud_ingest.web.deps import Db, Viewer, enterprise_row, not_found
from cloud_ingest.web.queries import gateways
from cloud_ingest.web.render import page

router = APIRouter()


@router.get("/enterprises/{code}/gateways/{gateway}")
def gateway_page(request: Request, code: str, gateway: str, who: Viewer, db: Db) -> Response:
    ent = enterprise_row(db, who, code)
    detail = gateways.gateway_detail(db, ent["id"], gateway)
    if detail is None:
        raise not_found(f"网关 {gateway} 不存在 gateway {gateway} not found in {code}")
    online = bool(detail.sessions) and detail.sessions[0]["died_at"] is None
    return page(request, "gateway.html", ent=ent, g=detail, online=online,
                backlog=sum(c.backlog for c in detail.counts) if detail.counters else None)
