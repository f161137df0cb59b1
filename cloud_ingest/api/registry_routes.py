"""Registry queries: enterprises, gateways, devices, tags (as the birth messages described them)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from cloud_ingest.api.auth import User, check_enterprise
from cloud_ingest.api.db import Db

router = APIRouter(tags=["registry"])


class EnterpriseOut(BaseModel):
    code: str
    name: str | None
    industry: str | None
    district: str | None
    registered_by: str
    first_seen: datetime
    gateways: int
    devices: int


class GatewayOut(BaseModel):
    code: str
    agent_version: str | None
    current_session: str | None
    registered_by: str
    first_seen: datetime


class TagOut(BaseModel):
    name: str
    data_type: str | None
    unit: str | None
    interval_ms: int | None
    report_mode: str
    heartbeat_ms: int | None
    description: str | None
    registered_by: str


class DeviceOut(BaseModel):
    code: str
    gateway: str | None
    profile: str | None
    protocol: str | None
    manufacturer: str | None
    model: str | None
    workshop: str | None
    line: str | None
    key_process: bool
    registered_by: str
    tags: list[TagOut]


_ENTERPRISES = (
    "SELECT e.code, e.name, e.industry, e.district, e.registered_by, e.first_seen,"
    " (SELECT count(*) FROM gateways g WHERE g.enterprise_id = e.id) AS gateways,"
    " (SELECT count(*) FROM devices d WHERE d.enterprise_id = e.id) AS devices FROM enterprises e"
)


def enterprise_id(db: Db, user: User, code: str) -> int:
    """The id of an enterprise the user may read; 404 otherwise (also for other enterprises)."""
    check_enterprise(user, code)
    row = db.execute("SELECT id FROM enterprises WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"enterprise {code!r} not found")
    return int(row["id"])


@router.get("/enterprises", response_model=list[EnterpriseOut])
def list_enterprises(db: Db, user: User) -> list[dict[str, object]]:
    if user.role == "enterprise":
        return db.execute(_ENTERPRISES + " WHERE e.code = %s", (user.enterprise,)).fetchall()
    return db.execute(_ENTERPRISES + " ORDER BY e.code").fetchall()


@router.get("/enterprises/{enterprise}", response_model=EnterpriseOut)
def get_enterprise(enterprise: str, db: Db, user: User) -> dict[str, object]:
    ent_id = enterprise_id(db, user, enterprise)
    row = db.execute(_ENTERPRISES + " WHERE e.id = %s", (ent_id,)).fetchone()
    assert row is not None
    return row


@router.get("/enterprises/{enterprise}/gateways", response_model=list[GatewayOut])
def list_gateways(enterprise: str, db: Db, user: User) -> list[dict[str, object]]:
    ent_id = enterprise_id(db, user, enterprise)
    return db.execute(
        "SELECT code, agent_version, current_session, registered_by, first_seen FROM gateways"
        " WHERE enterprise_id = %s ORDER BY code", (ent_id,),
    ).fetchall()


@router.get("/enterprises/{enterprise}/devices", response_model=list[DeviceOut])
def list_devices(enterprise: str, db: Db, user: User) -> list[dict[str, object]]:
    ent_id = enterprise_id(db, user, enterprise)
    devices = db.execute(
        "SELECT d.id, d.code, g.code AS gateway, d.profile, d.protocol, d.manufacturer, d.model,"
        " d.workshop, d.line, d.key_process, d.registered_by FROM devices d"
        " LEFT JOIN gateways g ON g.id = d.gateway_id WHERE d.enterprise_id = %s ORDER BY d.code",
        (ent_id,),
    ).fetchall()
    tags: dict[int, list[dict[str, object]]] = {}
    for t in db.execute(
        "SELECT t.device_id, t.name, t.data_type, t.unit, t.interval_ms, t.report_mode, t.heartbeat_ms,"
        " t.description, t.registered_by"
        " FROM tags t JOIN devices d ON d.id = t.device_id WHERE d.enterprise_id = %s ORDER BY t.name",
        (ent_id,),
    ):
        tags.setdefault(int(t["device_id"]), []).append(t)
    return [{**d, "tags": tags.get(int(d["id"]), [])} for d in devices]
