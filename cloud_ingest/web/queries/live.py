"""The live state of every device of an enterprise, as a technician watches it come online.

One query reads, per tag, its newest sample (one index probe each, newest partition first) and
the cloud time that sample was stored; per device that gives how fresh its data is and how
good. The states are the ones of a state timeline (Grafana's visual grammar):

- ``delivering`` 正常上报: fresh data, every tag's newest sample good;
- ``degraded`` 部分异常: fresh data, but some tags' newest samples are bad or uncertain;
- ``device_offline`` 设备离线: fresh data, all of it bad: the gateway runs but cannot read the
  device (it sends bad-quality samples for every tag instead of silence);
- ``gateway_offline`` 网关离线: nothing fresh, and the gateway's last session ended (death);
- ``no_data`` 无新数据: nothing fresh although the gateway's session is open;
- ``never`` 从未上报: no sample stored yet.

"Fresh" uses the cloud's clock only (stored within ``STALE_FACTOR`` times the device's fastest
expected interval, the heartbeat for tags reported by exception), so a gateway clock that is
wrong does not make a device look alive or dead; the same rule as the API's device status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cloud_ingest.liveness import STALE_FACTOR, liveness
from cloud_ingest.web.queries import Conn

State = Literal["delivering", "degraded", "device_offline", "gateway_offline", "no_data", "never"]
STATE_LABELS: dict[str, tuple[str, str]] = {
    "delivering": ("正常上报", "delivering"),
    "degraded": ("部分异常", "some tags bad"),
    "device_offline": ("设备离线", "device offline"),
    "gateway_offline": ("网关离线", "gateway offline"),
    "no_data": ("无新数据", "no new data"),
    "never": ("从未上报", "never delivered"),
}

_LIVE = """
SELECT d.id, d.code, d.workshop, d.line, d.key_process, g.code AS gateway, gs.online AS gateway_online,
       x.expected_ms, x.last_ts, x.last_stored_at, x.tags, x.tags_seen, x.tags_good, x.tags_bad,
       now() AS db_now
FROM devices d
LEFT JOIN gateways g ON g.id = d.gateway_id
LEFT JOIN LATERAL (SELECT s.died_at IS NULL AS online FROM gateway_sessions s WHERE s.gateway_id = g.id
                   ORDER BY coalesce(s.born_at, s.died_at) DESC NULLS LAST LIMIT 1) gs ON true
LEFT JOIN LATERAL (
  SELECT min(CASE WHEN t.report_mode = 'change' THEN coalesce(t.heartbeat_ms, t.interval_ms)
                  ELSE t.interval_ms END) AS expected_ms,
         max(l.ts) AS last_ts, max(l.stored_at) AS last_stored_at, count(*) AS tags,
         count(l.ts) AS tags_seen,
         count(*) FILTER (WHERE l.quality = 0) AS tags_good,
         count(*) FILTER (WHERE l.quality = 2) AS tags_bad
  FROM tags t
  LEFT JOIN LATERAL (SELECT s.ts, s.quality, b.stored_at FROM samples s
                     JOIN batches b ON b.gateway_id = s.gateway_id AND b.seq = s.seq
                     WHERE s.tag_id = t.id ORDER BY s.ts DESC LIMIT 1) l ON true
  WHERE t.device_id = d.id) x ON true
WHERE d.enterprise_id = %s
ORDER BY d.workshop NULLS LAST, d.line NULLS LAST, d.code
"""


@dataclass(frozen=True, kw_only=True)
class DeviceLive:
    code: str
    workshop: str | None
    line: str | None
    key_process: bool
    gateway: str | None
    state: State
    last_ts: datetime | None
    last_stored_at: datetime | None
    tags: int
    tags_good: int
    tags_bad: int

    @property
    def label(self) -> tuple[str, str]:
        return STATE_LABELS[self.state]


def classify(row: dict[str, Any]) -> State:
    """The state of one device from its row of ``_LIVE``: ``cloud_ingest.liveness`` (the API's
    rule), with "stale" told apart by whether the gateway's last session ended."""
    state = liveness(last_stored_at=row["last_stored_at"], now=row["db_now"], expected_ms=row["expected_ms"],
                     tags_seen=int(row["tags_seen"] or 0), tags_good=int(row["tags_good"] or 0),
                     tags_bad=int(row["tags_bad"] or 0), stale_factor=STALE_FACTOR)
    if state == "stale":
        return "gateway_offline" if row["gateway_online"] is False else "no_data"
    return state


def device_states(db: Conn, enterprise_id: int) -> tuple[list[DeviceLive], datetime]:
    """Every device of the enterprise with its live state, and the database's time of reading."""
    rows = db.execute(_LIVE, (enterprise_id,)).fetchall()
    now = rows[0]["db_now"] if rows else db.execute("SELECT now() AS t").fetchone()["t"]  # type: ignore[index]
    return [
        DeviceLive(code=r["code"], workshop=r["workshop"], line=r["line"], key_process=r["key_process"],
                   gateway=r["gateway"], state=classify(r), last_ts=r["last_ts"],
                   last_stored_at=r["last_stored_at"], tags=int(r["tags"]), tags_good=int(r["tags_good"]),
                   tags_bad=int(r["tags_bad"]))
        for r in rows
    ], now


@dataclass(frozen=True)
class Line:
    workshop: str
    line: str
    devices: list[DeviceLive]


def by_line(devices: Iterable[DeviceLive]) -> list[Line]:
    """Devices grouped by workshop and line, in the query's order; unnamed ones last."""
    groups: dict[tuple[str, str], list[DeviceLive]] = {}
    for d in devices:
        groups.setdefault((d.workshop or "未分车间 no workshop", d.line or "未分产线 no line"), []).append(d)
    return [Line(w, ln, devs) for (w, ln), devs in groups.items()]


def counts(devices: Iterable[DeviceLive]) -> dict[str, int]:
    out = dict.fromkeys(STATE_LABELS, 0)
    for d in devices:
        out[d.state] += 1
    return out
