"""The CSVs of a package's ``data/`` folder: the rows a reviewer opens in a spreadsheet and the
verifier recomputes the headline figures from.

Rows come from the figures JSON (docs/evidence.md) alone, so the package is one computation
written out twice (JSON for tools, CSV for people) and the verifier can check that both agree.
Files are UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens them correctly.
Booleans are written 是/否, as inventory sheets in Chinese offices are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from wire.business_links import LABELS

Row = Mapping[str, Any]

COLUMNS: dict[str, tuple[str, ...]] = {
    "inventory": (
        "device",
        "name",
        "type",
        "workshop",
        "line",
        "in_inventory",
        "production",
        "key_process",
        "networked",
        "digital",
        "delivering",
        "business_links",
    ),
    "devices": (
        "device",
        "gateway",
        "workshop",
        "line",
        "key_process",
        "online_ratio",
        "completeness",
        "samples_expected",
        "samples_stored",
        "samples_late",
        "gap_count",
        "gap_seconds",
    ),
    "tags": ("device", "tag", "expected", "stored", "good", "completeness"),
    "gaps": ("device", "start", "end", "duration_s", "cause", "reason"),
    "latency": ("segment", "p50", "p95", "p99", "max"),
    "gateways": ("gateway", "clock_offset_ms", "clock_flagged", "online_ratio", "sessions"),
    "reconciliation": (
        "gateway",
        "device",
        "read",
        "published",
        "dropped_total",
        "dropped_by_reason",
        "stored",
        "unexplained",
    ),
    "business_links": ("link", "label_zh", "label_en", "collected", "devices", "tags"),
}


def yes_no(value: Any) -> str:
    return "是" if value else "否"


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)


def enterprise_code(figures: Mapping[str, Any]) -> str:
    ent = figures.get("enterprise")
    return str(ent.get("code") if isinstance(ent, Mapping) else ent)


def inventory_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The inventory with what the window showed: every production device, networked or not, and
    announced devices missing from the inventory (``in_inventory`` 否), never silently counted."""
    inv = figures.get("inventory") or {}
    rows = []
    for d in inv.get("devices") or []:
        rows.append({**d, "business_links": ";".join(d.get("business_links") or [])})
    return rows


def device_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for d in figures.get("devices") or []:
        gaps = d.get("gaps") or []
        out.append(
            {**d, "gap_count": len(gaps), "gap_seconds": sum(float(g.get("duration_s") or 0) for g in gaps)}
        )
    return out


def gap_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"device": d["device"], **g} for d in figures.get("devices") or [] for g in d.get("gaps") or []]


def latency_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    lat = figures.get("latency_ms") or {}
    rows = [{"segment": "total", **{k: lat.get(k) for k in ("p50", "p95", "p99", "max")}}]
    for name, seg in (lat.get("segments") or {}).items():
        rows.append({"segment": name, **{k: seg.get(k) for k in ("p50", "p95", "p99", "max")}})
    return rows


def gateway_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **g,
            "sessions": g.get("sessions") if not isinstance(g.get("sessions"), list) else len(g["sessions"]),
        }
        for g in figures.get("gateways") or []
    ]


def reconciliation_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in figures.get("reconciliation") or []:
        dropped = r.get("dropped") or {}
        out.append(
            {
                **r,
                "dropped_total": sum(dropped.values()),
                "dropped_by_reason": ";".join(f"{k}={n}" for k, n in sorted(dropped.items())),
            }
        )
    return out


def business_link_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    bl = figures.get("business_links") or {}
    covered = set(bl.get("covered") or [])
    detail = {r["link"]: r for r in bl.get("links") or []}
    return [
        {
            "link": key,
            "label_zh": zh,
            "label_en": en,
            "collected": key in covered,
            "devices": (detail.get(key) or {}).get("devices", 0),
            "tags": (detail.get(key) or {}).get("tags", 0),
        }
        for key, (zh, en) in LABELS.items()
    ]


def tables(figures: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every CSV of ``data/`` as rows, by file stem."""
    return {
        "inventory": inventory_rows(figures),
        "devices": device_rows(figures),
        "tags": list(figures.get("tags") or []),
        "gaps": gap_rows(figures),
        "latency": latency_rows(figures),
        "gateways": gateway_rows(figures),
        "reconciliation": reconciliation_rows(figures),
        "business_links": business_link_rows(figures),
    }


def to_csv(name: str, rows: Iterable[Row]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    cols = COLUMNS[name]
    w.writerow(cols)
    for r in rows:
        w.writerow([fmt(r.get(c)) for c in cols])
    return buf.getvalue().encode("utf-8-sig")
