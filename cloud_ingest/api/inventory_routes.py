"""The equipment inventory (设备台账) of an enterprise: read it, or import a CSV/XLSX file (the body
of the request, as ``cloud-ingest inventory import`` reads it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel

from cloud_ingest.api.auth import User, check_enterprise
from cloud_ingest.api.db import Db
from cloud_ingest.evidence.inventory_file import InventoryFileError, parse
from cloud_ingest.evidence.inventory_store import EnterpriseNotFound, InventoryRejected, rows, store

UNPROCESSABLE = 422  # (its constant's name differs across Starlette versions)
router = APIRouter(tags=["inventory"])
MAX_BODY = 20 * 1024 * 1024


class InventoryRowOut(BaseModel):
    code: str
    name: str
    type: str | None
    workshop: str | None
    line: str | None
    key_process: bool
    networked: bool
    digital: bool
    production: bool
    business_links: list[str]
    notes: str | None
    updated_at: datetime
    announced: bool


class RowErrorOut(BaseModel):
    line: int
    column: str | None
    message: str


class ImportOut(BaseModel):
    enterprise: str
    imported: int
    mode: str
    removed: int
    encoding: str
    sha256: str
    ignored_columns: list[str]
    rejected: list[RowErrorOut]


@router.get("/enterprises/{enterprise}/inventory", response_model=list[InventoryRowOut])
def get_inventory(enterprise: str, db: Db, user: User) -> list[dict[str, Any]]:
    check_enterprise(user, enterprise)
    if db.execute("SELECT 1 FROM enterprises WHERE code = %s", (enterprise,)).fetchone() is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"enterprise {enterprise!r} not found")
    return rows(db, enterprise)


@router.post(
    "/enterprises/{enterprise}/inventory",
    response_model=ImportOut,
    responses={
        403: {"description": "reviewers read only"},
        422: {"description": "the file cannot be read, or has bad rows (each with its line)"},
    },
)
async def import_inventory(
    enterprise: str,
    request: Request,
    db: Db,
    user: User,
    filename: Annotated[
        str, Query(description="the file's name (an .xlsx name means XLSX)")
    ] = "inventory.csv",
    partial: Annotated[bool, Query(description="keep the good rows when some are rejected")] = False,
    replace: Annotated[bool, Query(description="the file is the complete list")] = False,
    create: Annotated[bool, Query(description="register the enterprise if it is not known yet")] = False,
) -> dict[str, Any]:
    """导入设备台账 The request body is the CSV (UTF-8 or GBK) or XLSX file. Admin, or the enterprise's
    own token."""
    check_enterprise(user, enterprise)
    if user.role == "reviewer":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "reviewers read only")
    if partial and replace:
        raise HTTPException(UNPROCESSABLE, "partial and replace cannot be combined")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_BODY} bytes")
    try:
        parsed = parse(body, filename=filename)
        result = store(
            db,
            enterprise,
            parsed,
            source=filename,
            partial=partial,
            replace=replace,
            by=f"api:{user.name}",
            create=create,
        )
    except InventoryFileError as err:
        raise HTTPException(UNPROCESSABLE, str(err)) from err
    except InventoryRejected as err:
        raise HTTPException(
            UNPROCESSABLE,
            {
                "message": f"{len(err.errors)} problems; nothing imported (partial=true keeps the good rows)",
                "rejected": [{"line": e.line, "column": e.column, "message": e.message} for e in err.errors],
            },
        ) from err
    except EnterpriseNotFound as err:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"enterprise {enterprise!r} not found; create=true registers it"
        ) from err
    return {
        "enterprise": result.enterprise,
        "imported": result.imported,
        "mode": result.mode,
        "removed": result.removed,
        "encoding": result.encoding,
        "sha256": result.sha256,
        "ignored_columns": result.ignored_columns,
        "rejected": [{"line": e.line, "column": e.column, "message": e.message} for e in result.rejected],
    }
