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
        "networked_declared",
        "digital_declared",
        "delivering",
        "complete",
        "gateway",
    ),
    "devices": (
        "device",
        "gateway",
        "workshop",
        "line",
        "in_inventory",
        "production",
        "key_process",
        "delivering",
        "online_ratio",
        "completeness",
        "complete",
        "samples_expected",
        "samples_stored",
        "samples_good",
        "samples_late",
        "gap_count",
        "gap_seconds",
    ),
    "tags": (
        "device",
        "tag",
        "report_mode",
        "weighting",
        "interval_ms",
        "heartbeat_ms",
        "links",
        "expected",
        "stored",
        "good",
        "completeness",
    ),
    "gaps": ("device", "start", "end", "duration_s", "cause", "detail", "dropped"),
    "latency": ("segment", "p50", "p95", "p99", "max"),
    "latency_histogram": ("le_ms", "n"),
    "gateways": (
        "gateway",
        "clock_offset_ms",
        "clock_ok",
        "clock_corrected",
        "online_ratio",
        "sessions",
        "streams",
        "batches",
        "late_batches",
        "samples_stored",
        "rejected",
    ),
    "sessions": ("gateway", "session", "start", "end", "end_reason"),
    "reconciliation": (
        "gateway",
        "device",
        "read",
        "published",
        "dropped_total",
        "dropped_by_reason",
        "stored",
        "rejected",
        "unexplained",
        "read_errors",
        "skipped_polls",
        "at_gateway_start",
        "at_gateway_end",
    ),
    "business_links": (
        "link",
        "label_zh",
        "label_en",
        "collected",
        "declared",
        "device_count",
        "devices",
        "tags",
    ),
}

# latency segments of the figures (schema 1.0: top-level keys of latency_ms)
SEGMENTS = ("device_to_gateway", "gateway_to_cloud", "cloud_to_stored")
TOTAL_ROW = "*"  # the device column of a gateway's total row in reconciliation.csv


def yes_no(value: Any) -> str:
    return "是" if value else "否"


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float):
        # exact and short: the verifier recomputes from these digits
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def enterprise_code(figures: Mapping[str, Any]) -> str:
    ent = figures.get("enterprise")
    return str(ent.get("code") if isinstance(ent, Mapping) else ent)


def reasons(counts: Mapping[str, int] | None) -> str:
    """``{"buffer_full": 3}`` → ``buffer_full=3`` (sorted, ``;`` between)."""
    return ";".join(f"{k}={n}" for k, n in sorted((counts or {}).items()))


def inventory_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every device of the window with its inventory declarations (schema 1.0 keeps them on
    ``devices[]``): production rows networked or not, rows that are not production, and announced
    devices missing from the inventory (``in_inventory`` 否), which count in no rate."""
    return [dict(d) for d in figures.get("devices") or []]


def device_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for d in figures.get("devices") or []:
        gaps = d.get("gaps") or []
        out.append(
            {**d, "gap_count": len(gaps), "gap_seconds": sum(float(g.get("duration_s") or 0) for g in gaps)}
        )
    return out


def tag_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{**t, "links": ";".join(t.get("links") or [])} for t in figures.get("tags") or []]


def gap_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"device": d["device"], **g, "dropped": reasons(g.get("dropped"))}
        for d in figures.get("devices") or []
        for g in d.get("gaps") or []
    ]


def latency_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The total (source time → stored) and its three segments, each with its percentiles."""
    lat = figures.get("latency_ms") or {}
    rows = [{"segment": "total", **{k: lat.get(k) for k in ("p50", "p95", "p99", "max")}}]
    for name in SEGMENTS:
        seg = lat.get(name) or {}
        rows.append({"segment": name, **{k: seg.get(k) for k in ("p50", "p95", "p99", "max")}})
    return rows


def histogram_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(b) for b in (figures.get("latency_ms") or {}).get("histogram") or []]


def gateway_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {**g, "sessions": len(g.get("sessions") or []), "rejected": reasons(g.get("rejected"))}
        for g in figures.get("gateways") or []
    ]


def session_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"gateway": g["gateway"], **s} for g in figures.get("gateways") or [] for s in g.get("sessions") or []
    ]


def _recon_row(r: Mapping[str, Any], gateway: str, device: str) -> dict[str, Any]:
    dropped = r.get("dropped") or {}
    return {
        **r,
        "gateway": gateway,
        "device": device,
        "dropped_total": sum(dropped.values()),
        "dropped_by_reason": reasons(dropped),
    }


def reconciliation_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per gateway a total row (device ``*``), then one row per device of it."""
    out = []
    for r in figures.get("reconciliation") or []:
        out.append(_recon_row(r, r["gateway"], TOTAL_ROW))
        out += [_recon_row(d, r["gateway"], d["device"]) for d in r.get("devices") or []]
    return out


def business_link_rows(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The 14 links in the indicator's order, each with what the window collected for it."""
    bl = figures.get("business_links") or {}
    detail = {r["key"]: r for r in bl.get("links") or []}
    rows = []
    for key, (zh, en) in LABELS.items():
        r = detail.get(key) or {}
        devices = list(r.get("devices") or [])
        rows.append(
            {
                "link": key,
                "label_zh": zh,
                "label_en": en,
                "collected": bool(r.get("collected")),
                "declared": bool(r.get("declared")),
                "device_count": len(devices),
                "devices": ";".join(devices),
                "tags": int(r.get("tags") or 0),
            }
        )
    return rows


def tables(figures: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every CSV of ``data/`` as rows, by file stem."""
    return {
        "inventory": inventory_rows(figures),
        "devices": device_rows(figures),
        "tags": tag_rows(figures),
        "gaps": gap_rows(figures),
        "latency": latency_rows(figures),
        "latency_histogram": histogram_rows(figures),
        "gateways": gateway_rows(figures),
        "sessions": session_rows(figures),
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
