"""Operations (admin only): ingest counters of this worker, and the dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from cloud_ingest.api.auth import Admin
from cloud_ingest.api.db import Db

router = APIRouter(tags=["operations"])


class DeadLetterOut(BaseModel):
    id: int
    received_at: datetime
    topic: str
    reason: str
    detail: str | None
    enterprise: str | None
    gateway: str | None
    size: int
    payload_head: str


@router.get("/ingest/stats")
def ingest_stats(request: Request, _admin: Admin) -> dict[str, Any]:
    stats = request.app.state.stats
    return {"worker": vars(stats.total()) if stats is not None else None}


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def dead_letters(
    db: Db, _admin: Admin,
    reason: Annotated[str | None, Query()] = None,
    enterprise: Annotated[str | None, Query(description="as named by the topic")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT id, received_at, topic, reason, detail, enterprise, gateway, length(payload) AS size,"
        " convert_from(substring(payload FROM 1 FOR 200), 'SQL_ASCII') AS payload_head FROM dead_letters"
        " WHERE (%s::text IS NULL OR reason = %s) AND (%s::text IS NULL OR enterprise = %s)"
        " ORDER BY id DESC LIMIT %s",
        (reason, reason, enterprise, enterprise, limit),
    ).fetchall()
