"""Status: is each gateway online, what did it last send and report; is each device delivering."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cloud_ingest.api.auth import User
from cloud_ingest.api.db import Db
from cloud_ingest.api.registry_routes import enterprise_id
from cloud_ingest.liveness import Liveness, liveness

router = APIRouter(tags=["status"])


class GatewayStatusOut(BaseModel):
    gateway: str
    online: bool
    session: str | None
    born_at: datetime | None
    died_at: datetime | None
    death_reason: str | None
    last_seq: int | None
    last_stored_at: datetime | None
    batches_stored: int
    counters: dict[str, Any] | None
    counters_sent_at: datetime | None


class DeviceStatusOut(BaseModel):
    device: str
    gateway: str | None
    workshop: str | None
    line: str | None
    key_process: bool
    expected_interval_ms: int | None
    last_ts: datetime | None
    last_stored_at: datetime | None
    tags_good: int
    tags_bad: int
    status: Liveness


@router.get("/enterprises/{enterprise}/gateways/status", response_model=list[GatewayStatusOut])
def gateway_status(enterprise: str, db: Db, user: User) -> list[dict[str, Any]]:
    ent_id = enterprise_id(db, user, enterprise)
    return db.execute(
        "SELECT g.code AS gateway, s.session, s.born_at, s.died_at, s.death_reason,"
        " (s.session IS NOT NULL AND s.died_at IS NULL) AS online,"
        " b.last_seq, b.last_stored_at, coalesce(b.n, 0) AS batches_stored,"
        " c.raw AS counters, c.sent_at AS counters_sent_at"
        " FROM gateways g"
        " LEFT JOIN LATERAL (SELECT * FROM gateway_sessions gs WHERE gs.gateway_id = g.id"
        "   ORDER BY coalesce(gs.born_at, gs.died_at) DESC NULLS LAST LIMIT 1) s ON true"
        " LEFT JOIN LATERAL (SELECT max(seq) AS last_seq, max(stored_at) AS last_stored_at, count(*) AS n"
        "   FROM batches WHERE gateway_id = g.id) b ON true"
        " LEFT JOIN gateway_counters_latest c ON c.gateway_id = g.id"
        " WHERE g.enterprise_id = %s ORDER BY g.code",
        (ent_id,),
    ).fetchall()


class BatchOut(BaseModel):
    seq: int
    session: str
    sent_at: datetime
    received_at: datetime
    stored_at: datetime
    n_samples: int
    min_ts: datetime
    max_ts: datetime
    historical: bool


@router.get("/enterprises/{enterprise}/gateways/{gateway}/batches", response_model=list[BatchOut])
def gateway_batches(
    enterprise: str, gateway: str, db: Db, user: User,
    from_seq: Annotated[int, Query(ge=0, description="batches with seq >= this")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """The ledger of one gateway in seq order: what was stored, when, and whether it was backlog."""
    ent_id = enterprise_id(db, user, enterprise)
    return db.execute(
        "SELECT b.seq, b.session, b.sent_at, b.received_at, b.stored_at, b.n_samples, b.min_ts, b.max_ts,"
        " b.historical FROM batches b JOIN gateways g ON g.id = b.gateway_id"
        " WHERE g.enterprise_id = %s AND g.code = %s AND b.seq >= %s ORDER BY b.seq LIMIT %s",
        (ent_id, gateway, from_seq, limit),
    ).fetchall()


@router.get("/enterprises/{enterprise}/devices/status", response_model=list[DeviceStatusOut])
def device_status(
    enterprise: str, db: Db, user: User,
    stale_factor: Annotated[float, Query(gt=0, description="stale after this many expected intervals")] = 3.0,
) -> list[dict[str, Any]]:
    """A device is delivering if its newest sample was stored within stale_factor x its fastest tag's
    expected interval (the heartbeat for tags reported by exception; 60 s when unknown) and every
    tag's newest sample is good; fresh but all bad is device_offline, fresh with some bad degraded
    (``cloud_ingest.liveness``, the dashboard's rule too)."""
    ent_id = enterprise_id(db, user, enterprise)
    rows = db.execute(
        "SELECT d.code AS device, g.code AS gateway, d.workshop, d.line, d.key_process,"
        " x.expected_interval_ms, x.last_ts, x.last_stored_at, x.tags_seen, x.tags_good, x.tags_bad,"
        " now() AS db_now"
        " FROM devices d LEFT JOIN gateways g ON g.id = d.gateway_id"
        " LEFT JOIN LATERAL (SELECT min(CASE WHEN t.report_mode = 'change'"
        "   THEN coalesce(t.heartbeat_ms, t.interval_ms) ELSE t.interval_ms END) AS expected_interval_ms,"
        "   max(l.ts) AS last_ts, max(l.stored_at) AS last_stored_at, count(l.ts) AS tags_seen,"
        "   count(*) FILTER (WHERE l.quality = 0) AS tags_good,"
        "   count(*) FILTER (WHERE l.quality = 2) AS tags_bad FROM tags t"
        "   LEFT JOIN LATERAL (SELECT s.ts, s.quality, b.stored_at FROM samples s"
        "     JOIN batches b ON b.gateway_id = s.gateway_id AND b.seq = s.seq"
        "     WHERE s.tag_id = t.id ORDER BY s.ts DESC LIMIT 1) l ON true"
        "   WHERE t.device_id = d.id) x ON true"
        " WHERE d.enterprise_id = %s ORDER BY d.code",
        (ent_id,),
    ).fetchall()
    for r in rows:
        r["status"] = liveness(last_stored_at=r["last_stored_at"], now=r["db_now"],
                               expected_ms=r["expected_interval_ms"], tags_seen=int(r["tags_seen"] or 0),
                               tags_good=int(r["tags_good"] or 0), tags_bad=int(r["tags_bad"] or 0),
                               stale_factor=stale_factor)
        r["tags_bad"] = int(r["tags_bad"] or 0)
        r["tags_good"] = int(r["tags_good"] or 0)
    return rows
