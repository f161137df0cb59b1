"""The city overview's rows: every enterprise with its gateways online, devices delivering now,
its last evidence package; the evidence columns (inventory, networking rate and band) are
filled in by the view from the figures (``web/figures.py``), never computed here.

"Delivering" is the live state of the enterprise page (``live.classify``), so the two pages
never disagree about the same device at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cloud_ingest.web.queries import Conn, live

_ENTERPRISES = """
SELECT e.id, e.code, e.name, e.industry, e.district,
       (SELECT count(*) FROM gateways g WHERE g.enterprise_id = e.id) AS gateways,
       (SELECT count(*) FROM gateways g WHERE g.enterprise_id = e.id AND EXISTS (
            SELECT 1 FROM (SELECT s.died_at FROM gateway_sessions s WHERE s.gateway_id = g.id
                           ORDER BY coalesce(s.born_at, s.died_at) DESC NULLS LAST LIMIT 1) last
            WHERE last.died_at IS NULL)) AS gateways_online,
       (SELECT count(*) FROM devices d WHERE d.enterprise_id = e.id) AS devices,
       p.sequence AS last_package, p.created_at AS last_package_at
FROM enterprises e
LEFT JOIN LATERAL (SELECT sequence, created_at FROM evidence_packages ep WHERE ep.enterprise_id = e.id
                   ORDER BY sequence DESC LIMIT 1) p ON true
WHERE (%(only)s::text IS NULL OR e.code = %(only)s)
ORDER BY e.code
"""


@dataclass(frozen=True, kw_only=True)
class EnterpriseRow:
    code: str
    name: str | None
    industry: str | None
    district: str | None
    gateways: int
    gateways_online: int
    devices: int
    delivering: int
    last_package: int | None = None
    last_package_at: datetime | None = None
    # from the evidence figures of the window shown (None: no inventory, or not computable)
    inventory_rows: int | None = None
    in_inventory: int | None = None
    networking_rate: float | None = None
    band_points: float | None = None
    band_range: str | None = None
    figures_error: str | None = None
    figures_pending: bool = False  # being computed in the background



SORTABLE = ("code", "name", "industry", "district", "gateways_online", "devices", "delivering",
            "inventory_rows", "in_inventory", "networking_rate", "last_package_at")


def sort_rows(rows: list[EnterpriseRow], column: str, *, descending: bool) -> list[EnterpriseRow]:
    """By ``column`` (ties in code order), empty values last either way."""
    by_code = sorted(rows, key=lambda r: r.code)
    known = [r for r in by_code if getattr(r, column) is not None]
    known.sort(key=lambda r: getattr(r, column), reverse=descending)
    return known + [r for r in by_code if getattr(r, column) is None]


def enterprises(db: Conn, *, only: str | None = None) -> list[EnterpriseRow]:
    out = []
    for r in db.execute(_ENTERPRISES, {"only": only}).fetchall():
        states, _ = live.device_states(db, r["id"])
        out.append(EnterpriseRow(
            code=r["code"], name=r["name"], industry=r["industry"], district=r["district"],
            gateways=int(r["gateways"]), gateways_online=int(r["gateways_online"]), devices=int(r["devices"]),
            delivering=sum(1 for s in states if s.state == "delivering"),
            last_package=r["last_package"], last_package_at=r["last_package_at"],
        ))
    return out
