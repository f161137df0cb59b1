"""Dashboard pages: answer times and weights for an enterprise of 50 devices with a month of data.

    python bench/dashboard.py [--devices 50] [--tags 30] [--days 30] [--interval-s 3600]
                              [--requests 15]   # --interval-s 600 for a denser month

The month is generated through the real write path (registry births, ``writer.write`` with its
ledger and binary COPY, then the rollup maintenance until nothing is pending) into a fresh
database: ``--devices`` devices of ``--tags`` tags on 5 gateways, one sample per tag every
``--interval-s`` seconds up to now, with a few devices silent for stretches and some bad
samples. The default (one sample an hour: 1.08 M samples, the same hourly rollup rows and the
same 1,500 tags and 30 daily partitions as a denser month) loads in a couple of minutes, most
of it the rollup maintenance; ``--interval-s 600`` stores 6.4 M samples (about 15 minutes to
load), ``--interval-s 200`` the 13-million-sample month of the evidence issue.

The pages are then served by the product's app under uvicorn on a free port and requested
over HTTP by a signed-in client (``--requests`` times each, after two warm-up requests), and
compared in the same run with two baselines:

- ``static``: a static file from the same server (the HTTP floor of this machine);
- ``sql``: the queries each page runs, called directly on a database connection, without
  HTTP, sessions or templates (what the page costs beyond its data).

The evidence partial (figures, the four charts, the reconciliation, inventory and business-link
tables) is measured for today and for 30 days twice:

- as a person gets it (``p50_ms``, ``p95_ms``): the page has asked for the window, so the
  figures are kept, and the background warmer (``cloud_ingest/web/warm.py``) recomputes them
  every 20 s meanwhile, on the same two cores, as in service;
- uncached (``uncached_p50_ms``, ``uncached_p95_ms``): the warmer stopped and the figures cache
  emptied before each request, so every answer computes the figures again (the first look
  anyone takes at a window), in turns with a third baseline:

  ``figures``: ``cloud_ingest.evidence.compute_figures`` called directly on a connection for the
  same window (the one computation the partial calls); ``render_ratio`` = uncached partial ÷
  figures, what HTTP, charts and templates add to the computation.

The city overview is measured the same two ways (``city`` and ``city_uncached``: the cache
emptied, so the request computes today's figures of the enterprise within its budget).

``--quick`` (7 days of 20 devices × 10 tags every 10 minutes, 7 requests) takes about a minute.
The month is vacuumed once written, as in service (``--no-vacuum``: as just written, never
vacuumed: the shared test server runs with autovacuum off).
``--keep-db`` leaves the database (its name is logged) and ``--reuse-db NAME`` measures again
on it without writing the month (its data ends when it was written: the windows, which end
now, then hold a stretch with no data).

Weights are the HTML bytes of each page, charts included (inline SVG), and the first-load
weight with the stylesheet and the vendored htmx. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg.rows import dict_row
from starlette.routing import Mount

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud_ingest import migrate, rollups, writer  # noqa: E402
from cloud_ingest.api.admin_routes import dead_letters  # noqa: E402
from cloud_ingest.api.app import create_app  # noqa: E402
from cloud_ingest.api.auth import Principal, TokenEntry, TokenStore  # noqa: E402
from cloud_ingest.batch import DataBatch  # noqa: E402
from cloud_ingest.config import CloudConfig, DatabaseConfig  # noqa: E402
from cloud_ingest.evidence import compute_figures  # noqa: E402
from cloud_ingest.partitions import Partitions  # noqa: E402
from cloud_ingest.registry import Registry  # noqa: E402
from cloud_ingest.timescale import flavor_of  # noqa: E402
from cloud_ingest.web.figures import CACHE  # noqa: E402
from cloud_ingest.web.queries import city, devices, gateways, live  # noqa: E402
from cloud_ingest.web.windows import parse  # noqa: E402
from wire.json_v1 import BirthMessage, Counters, DeviceCounters, DeviceInfo, EnterpriseInfo, TagInfo  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "bench-admin-token-0123456789"
ENT = "ent-bench"
GATEWAYS = 5
PER_BATCH = 1500


def log(msg: str) -> None:
    print(f"[dashboard bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the month ------------------------------------------------------------------------------------


def generate(
    dsn: str, *, n_devices: int, n_tags: int, days: int, interval_s: int, vacuum: bool = True
) -> int:
    """Births, then every sample of the month in time order per gateway, through the writer;
    then vacuumed, as autovacuum has a month in service (the shared test server runs with
    autovacuum off: a month never vacuumed is read by visiting the table for every rollup row,
    the covering indexes' index-only scans need the pages marked visible; ``vacuum=False``
    measures that state, a month just written)."""
    now_ms = int(time.time() * 1000) // 1000 * 1000
    steps = days * 86400 // interval_s
    t0 = now_ms - (steps - 1) * interval_s * 1000
    devs_per_gw = -(-n_devices // GATEWAYS)
    stored = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)
        reg, parts = Registry(), Partitions(flavor=flavor)
        tags = [TagInfo(name=f"tag{j:02d}", type="float32", unit="kW", interval_ms=interval_s * 1000)
                for j in range(n_tags)]
        for g in range(GATEWAYS):
            devs = [f"dev{d:03d}" for d in range(g * devs_per_gw, min(n_devices, (g + 1) * devs_per_gw))]
            reg.apply_birth(conn, BirthMessage(
                enterprise=ENT, gateway=f"gw{g}", session="s1", ts=t0, next_seq=1, agent_version="bench",
                enterprise_info=EnterpriseInfo(name="基准企业 Bench Co.", industry="food", district="赛罕区"),
                devices=[DeviceInfo(id=d, profile="bench", protocol="modbus",
                                    workshop=f"车间{int(d[3:]) // 10}", line=f"L{int(d[3:]) % 3}",
                                    key_process=int(d[3:]) % 4 == 0, tags=tags)
                         for d in devs]), received_ms=t0)
        steps_per_batch = max(1, PER_BATCH // (devs_per_gw * n_tags))
        group: list[writer.Inbound] = []
        seqs = [0] * GATEWAYS
        for first in range(0, steps, steps_per_batch):
            for g in range(GATEWAYS):
                samples = []
                for step in range(first, min(steps, first + steps_per_batch)):
                    ts = t0 + step * interval_s * 1000
                    for d in range(g * devs_per_gw, min(n_devices, (g + 1) * devs_per_gw)):
                        if d % 10 == 3 and steps * 3 // 7 <= step < steps * 4 // 7:
                            continue  # a device silent for a seventh of the month: gaps
                        bad = d % 10 == 5 and step % 97 == 0
                        for j in range(n_tags):
                            samples.append({"d": f"dev{d:03d}", "t": f"tag{j:02d}", "ts": ts, "rt": ts + 40,
                                            "v": None if bad else float((step * 7 + j * 13 + d) % 1000) / 10,
                                            "q": "bad" if bad else "good"})
                if not samples:
                    continue
                seqs[g] += 1
                counters = Counters(batches_published=seqs[g], devices={
                    f"dev{d:03d}": DeviceCounters(read=seqs[g] * 100, buffered=seqs[g] * 100,
                                                  published=seqs[g] * 100 - 3)
                    for d in range(g * devs_per_gw, min(n_devices, (g + 1) * devs_per_gw))})
                batch = DataBatch(ENT, f"gw{g}", "s1", seqs[g], samples[-1]["ts"] + 500, samples, counters)
                group.append(writer.Inbound(batch, samples[-1]["ts"] + 800))
                stored += len(samples)
            if len(group) >= 20:
                writer.write(conn, group, registry=reg, partitions=parts)
                group = []
        if group:
            writer.write(conn, group, registry=reg, partitions=parts)
        log(f"stored {stored:,} samples; rolling up")
        while rollups.roll_up_pending(conn, flavor=flavor, limit=500):
            pass
        conn.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
    return stored


# -- serving and timing ---------------------------------------------------------------------------


class Server:
    def __init__(self, dsn: str) -> None:
        tokens = TokenStore([TokenEntry(name="bench", role="admin", token=TOKEN)])
        app = create_app(CloudConfig(database=DatabaseConfig(dsn=dsn)), tokens=tokens)
        web = next(r.app for r in app.routes if isinstance(r, Mount) and r.name == "web")
        self.warmer = web.state.warmer  # type: ignore[attr-defined]
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise SystemExit("dashboard bench: the server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60, follow_redirects=True)
    form = client.get("/signin").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    r = client.post("/signin", data={"token": TOKEN, "csrf_token": token.group(1)})
    r.raise_for_status()
    return client


def interleaved(a: Callable[[], object], b: Callable[[], object],
                n: int) -> tuple[list[float], list[float]]:
    """``a`` and ``b`` timed in turns (after a warm-up each): their times in ms."""
    a(), b()
    out_a: list[float] = []
    out_b: list[float] = []
    for _ in range(n):
        for fn, out in ((a, out_a), (b, out_b)):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1000)
    return out_a, out_b


def timed(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(2):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--tags", type=int, default=30)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--interval-s", type=int, default=3600)
    ap.add_argument("--requests", type=int, default=15)
    ap.add_argument("--quick", action="store_true",
                    help="7 days of 20 devices x 10 tags every 600 s, 7 requests")
    ap.add_argument("--keep-db", action="store_true", help="leave the database (its name is logged)")
    ap.add_argument("--reuse-db", default=None, help="measure again on a database a --keep-db run left")
    ap.add_argument("--no-vacuum", action="store_true",
                    help="leave the month unvacuumed (as just written; the runs before this option)")
    args = ap.parse_args()
    if args.quick:
        args.days, args.devices, args.tags, args.interval_s, args.requests = 7, 20, 10, 600, 7

    name = args.reuse_db or f"sfg_bench_dash_{uuid.uuid4().hex[:8]}"
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    if not args.reuse_db:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        migrate.migrate(dsn)
        if args.reuse_db:
            with psycopg.connect(dsn, autocommit=True) as c:
                samples = int(c.execute("SELECT count(*) FROM samples").fetchone()[0])  # type: ignore[index]
                args.devices = int(c.execute("SELECT count(*) FROM devices").fetchone()[0])  # type: ignore[index]
                args.tags = int(c.execute("SELECT count(*) FROM tags").fetchone()[0]) // max(1, args.devices)  # type: ignore[index]
            log(f"reusing {name}: {samples:,} samples")
        else:
            t = time.monotonic()
            samples = generate(dsn, n_devices=args.devices, n_tags=args.tags, days=args.days,
                               interval_s=args.interval_s, vacuum=not args.no_vacuum)
            log(f"month ready in {time.monotonic() - t:.0f} s")
        result = measure(dsn, samples=samples, args=args)
    finally:
        if args.keep_db or args.reuse_db:
            log(f"database kept: {name}")
        else:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    print(json.dumps(result))
    return 0


def measure(dsn: str, *, samples: int, args: argparse.Namespace) -> dict[str, Any]:
    admin = Principal("bench", "admin")
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as db:
        ent_id = int(db.execute("SELECT id FROM enterprises WHERE code = %s", (ENT,)).fetchone()["id"])  # type: ignore[index]
        dev_id = int(db.execute("SELECT id FROM devices WHERE code = 'dev000'").fetchone()["id"])  # type: ignore[index]

        def device_sql(window: str) -> Callable[[], object]:
            def run() -> object:
                win = parse(window, None, None)
                tags = devices.tags_latest(db, dev_id)
                return devices.series(db, [t["id"] for t in tags], start=win.start, end=win.end)
            return run

        sql: dict[str, Callable[[], object]] = {
            "city": lambda: city.enterprises(db),
            "enterprise": lambda: (live.device_states(db, ent_id), gateways.gateway_list(db, ent_id)),
            "live": lambda: live.device_states(db, ent_id),
            "device_today": device_sql("today"),
            "device_30d": device_sql("30d"),
            "gateway": lambda: gateways.gateway_detail(db, ent_id, "gw0"),
            "dead_letters": lambda: dead_letters(db, admin, reason=None, enterprise=None, limit=200),
        }
        sql_ms = {k: summary(timed(fn, args.requests))["p50_ms"] for k, fn in sql.items()}

    evidence = {"evidence_today": "today", "evidence_30d": "30d"}
    paths = {
        "city": "/city", "enterprise": f"/enterprises/{ENT}", "live": f"/enterprises/{ENT}/live",
        "device_today": f"/enterprises/{ENT}/devices/dev000?window=today",
        "device_30d": f"/enterprises/{ENT}/devices/dev000?window=30d",
        "gateway": f"/enterprises/{ENT}/gateways/gw0", "dead_letters": "/dead-letters",
        "evidence_today": f"/enterprises/{ENT}/evidence?window=today",
        "evidence_30d": f"/enterprises/{ENT}/evidence?window=30d",
    }
    pages: dict[str, dict[str, Any]] = {}
    server = Server(dsn)
    with server as url, closing(signed_in(url)) as client, psycopg.connect(dsn, autocommit=True) as plain:
        static_bytes = sum(len(client.get(p).content) for p in ("/static/dashboard.css",
                                                                  "/static/htmx-2.0.11.min.js"))
        static = summary(timed(lambda: client.get("/static/dashboard.css").raise_for_status(), args.requests))
        # as a person gets them: the warmer runs, the enterprise page has asked for its windows
        for name, path in paths.items():
            partial = name == "live" or name.startswith("evidence")
            headers = {"HX-Request": "true"} if partial else {}
            r = client.get(path, headers=headers)
            r.raise_for_status()
            body = len(r.content)

            def get(p: str = path, h: dict[str, str] = headers) -> None:
                client.get(p, headers=h).raise_for_status()

            times = summary(timed(get, args.requests))
            pages[name] = {**times, "kb": round(body / 1024, 1),
                           "first_load_kb": round((body + (0 if partial else static_bytes)) / 1024, 1)}
            if name in sql_ms:
                pages[name]["sql_ms"] = sql_ms[name]
            log(f"{name:14s} p50 {times['p50_ms']:7.1f} ms  p95 {times['p95_ms']:7.1f} ms  "
                f"{body / 1024:6.1f} KB")
        # uncached: no warmer, the cache emptied before each request (the first look at a window)
        server.warmer.stop()
        uncached = {"city": ("/city", None), **{k: (paths[k], evidence[k]) for k in evidence}}
        for name, (path, window) in uncached.items():
            headers = {"HX-Request": "true"} if window else {}

            def cold(p: str = path, h: dict[str, str] = headers) -> None:
                CACHE.clear()
                client.get(p, headers=h).raise_for_status()

            def direct(w: str = window or "today") -> None:
                win = parse(w, None, None)
                compute_figures(plain, enterprise=ENT, start=win.start, end=win.end)

            # the page and its baseline in turns, so the shared machine's load falls on both
            page_ms, figures_ms = interleaved(cold, direct, args.requests)
            times, base = summary(page_ms), summary(figures_ms)["p50_ms"]
            pages[name] |= {"uncached_p50_ms": times["p50_ms"], "uncached_p95_ms": times["p95_ms"],
                            "figures_ms": base, "render_ratio": round(times["p50_ms"] / (base or 1), 2)}
            log(f"{name:14s} uncached p50 {times['p50_ms']:7.1f} ms  p95 {times['p95_ms']:7.1f} ms  "
                f"figures {base:7.1f} ms")
    worst = max(p["p95_ms"] for p in pages.values())
    worst_uncached = max(p.get("uncached_p95_ms", 0.0) for p in pages.values())
    return {
        "bench": "dashboard", "devices": args.devices, "tags": args.devices * args.tags, "days": args.days,
        "samples": samples, "requests": args.requests, "static_p50_ms": static["p50_ms"], "pages": pages,
        "max_p95_ms": worst, "max_uncached_p95_ms": worst_uncached,
        "max_first_load_kb": max(p["first_load_kb"] for p in pages.values()),
        "target_ms": 300, "target_kb": 500,
        "window_now": datetime.now(UTC).isoformat(timespec="seconds"),
        "month_start": (datetime.now(UTC) - timedelta(days=args.days)).isoformat(timespec="seconds"),
    }


if __name__ == "__main__":
    sys.exit(main())
