"""Dead letters (admins): every message the cloud refused, with its reason, topic, time and the
head of its payload, newest first. The rows are the API's (``/api/v1/dead-letters``): one
query for both."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cloud_ingest.api.admin_routes import dead_letters as dead_letter_rows
from cloud_ingest.web.deps import Admin, Db
from cloud_ingest.web.render import page

router = APIRouter()

SHOWN = 200


@router.get("/dead-letters")
def dead_letters_page(request: Request, who: Admin, db: Db, reason: str = "",
                      enterprise: str = "") -> Response:
    reasons = db.execute("SELECT reason, count(*) AS n FROM dead_letters GROUP BY reason ORDER BY 2 DESC, 1"
                         ).fetchall()
    rows = dead_letter_rows(db, who, reason=reason or None, enterprise=enterprise or None, limit=SHOWN)
    return page(request, "dead_letters.html", rows=rows, reasons=reasons, reason=reason,
                enterprise=enterprise, shown=SHOWN)
