"""A device's page data: its tags with their newest sample, and each tag's series over a window.

Series come from the rollups only (``samples_1m`` for windows up to two days, ``samples_1h``
beyond; the same tables on TimescaleDB and plain PostgreSQL), folded into at most
``MAX_POINTS`` bins per tag in SQL, so a month of a 30-tag device is one query of a few
thousand rows and never a scan of raw samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cloud_ingest.web.queries import Conn

MAX_POINTS = 240
MINUTE_ROLLUP_UP_TO = timedelta(days=2)

_TAGS = """
SELECT t.id, t.name, t.data_type, t.unit, t.interval_ms, t.report_mode, t.heartbeat_ms, t.description,
       t.business_links, l.ts, l.read_ts, l.value, l.value_text, l.quality, l.code, l.stored_at
FROM tags t
LEFT JOIN LATERAL (SELECT s.ts, s.read_ts, s.value, s.value_text, s.quality, s.code, b.stored_at
                   FROM samples s JOIN batches b ON b.gateway_id = s.gateway_id AND b.seq = s.seq
                   WHERE s.tag_id = t.id ORDER BY s.ts DESC LIMIT 1) l ON true
WHERE t.device_id = %s ORDER BY t.name
"""


def device_row(db: Conn, enterprise_id: int, code: str) -> dict[str, Any] | None:
    return db.execute(
        "SELECT d.id, d.code, d.profile, d.protocol, d.manufacturer, d.model, d.workshop, d.line,"
        " d.key_process, d.registered_by, d.first_seen, g.code AS gateway FROM devices d"
        " LEFT JOIN gateways g ON g.id = d.gateway_id WHERE d.enterprise_id = %s AND d.code = %s",
        (enterprise_id, code)).fetchone()


def tags_latest(db: Conn, device_id: int) -> list[dict[str, Any]]:
    return db.execute(_TAGS, (device_id,)).fetchall()


@dataclass(frozen=True)
class Bin:
    start: datetime
    n: int
    n_good: int
    avg: float | None
    lo: float | None
    hi: float | None


@dataclass(frozen=True, kw_only=True)
class Series:
    tag_id: int
    rollup: str
    bin_width: timedelta
    bins: list[Bin]


def bin_width(span: timedelta) -> tuple[str, timedelta]:
    """The rollup to read and the width of one bin for a window of ``span``."""
    table, unit = ("samples_1m", timedelta(minutes=1)) if span <= MINUTE_ROLLUP_UP_TO else \
        ("samples_1h", timedelta(hours=1))
    units = max(1, -(-int(span / unit) // MAX_POINTS))  # ceil
    return table, unit * units


def series(db: Conn, tag_ids: list[int], *, start: datetime,
           end: datetime) -> dict[int, Series]:
    """Per tag: bins of ``bin_width`` from ``start`` (count, good count, mean, min, max)."""
    table, width = bin_width(end - start)
    out = {t: Series(tag_id=t, rollup=table, bin_width=width, bins=[]) for t in tag_ids}
    if not tag_ids:
        return out
    rows = db.execute(
        f"SELECT tag_id, date_bin(%(w)s, bucket, %(origin)s) AS b, sum(n) AS n, sum(n_good) AS n_good,"
        f" sum(sum) / nullif(sum(n_values), 0) AS avg, min(min) AS lo, max(max) AS hi FROM {table}"
        " WHERE tag_id = ANY(%(tags)s) AND bucket >= %(start)s AND bucket < %(end)s"
        " GROUP BY tag_id, b ORDER BY tag_id, b".encode(),
        {"w": width, "origin": start, "tags": tag_ids, "start": start, "end": end},
    ).fetchall()
    for r in rows:
        out[r["tag_id"]].bins.append(Bin(r["b"], int(r["n"]), int(r["n_good"]), r["avg"], r["lo"], r["hi"]))
    return out
