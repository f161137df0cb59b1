"""What the cloud knows of a gateway: sessions, streams, the ledger, counters as last reported.

Everything here is as the gateway reported it or as the cloud recorded it, not a figure over a
window (those are the evidence's): the backlog is ``buffered - published`` from the newest
counters the gateway sent; the clock difference is that of the newest batch, its send time by
the gateway's clock against its arrival by the cloud's (network transit included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloud_ingest.web.queries import Conn

_LIST = """
SELECT g.code, g.agent_version, s.session, s.born_at, s.died_at, s.death_reason,
       (s.session IS NOT NULL AND s.died_at IS NULL) AS online,
       b.last_seq, b.last_stored_at, c.raw AS counters, c.sent_at AS counters_sent_at,
       (SELECT count(*) FROM devices d WHERE d.gateway_id = g.id) AS devices
FROM gateways g
LEFT JOIN LATERAL (SELECT * FROM gateway_sessions gs WHERE gs.gateway_id = g.id
                   ORDER BY coalesce(gs.born_at, gs.died_at) DESC NULLS LAST LIMIT 1) s ON true
LEFT JOIN LATERAL (SELECT seq AS last_seq, stored_at AS last_stored_at FROM batches
                   WHERE gateway_id = g.id ORDER BY seq DESC LIMIT 1) b ON true
LEFT JOIN gateway_counters_latest c ON c.gateway_id = g.id
WHERE g.enterprise_id = %s ORDER BY g.code
"""


@dataclass(frozen=True, kw_only=True)
class DeviceCount:
    device: str
    read: int
    buffered: int
    published: int
    read_errors: int
    dropped: dict[str, int]

    @property
    def backlog(self) -> int:
        return max(0, self.buffered - self.published)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


def device_counts(raw: dict[str, Any] | None) -> list[DeviceCount]:
    """The per-device counters of a counters object as sent (wire v1 ``Counters``)."""
    if not raw:
        return []
    out = []
    for dev, c in sorted((raw.get("devices") or {}).items()):
        out.append(DeviceCount(device=dev, read=int(c.get("read", 0)), buffered=int(c.get("buffered", 0)),
                               published=int(c.get("published", 0)), read_errors=int(c.get("read_errors", 0)),
                               dropped={str(k): int(v) for k, v in (c.get("dropped") or {}).items()}))
    return out


def backlog(raw: dict[str, Any] | None) -> int | None:
    counts = device_counts(raw)
    return sum(c.backlog for c in counts) if raw else None


def gateway_list(db: Conn, enterprise_id: int) -> list[dict[str, Any]]:
    rows = db.execute(_LIST, (enterprise_id,)).fetchall()
    return [{**r, "backlog": backlog(r["counters"])} for r in rows]


@dataclass(frozen=True, kw_only=True)
class GatewayDetail:
    gateway: dict[str, Any]
    sessions: list[dict[str, Any]]
    streams: list[dict[str, Any]]
    ledger: dict[str, Any]
    last_batch: dict[str, Any] | None
    counters: dict[str, Any] | None
    counts: list[DeviceCount]
    devices: list[dict[str, Any]]

    @property
    def clock_diff_ms(self) -> float | None:
        b = self.last_batch
        if b is None:
            return None
        sent: datetime = b["sent_at"]
        received: datetime = b["received_at"]
        return (sent - received).total_seconds() * 1000


SESSIONS_SHOWN = 50


def gateway_detail(db: Conn, enterprise_id: int, code: str) -> GatewayDetail | None:
    g = db.execute("SELECT id, code, agent_version, current_session, first_seen, registered_by FROM gateways"
                   " WHERE enterprise_id = %s AND code = %s", (enterprise_id, code)).fetchone()
    if g is None:
        return None
    gid = g["id"]
    sessions = db.execute(
        "SELECT session, born_at, birth_received_at, died_at, death_received_at, death_reason, agent_version,"
        " next_seq FROM gateway_sessions WHERE gateway_id = %s"
        " ORDER BY coalesce(born_at, died_at) DESC NULLS LAST LIMIT %s", (gid, SESSIONS_SHOWN)).fetchall()
    streams = db.execute("SELECT stream, base, first_seen FROM gateway_streams WHERE gateway_id = %s"
                         " ORDER BY base", (gid,)).fetchall()
    ledger = db.execute(
        "SELECT count(*) AS batches, coalesce(sum(n_samples), 0) AS samples,"
        " max(stored_at) AS last_stored_at, count(*) FILTER (WHERE historical) AS historical"
        " FROM batches WHERE gateway_id = %s", (gid,)).fetchone()
    last = db.execute("SELECT seq, session, sent_at, received_at, stored_at, n_samples, historical"
                      " FROM batches WHERE gateway_id = %s ORDER BY received_at DESC LIMIT 1",
                      (gid,)).fetchone()
    counters = db.execute("SELECT seq, sent_at, batches_published, raw, updated_at"
                          " FROM gateway_counters_latest WHERE gateway_id = %s", (gid,)).fetchone()
    devices = db.execute("SELECT code, workshop, line, key_process, profile FROM devices"
                         " WHERE gateway_id = %s ORDER BY code", (gid,)).fetchall()
    assert ledger is not None
    return GatewayDetail(gateway=g, sessions=sessions, streams=streams, ledger=ledger, last_batch=last,
                         counters=counters, counts=device_counts(counters["raw"] if counters else None),
                         devices=devices)
