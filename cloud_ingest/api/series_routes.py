"""Series: raw samples or 1-minute / 1-hour aggregates of a tag or a device over a time range.

Aggregates come from ``samples_1m`` / ``samples_1h`` (continuous aggregates on TimescaleDB,
rollup tables on plain PostgreSQL, same columns), so long ranges never scan raw samples.
``resolution=auto`` picks raw up to 6 hours, 1 minute up to 7 days, 1 hour beyond.

Raw points and latest values are exact: an integer beyond 10^15 (stored in ``value_exact``,
migration 019) is served as that integer in ``value``, and as decimal digits in ``value_exact``
for clients whose JSON parser turns every number into a double (JavaScript's does).
Aggregates are computed over doubles and are not exact for such integers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from cloud_ingest.api.auth import User
from cloud_ingest.api.db import Db
from cloud_ingest.api.registry_routes import enterprise_id

router = APIRouter(tags=["series"])

Resolution = Literal["auto", "raw", "1m", "1h"]


class RawPoint(BaseModel):
    ts: datetime
    read_ts: datetime
    stored_ts: datetime
    value: int | float | None
    value_exact: str | None = None
    value_text: str | None
    quality: int
    code: int | None


class AggPoint(BaseModel):
    bucket: datetime
    n: int
    n_good: int
    avg: float | None
    min: float | None
    max: float | None


class SeriesOut(BaseModel):
    device: str
    tag: str
    unit: str | None
    resolution: Literal["raw", "1m", "1h"]
    start: datetime
    end: datetime
    truncated: bool
    points: list[RawPoint] | list[AggPoint]


class LatestOut(BaseModel):
    device: str
    tag: str
    unit: str | None
    ts: datetime | None
    read_ts: datetime | None
    value: int | float | None
    value_exact: str | None = None
    value_text: str | None
    quality: int | None


Start = Annotated[datetime | None, Query(description="inclusive; default end - 1 hour")]
End = Annotated[datetime | None, Query(description="exclusive; default now")]
Limit = Annotated[int, Query(ge=1, le=100_000, description="raw points per tag at most")]


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or datetime.now(UTC)
    start = start or end - timedelta(hours=1)
    if end.tzinfo is None or start.tzinfo is None:
        raise HTTPException(422, "give start and end with a UTC offset")
    if start >= end:
        raise HTTPException(422, "start must be before end")
    return start, end


def _pick(resolution: Resolution, start: datetime, end: datetime) -> Literal["raw", "1m", "1h"]:
    if resolution != "auto":
        return resolution
    span = end - start
    return "raw" if span <= timedelta(hours=6) else "1m" if span <= timedelta(days=7) else "1h"


def _exact(row: dict[str, Any]) -> dict[str, Any]:
    """``value`` as the exact integer where float8 could not hold it (value_exact is set)."""
    exact = row.get("value_exact")
    if isinstance(exact, Decimal):
        row["value"] = int(exact)
        row["value_exact"] = str(int(exact))
    return row


def _tags(db: Db, ent_id: int, device: str, tag: str | None) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT t.id, t.name, t.unit, d.code AS device FROM tags t JOIN devices d ON d.id = t.device_id"
        " WHERE d.enterprise_id = %s AND d.code = %s AND (%s::text IS NULL OR t.name = %s) ORDER BY t.name",
        (ent_id, device, tag, tag),
    ).fetchall()
    if not rows:
        what = f"tag {tag!r} of device {device!r}" if tag else f"device {device!r}"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")
    return rows


def _series(db: Db, t: dict[str, Any], res: Literal["raw", "1m", "1h"], start: datetime, end: datetime,
            limit: int) -> SeriesOut:
    if res == "raw":
        rows = db.execute(
            "SELECT s.ts, s.read_ts, b.stored_at AS stored_ts, s.value, s.value_exact, s.value_text,"
            " s.quality, s.code"
            " FROM samples s JOIN batches b ON b.gateway_id = s.gateway_id AND b.seq = s.seq"
            " WHERE s.tag_id = %s AND s.ts >= %s AND s.ts < %s ORDER BY s.ts LIMIT %s",
            (t["id"], start, end, limit + 1),
        ).fetchall()
        points: list[Any] = [RawPoint(**_exact(r)) for r in rows[:limit]]
    else:
        table = "samples_1m" if res == "1m" else "samples_1h"
        rows = db.execute(
            f"SELECT bucket, n, n_good, sum / nullif(n_values, 0) AS avg, min, max FROM {table}"
            " WHERE tag_id = %s AND bucket >= %s AND bucket < %s ORDER BY bucket LIMIT %s".encode(),
            (t["id"], start, end, limit + 1),
        ).fetchall()
        points = [AggPoint(**r) for r in rows[:limit]]
    return SeriesOut(device=t["device"], tag=t["name"], unit=t["unit"], resolution=res, start=start,
                     end=end, truncated=len(rows) > limit, points=points)


@router.get("/enterprises/{enterprise}/devices/{device}/tags/{tag}/series", response_model=SeriesOut)
def tag_series(enterprise: str, device: str, tag: str, db: Db, user: User, start: Start = None,
               end: End = None, resolution: Resolution = "auto", limit: Limit = 10_000) -> SeriesOut:
    ent_id = enterprise_id(db, user, enterprise)
    lo, hi = _range(start, end)
    t = _tags(db, ent_id, device, tag)[0]
    return _series(db, t, _pick(resolution, lo, hi), lo, hi, limit)


@router.get("/enterprises/{enterprise}/devices/{device}/series", response_model=list[SeriesOut])
def device_series(enterprise: str, device: str, db: Db, user: User, start: Start = None,
                  end: End = None, resolution: Resolution = "auto", limit: Limit = 10_000) -> list[SeriesOut]:
    ent_id = enterprise_id(db, user, enterprise)
    lo, hi = _range(start, end)
    res = _pick(resolution, lo, hi)
    return [_series(db, t, res, lo, hi, limit) for t in _tags(db, ent_id, device, None)]


@router.get("/enterprises/{enterprise}/latest", response_model=list[LatestOut])
def latest(
    enterprise: str, db: Db, user: User,
    device: Annotated[str | None, Query(description="only this device")] = None,
) -> list[dict[str, Any]]:
    """The newest sample of every tag (by source timestamp), one index probe per tag."""
    ent_id = enterprise_id(db, user, enterprise)
    return [_exact(r) for r in db.execute(
        "SELECT d.code AS device, t.name AS tag, t.unit, l.ts, l.read_ts, l.value, l.value_exact,"
        " l.value_text, l.quality FROM tags t JOIN devices d ON d.id = t.device_id"
        " LEFT JOIN LATERAL (SELECT s.ts, s.read_ts, s.value, s.value_exact, s.value_text, s.quality"
        "   FROM samples s WHERE s.tag_id = t.id ORDER BY s.ts DESC LIMIT 1) l ON true"
        " WHERE d.enterprise_id = %s AND (%s::text IS NULL OR d.code = %s) ORDER BY d.code, t.name",
        (ent_id, device, device),
    ).fetchall()]
