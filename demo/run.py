"""`make demo`: the whole sample pilot city from one command, on services the demo owns.

1. services: PostgreSQL from a wheel and a mosquitto of its own (or DATABASE_URL / MQTT_URL);
2. the cloud: schema, `cloud-ingest serve` (ingest + API + dashboard);
3. the shop floors: simulators and one edge agent per enterprise; once their gateways are known,
   the inventories are imported beside the run;
4. the run (3 minutes by default) with scripted faults and a live table;
5. the end: gateways stopped cleanly, everything they read stored, one signed evidence package
   per enterprise built and verified, a one-screen summary, the dashboard URL and a reviewer
   token. The cloud and the services stay up until `make demo-stop` (or `--exit`).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import psycopg
from rich.console import Console
from rich.live import Live

from demo import evidence, faults, services
from demo.city import CITY, Enterprise
from demo.progress import Progress
from demo.stack import Site, Stack

DATABASE = "shopfloor_demo"


class Interrupted(Exception):
    """Ctrl-C: end the run early, then finish cleanly."""


def _fresh_database(admin_url: str) -> str:
    """A new, empty demo database on the server (the previous run's is dropped)."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"


def _fault_actions(stack: Stack, site: Site) -> list[tuple[float, str, Callable[[], None]]]:
    ent = site.enterprise
    out: list[tuple[float, str, Callable[[], None]]] = []
    for f in faults.SCRIPT:
        if f.enterprise != ent.id:
            continue
        if f.kind == "device_off":
            port = site.ports[faults.DEVICE_OFF[ent.id]]

            def switch(state: str, *, p: int = port) -> Callable[[], None]:
                def act() -> None:
                    faults.control(site.control_port, f"{state} {p}")
                return act

            out += [(f.start, f"{ent.name}: {f.label}", switch("down")),
                    (f.end, f"{ent.name}: 设备恢复 device back", switch("up"))]
        elif f.kind == "uplink_cut" and site.uplink is not None:
            out += [(f.start, f"{ent.name}: {f.label}", site.uplink.cut),
                    (f.end, f"{ent.name}: 上行恢复 uplink back", site.uplink.start)]
        elif f.kind == "malformed":
            def send(e: Enterprise = ent) -> None:
                faults.malformed(host=stack.services.mqtt_host, port=stack.services.mqtt_port,
                                 enterprise=e.id, gateway=e.gateway)
            out.append((f.start, f"{ent.name}: {f.label}", send))
    return out


def run(*, root: Path, duration_s: float, database_url: str | None, mqtt_url: str | None,
        exit_at_end: bool, console: Console) -> int:
    var = root / "var" / "demo"

    def say(text: str) -> None:
        console.print(f"[bold]demo[/]: {text}")

    stop_previous(var)
    svc = services.start(var, database_url=database_url, mqtt_url=mqtt_url)
    say(f"数据库 database: {svc.postgres_version}" + (f", 数据 data in {svc.pg_data}" if svc.pg_data else
                                                       " (DATABASE_URL)"))
    say(f"消息代理 broker: {svc.broker_version} on {svc.mqtt_host}:{svc.mqtt_port}"
        + (f", 数据 data in {svc.broker_dir}" if svc.broker_dir else ""))
    dsn = _fresh_database(svc.database_url)
    stack = Stack(var, services.Services(**{**svc.__dict__, "database_url": dsn}), duration_s=duration_s)
    stack.cloud_config()
    migrated = stack.cloud("migrate")
    if migrated.returncode != 0:
        raise services.ServiceError(f"cloud-ingest migrate failed: {migrated.stderr.strip()}")
    token = evidence.reviewer_token(stack)
    evidence.ensure_signing_key(stack)
    stack.start_ingest()
    sites = [stack.site(ent) for ent in CITY]
    for site in sites:
        stack.start_simulators(site)
    for site in sites:
        stack.wait_simulators(site)
    clock_fast = {f.enterprise for f in faults.SCRIPT if f.kind == "clock_fast"}
    cut = {f.enterprise for f in faults.SCRIPT if f.kind == "uplink_cut"}
    for site in sites:
        stack.write_gateway_config(site, uplink=site.enterprise.id in cut)
        stack.start_agent(site, clock_fast=site.enterprise.id in clock_fast)
    # the gateways' births register the enterprises (name, industry, district from their
    # configs); the inventories follow, as a technician would import them after commissioning,
    # beside the run (the live table counts against the city's own inventory): they are needed
    # only by the evidence at the end
    evidence.wait_registered(stack, CITY)
    background = ThreadPoolExecutor(max_workers=1)
    inventories = background.submit(evidence.import_inventories, stack, CITY)
    background.shutdown(wait=False)
    devices = sum(len(e.devices) for e in CITY)
    say(f"{len(CITY)} 家企业 enterprises, {devices} 台联网设备 networked devices, "
        f"运行 running for {duration_s:.0f} s (Ctrl-C 提前结束 ends early)")

    timeline = faults.Timeline(actions=[a for site in sites for a in _fault_actions(stack, site)])
    progress = Progress(dsn=dsn, sites=sites, console=console)
    started = datetime.now(UTC)
    try:
        _run_loop(stack, timeline, progress, duration_s=duration_s, console=console)
    except Interrupted:
        say("提前结束 ended early (Ctrl-C): finishing cleanly")
    say("停止网关 stopping the gateways (each seals and sends what it read)")
    stack.stop_gateways()
    ended = datetime.now(UTC)
    inventories.result()
    evidence.wait_stored(stack, sites, console=console)
    results = evidence.build_and_verify(stack, sites, start=started, end=ended)
    evidence.print_summary(results, console=console)
    ok = all(r.verified and r.unexplained == 0 for r in results)
    if exit_at_end:
        stack.close(keep_ingest=False)
        services.stop(var)
        say("全部停止 everything stopped (--exit)")
    else:
        stack.close(keep_ingest=True)
        assert stack.ingest is not None
        (var / "cloud-ingest.pid").write_text(str(stack.ingest.popen.pid))
        say(f"仪表盘 dashboard: http://127.0.0.1:{stack.api_port}/  "
            f"(审核员令牌 reviewer token, this demo only: {token})")
        say(f"API: http://127.0.0.1:{stack.api_port}/docs — `make demo-stop` 结束 ends the cloud and "
            "the services")
    return 0 if ok else 1


def _run_loop(stack: Stack, timeline: faults.Timeline, progress: Progress, *, duration_s: float,
              console: Console) -> None:
    def interrupt(_sig: int, _frame: FrameType | None) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGINT, interrupt)
    t0 = time.monotonic()
    notes: list[str] = []
    try:
        if console.is_terminal:
            with Live(progress.table(0, elapsed_s=0, total_s=duration_s), console=console,
                      refresh_per_second=2, transient=False) as live:
                while (elapsed := time.monotonic() - t0) < duration_s:
                    timeline.advance(elapsed / duration_s, say=notes.append)
                    _check_alive(stack)
                    live.update(progress.table(elapsed / duration_s, elapsed_s=elapsed, total_s=duration_s))
                    for note in notes:
                        live.console.print(f"[yellow]故障 fault[/]: {note}")
                    notes.clear()
                    time.sleep(1.0)
        else:
            last_print = -10.0
            while (elapsed := time.monotonic() - t0) < duration_s:
                timeline.advance(elapsed / duration_s, say=notes.append)
                _check_alive(stack)
                for note in notes:
                    print(f"demo: 故障 fault: {note}", flush=True)
                notes.clear()
                if elapsed - last_print >= 15:
                    for line in progress.lines(elapsed / duration_s, elapsed_s=elapsed):
                        print(line, flush=True)
                    last_print = elapsed
                time.sleep(1.0)
        timeline.advance(1.0, say=notes.append)
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_alive(stack: Stack) -> None:
    dead = stack.dead()
    if dead:
        raise services.ServiceError("; ".join(f"{p.name} exited ({p.popen.returncode}):\n{p.tail()}"
                                              for p in dead))


def stop_previous(var: Path) -> None:
    """What an earlier demo left running (its cloud-ingest and services) is ended first."""
    pid_file = var / "cloud-ingest.pid"
    if pid_file.exists():
        try:
            services.stop_pid(int(pid_file.read_text()), timeout_s=20)
        except ValueError:
            pass
        pid_file.unlink(missing_ok=True)
    services.stop(var)
