"""A figures document in the real schema 1.0 (docs/evidence.schema.json, the models of
``cloud_ingest.evidence.schema``), generated deterministically for N devices × M tags over a
window, with a gap of every cause, late data, drops at the gateway, a fast gateway clock, one
report-by-exception tag per device, inventory rows that were never networked, an office printer
(not production) and an announced device missing from the inventory.

Every document is validated by the schema's own models before it is returned, so a test built on
it reads the fields the real computation writes (the e2e tests build packages from the real one).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud_ingest.evidence.indicators import band
from cloud_ingest.evidence.latency import DISPLAY_EDGES
from cloud_ingest.evidence.schema import GAP_CAUSES, Figures
from wire.business_links import KEYS, LABELS

THRESHOLD = 0.95
SEGMENTS = {
    "device_to_gateway": {"p50": 20.0, "p95": 60.0, "p99": 110.0, "max": 900.0},
    "gateway_to_cloud": {"p50": 140.0, "p95": 800.0, "p99": 2200.0, "max": 40000.0},
    "cloud_to_stored": {"p50": 15.0, "p95": 55.0, "p99": 90.0, "max": 600.0},
}
HIST = (0, 0, 1200, 3100, 5300, 22000, 9100, 2100, 600, 130, 12, 3, 1, 0, 0, 0)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ratio(n: float, d: float) -> float | None:
    return None if not d else round(min(1.0, n / d), 6)


def _group(devs: list[dict[str, Any]], credited: dict[str, float], **where: Any) -> dict[str, Any]:
    exp = sum(d["samples_expected"] or 0 for d in devs)
    return {
        **where,
        "devices": len(devs),
        "delivering": sum(d["delivering"] for d in devs),
        "completeness": _ratio(sum(credited[d["device"]] for d in devs), exp),
        "online_ratio": _ratio(
            sum(d["online_ratio"] or 0 for d in devs), sum(1 for d in devs if d["online_ratio"] is not None)
        ),
        "samples_expected": exp,
        "samples_good": sum(d["samples_good"] for d in devs),
    }


def _gaps(i: int, rnd: random.Random, start: datetime, window_s: float) -> list[dict[str, Any]]:
    cause = GAP_CAUSES[i % len(GAP_CAUSES)]
    g0 = start + timedelta(seconds=int(window_s * rnd.uniform(0.1, 0.8)))
    dur = int(rnd.uniform(600, 7200))
    detail = {
        "device_offline": "设备离线 device offline: refused",
        "dropped_at_gateway": "buffer_full",
        "gateway_offline": "网关离线 gateway offline: lost",
    }.get(cause)
    return [
        {
            "start": iso(g0),
            "end": iso(g0 + timedelta(seconds=dur)),
            "duration_s": float(dur),
            "cause": cause,
            "detail": detail,
            "dropped": {"buffer_full": dur // 10} if cause == "dropped_at_gateway" else None,
        }
    ]


def make_figures(
    *,
    enterprise: str = "ent-demo",
    devices: int = 6,
    tags: int = 4,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    days: float = 3.0,
    interval_s: int = 10,
    not_networked: int = 2,
    seed: int = 7,
) -> dict[str, Any]:
    rnd = random.Random(seed)
    end = start + timedelta(days=days)
    window_s = (end - start).total_seconds()
    hourly = days <= 3
    cell_s = 3600 if hourly else 86400
    n_cells = int(-(-window_s // cell_s))
    gateways = [f"gw{g + 1}" for g in range(max(2, devices // 25 + 1))]
    dev_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    grid_rows: list[dict[str, Any]] = []
    credited: dict[str, float] = {}
    recon: dict[str, list[dict[str, Any]]] = {g: [] for g in gateways}
    for i in range(devices):
        code = f"D{i + 1:03d}"
        listed = not (devices >= 3 and i == devices - 1)  # the last one: announced, not listed
        gw = gateways[i % len(gateways)]
        gaps = _gaps(i, rnd, start, window_s) if i % 2 == 0 or devices <= 12 else []
        lost_s = sum(g["duration_s"] for g in gaps if g["cause"] != "delivered_late")
        late_s = sum(g["duration_s"] for g in gaps if g["cause"] == "delivered_late")
        links = [KEYS[(i + k) % 6 + 5] for k in range(2)]
        exp_total = st_total = good_total = 0
        cred = 0.0
        for t in range(tags):
            change = tags > 2 and t == tags - 1
            if change:
                expected = int(window_s // 60)
                comp = round(1 - lost_s / window_s, 6)
                good = stored = int(expected * comp) + 7
                cred += comp * expected
            else:
                expected = int(window_s // interval_s)
                stored = expected - int(lost_s // interval_s) - (1 if (i + t) % 7 == 0 else 0)
                good = stored - (t % 3)
                comp = round(min(good, expected) / expected, 6)
                cred += min(good, expected)
            tag_rows.append(
                {
                    "device": code,
                    "tag": f"tag{t + 1:02d}",
                    "report_mode": "change" if change else "all",
                    "interval_ms": interval_s * 1000,
                    "heartbeat_ms": 60_000 if change else None,
                    "links": sorted(links),
                    "weighting": "time" if change else "event",
                    "expected": expected,
                    "stored": stored,
                    "good": good,
                    "completeness": comp,
                }
            )
            exp_total, st_total, good_total = exp_total + expected, st_total + stored, good_total + good
        credited[code] = cred
        completeness = _ratio(cred, exp_total)
        key_process = i % 4 == 0
        dev_rows.append(
            {
                "device": code,
                "name": f"设备 {code}" if listed else None,
                "type": ("注塑机" if i % 2 else "空压机") if listed else None,
                "workshop": f"车间{i % 3 + 1}",
                "line": f"L{i % 5 + 1}",
                "key_process": key_process,
                "production": True,
                "in_inventory": listed,
                "networked_declared": True if listed else None,
                "digital_declared": True if listed else None,
                "gateway": gw,
                "delivering": good_total > 0,
                "online_ratio": round(1 - lost_s / window_s, 6),
                "completeness": completeness,
                "complete": completeness is not None and completeness >= THRESHOLD,
                "samples_expected": exp_total if tags else None,
                "samples_stored": st_total,
                "samples_good": good_total,
                "samples_late": int(late_s // interval_s) * tags,
                "gaps": gaps,
            }
        )
        if tags:
            grid_rows.append(
                {"device": code, "completeness": [_cell(gaps, start, c, cell_s) for c in range(n_cells)]}
            )
        dropped = (
            {"buffer_full": int(lost_s // interval_s) * tags}
            if gaps and gaps[0]["cause"] == "dropped_at_gateway"
            else {}
        )
        recon[gw].append(
            {
                "device": code,
                "read": st_total + sum(dropped.values()),
                "published": st_total,
                "dropped": dropped,
                "stored": st_total,
                "rejected": 0,
                "unexplained": 0,
                "read_errors": 0,
                "skipped_polls": 0,
                "at_gateway_start": 0,
                "at_gateway_end": 0,
            }
        )
    extra = [("N", j, f"老旧设备 {j + 1}", "冲床", True) for j in range(not_networked)]
    if devices:
        extra.append(("P", 0, "办公室打印机", "打印机", False))
    for prefix, j, name, typ, production in extra:
        dev_rows.append(
            {
                "device": f"{prefix}{j + 1:03d}",
                "name": name,
                "type": typ,
                "workshop": "车间1",
                "line": "L1",
                "key_process": prefix == "N" and j == 0,
                "production": production,
                "in_inventory": True,
                "networked_declared": False,
                "digital_declared": j % 2 == 1,
                "gateway": None,
                "delivering": False,
                "online_ratio": None,
                "completeness": None,
                "complete": False,
                "samples_expected": None,
                "samples_stored": 0,
                "samples_good": 0,
                "samples_late": 0,
                "gaps": [],
            }
        )
        credited[f"{prefix}{j + 1:03d}"] = 0.0
    dev_rows.sort(key=lambda d: d["device"])
    prod = [d for d in dev_rows if d["in_inventory"] and d["production"]]
    has_inv = bool(prod)
    kp = [d for d in prod if d["key_process"]]
    networking = _ratio(sum(d["delivering"] for d in prod), len(prod)) if has_inv else None
    digital = _ratio(sum(bool(d["digital_declared"]) for d in prod), len(prod)) if has_inv else None
    counted = [d for d in dev_rows if not d["in_inventory"] or d["production"]]
    workshops = sorted({d["workshop"] for d in counted})
    lines = sorted({(d["workshop"], d["line"]) for d in counted})
    use: dict[str, list[dict[str, Any]]] = {k: [] for k in LABELS}
    for row in tag_rows:
        if row["good"] > 0:
            for link in row["links"]:
                use[link].append(row)
    declared = {"equipment", "energy"} if devices else set()  # what the inventory rows name
    link_rows: list[dict[str, Any]] = [
        {
            "key": k,
            "label_zh": zh,
            "label_en": en,
            "collected": bool(use[k]),
            "declared": k in declared,
            "devices": sorted({t["device"] for t in use[k]}),
            "tags": len(use[k]),
        }
        for k, (zh, en) in LABELS.items()
    ]
    samples = sum(d["samples_stored"] for d in dev_rows)
    hist = [{"le_ms": float(e), "n": n} for e, n in zip([*DISPLAY_EDGES, 1e12], HIST, strict=True)]
    lat_total = sum(h["n"] for h in hist)
    latency: dict[str, Any] = {
        "p50": 180.0,
        "p95": 920.0,
        "p99": 2400.0,
        "max": 41000.0,
        "samples": lat_total,
        "method": "ledger",
        **SEGMENTS,
        "corrected_gateways": [gateways[1]],
        "histogram": hist,
    }
    if not samples:
        empty = {"p50": None, "p95": None, "p99": None, "max": None}
        latency = {
            **empty,
            "samples": 0,
            "method": "ledger",
            **{k: empty for k in SEGMENTS},
            "corrected_gateways": [],
            "histogram": [{**h, "n": 0} for h in hist],
        }
    gw_rows = []
    for k, g in enumerate(gateways):
        gw_rows.append(
            {
                "gateway": g,
                "clock_offset_ms": 300_000.0 if k == 1 else 35.0,
                "clock_ok": k != 1,
                "clock_corrected": k == 1,
                "online_ratio": 0.995,
                "sessions": [
                    {
                        "session": f"{g}-s{s}",
                        "start": iso(start + timedelta(hours=s * 12)),
                        "end": None if s == k + 2 else iso(start + timedelta(hours=s * 12 + 11)),
                        "end_reason": "open" if s == k + 2 else "death",
                    }
                    for s in range(k + 3)
                ],
                "streams": 1,
                "batches": 100 + k,
                "late_batches": k,
                "samples_stored": sum(r["stored"] for r in recon[g]),
                "rejected": {"bad_payload": 2} if k == 0 and devices else {},
            }
        )
    reconciliation = []
    for g in gateways:
        rows = recon[g]
        total: dict[str, Any] = {
            k: sum(r[k] for r in rows)
            for k in (
                "read",
                "published",
                "stored",
                "rejected",
                "unexplained",
                "read_errors",
                "skipped_polls",
                "at_gateway_start",
                "at_gateway_end",
            )
        }
        dropped_sum: dict[str, int] = {}
        for r in rows:
            for reason, n in r["dropped"].items():
                dropped_sum[reason] = dropped_sum.get(reason, 0) + n
        reconciliation.append(
            {
                **total,
                "dropped": dropped_sum,
                "gateway": g,
                "reports_from": None,
                "reports_to": iso(end - timedelta(seconds=10)),
                "devices": rows,
            }
        )
    doc = {
        "schema_version": "1.0",
        "methodology_version": "1",
        "generated_at": iso(end + timedelta(hours=1)),
        "generator": {"name": "shopfloor-gateway", "version": "0.1.0"},
        "enterprise": {
            "code": enterprise,
            "name": "示例精密制造有限公司",
            "industry": "结构性金属制品",
            "district": "赛罕区",
        },
        "window": {"start": iso(start), "end": iso(end), "duration_s": window_s, "requested_end": None},
        "parameters": {
            "late_after_s": 60.0,
            "clock_tolerance_ms": 1000.0,
            "complete_threshold": THRESHOLD,
            "gap_factor": 1.75,
        },
        "inventory": {
            "present": has_inv,
            "imported_at": iso(start - timedelta(days=1)) if has_inv else None,
            "source": "设备台账.csv" if has_inv else None,
            "sha256": "8e92bf0d2b31f790406e9b8fa844732744fc6949eb1d903a7fdd433a2285c0f5" if has_inv else None,
            "rows": sum(d["in_inventory"] for d in dev_rows),
            "production_devices": len(prod),
            "networked_devices": sum(bool(d["networked_declared"]) for d in prod),
            "delivering_devices": sum(d["delivering"] for d in prod),
            "digital_devices": sum(bool(d["digital_declared"]) for d in prod),
            "key_process_devices": len(kp),
            "key_process_complete": sum(d["complete"] for d in kp),
            "unlisted_devices": [d["device"] for d in dev_rows if not d["in_inventory"]] if has_inv else [],
            "silent_devices": [d["device"] for d in prod if d["networked_declared"] and not d["delivering"]],
            "undeclared_delivering": [],
        },
        "networking_rate": networking,
        "networking_band": _band(networking),
        "digitalization_rate": digital,
        "digitalization_band": _band(digital),
        "key_process_rate": _ratio(sum(d["complete"] for d in kp), len(kp)) if has_inv and kp else None,
        "business_links": {
            "covered": sum(li["collected"] for li in link_rows),
            "total": 14,
            "declared": sum(li["declared"] for li in link_rows),
            "links": link_rows,
        },
        "latency_ms": latency,
        "gateways": gw_rows,
        "devices": dev_rows,
        "tags": tag_rows,
        "reconciliation": reconciliation,
        "rollups": {
            "enterprise": _group(counted, credited, workshop=None, line=None),
            "workshops": [
                _group([d for d in counted if d["workshop"] == w], credited, workshop=w, line=None)
                for w in workshops
            ],
            "lines": [
                _group(
                    [d for d in counted if (d["workshop"], d["line"]) == wl],
                    credited,
                    workshop=wl[0],
                    line=wl[1],
                )
                for wl in lines
            ],
        },
        "grid": {
            "bucket": "hour" if hourly else "day",
            "starts": [iso(start + timedelta(seconds=c * cell_s)) for c in range(n_cells)],
            "rows": grid_rows,
        },
        "rejected": {
            "messages": 1 if devices else 0,
            "by_reason": {"bad_payload": 1} if devices else {},
            "samples": 2 if devices else 0,
        },
        "not_computable": {}
        if has_inv
        else {k: "no_inventory" for k in ("networking_rate", "digitalization_rate", "key_process_rate")},
        "notes": [],
    }
    out: dict[str, Any] = Figures.model_validate(doc).model_dump(mode="json")
    return out


def _band(rate: float | None) -> dict[str, Any] | None:
    b = band(rate)
    return None if b is None else b.model_dump(mode="json")


def _cell(gaps: list[dict[str, Any]], start: datetime, c: int, cell_s: int) -> float:
    lo, hi = start + timedelta(seconds=c * cell_s), start + timedelta(seconds=(c + 1) * cell_s)
    lost = 0.0
    for g in gaps:
        if g["cause"] == "delivered_late":
            continue
        a = max(datetime.fromisoformat(g["start"]), lo)
        b = min(datetime.fromisoformat(g["end"]), hi)
        lost += max((b - a).total_seconds(), 0.0)
    return round(max(0.0, 1 - lost / cell_s), 6)
