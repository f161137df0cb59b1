"""The evidence figures of an enterprise for a window: the same computation and JSON as
``cloud-ingest evidence figures --json`` (docs/evidence.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from cloud_ingest.api.auth import User, check_enterprise
from cloud_ingest.api.db import Db
from cloud_ingest.evidence import EvidenceError, Figures, SchemaTooOld, UnknownEnterprise, compute

UNPROCESSABLE = 422  # (its constant's name differs across Starlette versions)
router = APIRouter(tags=["evidence"])


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


@router.get(
    "/enterprises/{enterprise}/evidence",
    response_model=Figures,
    responses={
        404: {"description": "unknown enterprise (or another enterprise's token)"},
        422: {"description": "a window that cannot be computed (end ≤ start, start in the future)"},
    },
)
def evidence(
    enterprise: str,
    db: Db,
    user: User,
    start: Annotated[datetime, Query(description="inclusive; ISO 8601, UTC when no offset")],
    end: Annotated[datetime | None, Query(description="exclusive; default now")] = None,
) -> dict[str, Any]:
    """数据贯通证据指标 The figures: networking rate and band, completeness, gaps with causes, latency,
    clock offsets, reconciliation, business-link coverage, roll-ups."""
    check_enterprise(user, enterprise)
    now = datetime.now(UTC)
    try:
        figures = compute(db, enterprise, start=_utc(start), end=_utc(end) if end else now, now=now)
    except UnknownEnterprise as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"enterprise {enterprise!r} not found") from err
    except EvidenceError as err:
        raise HTTPException(UNPROCESSABLE, str(err)) from err
    except SchemaTooOld as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err)) from err
    return figures.model_dump(mode="json")
