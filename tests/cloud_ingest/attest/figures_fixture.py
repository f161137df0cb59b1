"""A figures dict in the documented shape (issue 11's keys, docs/evidence.md), generated
deterministically for N devices × M tags over a window, with a gap of every cause, late data,
drops at the gateway, a fast gateway clock and devices that are in the inventory but never
networked. Used until the real computation lands, and by the package build timing; swapping it
for the real figures is one call (``cloud_ingest.attest.source``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from wire.business_links import KEYS

CAUSES = ("device_offline", "gateway_offline", "delivered_late", "dropped_at_gateway", "rejected", "unknown")


LATENCY: dict[str, Any] = {
    "p50": 180.0,
    "p95": 920.0,
    "p99": 2400.0,
    "max": 41000.0,
    "segments": {
        "device_gateway": {"p50": 20.0, "p95": 60.0, "p99": 110.0, "max": 900.0},
        "gateway_cloud": {"p50": 140.0, "p95": 800.0, "p99": 2200.0, "max": 40000.0},
        "cloud_stored": {"p50": 15.0, "p95": 55.0, "p99": 90.0, "max": 600.0},
    },
    "histogram": [
        {"le_ms": le, "count": n}
        for le, n in (
            (50, 1200),
            (100, 5300),
            (200, 22000),
            (500, 9100),
            (1000, 2100),
            (2000, 600),
            (5000, 130),
            (10000, 12),
            (60000, 4),
        )
    ],
}


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    gateways = [f"gw{g + 1}" for g in range(max(2, devices // 25 + 1))]
    dev_rows, tag_rows, inv_rows, recon = [], [], [], []
    link_use: dict[str, set[str]] = {}
    for i in range(devices):
        code = f"D{i + 1:03d}"
        gw = gateways[i % len(gateways)]
        workshop, line = f"车间{i % 3 + 1}", f"L{i % 5 + 1}"
        key_process = i % 4 == 0
        gaps = []
        if i % 2 == 0 or devices <= 12:
            cause = CAUSES[i % len(CAUSES)]
            g0 = start + timedelta(seconds=int(window_s * rnd.uniform(0.1, 0.8)))
            dur = int(rnd.uniform(600, 7200))
            gaps.append(
                {
                    "start": iso(g0),
                    "end": iso(g0 + timedelta(seconds=dur)),
                    "duration_s": float(dur),
                    "cause": cause,
                    "reason": "disk_full" if cause == "dropped_at_gateway" else "",
                }
            )
        lost_s = sum(g["duration_s"] for g in gaps if g["cause"] != "delivered_late")
        late_s = sum(g["duration_s"] for g in gaps if g["cause"] == "delivered_late")
        exp_total = st_total = late_total = 0
        links = [KEYS[(i + k) % 6 + 5] for k in range(2)]
        for t in range(tags):
            expected = int(window_s // interval_s)
            stored = expected - int(lost_s // interval_s) - (1 if (i + t) % 7 == 0 else 0)
            name = f"tag{t + 1:02d}"
            tag_rows.append(
                {
                    "device": code,
                    "tag": name,
                    "expected": expected,
                    "stored": stored,
                    "good": stored - (t % 3),
                    "completeness": round(min(1.0, stored / expected), 6),
                }
            )
            exp_total, st_total = exp_total + expected, st_total + min(stored, expected)
            late_total += int(late_s // interval_s)
            for link in links:
                link_use.setdefault(link, set()).add(f"{code}/{name}")
        online = (
            1
            - sum(g["duration_s"] for g in gaps if g["cause"] in ("device_offline", "gateway_offline"))
            / window_s
        )
        dev_rows.append(
            {
                "device": code,
                "gateway": gw,
                "workshop": workshop,
                "line": line,
                "key_process": key_process,
                "online_ratio": round(online, 6),
                "completeness": round(st_total / exp_total, 6) if exp_total else None,
                "samples_expected": exp_total,
                "samples_stored": st_total,
                "samples_late": late_total,
                "gaps": gaps,
            }
        )
        dropped = (
            {"disk_full": int(lost_s // interval_s) * tags}
            if gaps and gaps[0]["cause"] == "dropped_at_gateway"
            else {}
        )
        read = st_total + sum(dropped.values())
        recon.append(
            {
                "gateway": gw,
                "device": code,
                "read": read,
                "published": st_total,
                "dropped": dropped,
                "stored": st_total,
                "unexplained": 0,
            }
        )
        inv_rows.append(
            {
                "device": code,
                "name": f"设备 {code}",
                "type": "注塑机" if i % 2 else "空压机",
                "workshop": workshop,
                "line": line,
                "in_inventory": True,
                "production": True,
                "key_process": key_process,
                "networked": True,
                "digital": True,
                "delivering": st_total > 0,
                "business_links": links,
            }
        )
    for j in range(not_networked):
        inv_rows.append(
            {
                "device": f"N{j + 1:03d}",
                "name": f"老旧设备 {j + 1}",
                "type": "冲床",
                "workshop": "车间1",
                "line": "L1",
                "in_inventory": True,
                "production": True,
                "key_process": j == 0,
                "networked": False,
                "digital": j % 2 == 1,
                "delivering": False,
                "business_links": [],
            }
        )
    prod = [r for r in inv_rows if r["production"] and r["in_inventory"]]
    delivering = sum(r["delivering"] for r in prod)
    rate = delivering / len(prod) if prod else None
    points = (
        None
        if rate is None
        else next((p for u, p in ((0.1, 0.0), (0.2, 1.5), (0.4, 3.0), (0.6, 4.5)) if rate <= u), 6.0)
    )
    kp = [d for d in dev_rows if d["key_process"]]
    covered = sorted(link_use)
    latency = LATENCY if devices else {"p50": None, "p95": None, "p99": None, "max": None, "segments": {}}
    return {
        "schema_version": "1.0",
        "methodology_version": "1.0",
        "enterprise": {
            "code": enterprise,
            "name": "示例精密制造有限公司",
            "industry": "结构性金属制品",
            "district": "赛罕区",
        },
        "window": {"start": iso(start), "end": iso(end)},
        "generated_at": iso(end + timedelta(hours=1)),
        "inventory": {
            "production_devices": len(prod),
            "networked_devices": sum(r["networked"] for r in prod),
            "delivering_devices": delivering,
            "digital_devices": sum(r["digital"] for r in prod),
            "devices": inv_rows,
        },
        "networking_rate": None if rate is None else round(rate, 4),
        "networking_band": {
            "band": "≤60%" if points == 4.5 else ">60%" if points == 6 else "≤40%",
            "points": points,
        },
        "digitalization_rate": round(sum(r["digital"] for r in prod) / len(prod), 4) if prod else None,
        "key_process_rate": round(sum((d["completeness"] or 0) >= 0.99 for d in kp) / len(kp), 4)
        if kp
        else None,
        "business_links": {
            "covered": covered,
            "total": len(KEYS),
            "links": [
                {"link": k, "devices": len({x.split("/")[0] for x in v}), "tags": len(v)}
                for k, v in sorted(link_use.items())
            ],
        },
        "latency_ms": latency,
        "gateways": [
            {
                "gateway": g,
                "clock_offset_ms": 300_000.0 if k == 1 else 35.0,
                "clock_flagged": k == 1,
                "online_ratio": 0.995,
                "sessions": 3 + k,
            }
            for k, g in enumerate(gateways)
        ],
        "devices": dev_rows,
        "tags": tag_rows,
        "reconciliation": recon,
    }
