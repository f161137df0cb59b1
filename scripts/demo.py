"""`make demo`: a whole sample factory, end to end, with the embedded example configs.

device-sim (the devices of examples/gateway.yaml) → edge-agent → Mosquitto → cloud-ingest →
PostgreSQL. It runs for DEMO_SECONDS (default 30), stops the gateway cleanly, waits until the
cloud stored everything the gateway published, and writes a data-connectivity summary
(var/demo/summary.md and .json): per device the samples stored against those expected,
latency from device to database, and the gateway's own counters reconciled against the rows.
cloud-ingest keeps running afterwards so the API can be browsed; `make demo-stop` ends it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cloud_ingest.config import load_config  # noqa: E402
from device_profiles.loader import resolve_profile  # noqa: E402
from edge_agent.buffer import BufferFormatError, DiskBuffer  # noqa: E402
from edge_agent.config import load_gateway_config  # noqa: E402

BIN = Path(sys.executable).parent
VAR = ROOT / "var" / "demo"
GATEWAY = ROOT / "examples" / "gateway.yaml"
CLOUD = ROOT / "examples" / "cloud.yaml"
SECONDS = float(os.environ.get("DEMO_SECONDS", "30"))


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def start(name: str, args: list[str]) -> subprocess.Popen[bytes]:
    log = (VAR / f"{name}.log").open("ab")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)


def ensure_database(dsn: str) -> None:
    url = urlparse(dsn)
    name = url.path.lstrip("/")
    admin = dsn.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            say(f"created database {name}")


def wait_port(host: str, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: the simulator did not open {host}:{port}; see {VAR}") from None
            time.sleep(0.2)


def stop_previous() -> None:
    pid_file = VAR / "cloud-ingest.pid"
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
            time.sleep(1.0)
        except (ProcessLookupError, ValueError, PermissionError):
            pass
        pid_file.unlink()


def main() -> int:
    VAR.mkdir(parents=True, exist_ok=True)
    stop_previous()
    gw = load_gateway_config(GATEWAY)
    cloud = load_config(CLOUD)
    dsn = cloud.dsn()
    ensure_database(dsn)
    subprocess.run([str(BIN / "cloud-ingest"), "migrate", "--config", str(CLOUD)], check=True, cwd=ROOT)

    # The gateway keeps its buffer between demos, as a real one keeps it across restarts: its
    # batch numbers go on, and its counters are cumulative like the rows stored for it.
    buffer_path = ROOT / gw.buffer.path
    try:
        DiskBuffer(buffer_path, max_bytes=gw.buffer.max_bytes).close()
    except BufferFormatError as err:  # left by an older version of the demo
        aside = buffer_path.with_suffix(f".old-{int(time.time())}")
        for part in ("", "-wal", "-shm"):
            old = Path(f"{buffer_path}{part}")
            if old.exists():
                old.rename(f"{aside}{part}")
        say(f"{err}; moved it to {aside.name} (a new buffer is a new stream for the cloud)")

    specs = []
    for dev in gw.devices:
        port = urlparse(dev.endpoint).port
        specs += ["--device", f"{dev.profile}@{port}"]
    sim = start("device-sim", [str(BIN / "device-sim"), "serve", *specs])
    for dev in gw.devices:  # the OPC UA simulator takes a few seconds to build its address space
        wait_port(urlparse(dev.endpoint).hostname or "127.0.0.1", urlparse(dev.endpoint).port or 0)
    # a reviewer token for this demo only; its digest goes in the tokens file, as in production
    token = secrets.token_urlsafe(24)
    tokens = VAR / "api-tokens.yaml"
    tokens.write_text(f"- {{name: demo-reviewer, role: reviewer, "
                      f"token_sha256: {hashlib.sha256(token.encode()).hexdigest()}}}\n")
    os.environ["SFG_API_TOKENS_FILE"] = str(tokens)
    ingest = start("cloud-ingest", [str(BIN / "cloud-ingest"), "serve", "--config", str(CLOUD)])
    (VAR / "cloud-ingest.pid").write_text(str(ingest.pid))
    time.sleep(2.0)
    say(f"simulated devices: {', '.join(d.id for d in gw.devices)}; cloud-ingest consuming")
    agent = start("edge-agent", [str(BIN / "edge-agent"), "run", "--config", str(GATEWAY)])
    started = time.time()
    say(f"edge-agent running for {SECONDS:.0f} s (DEMO_SECONDS to change) ...")
    try:
        time.sleep(SECONDS)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
        duration = time.time() - started
        sim.send_signal(signal.SIGTERM)
        sim.wait(10)

    buf = DiskBuffer(buffer_path, max_bytes=gw.buffer.max_bytes)
    counters = buf.counters()
    buf.close()
    published = sum(c.published for c in counters.devices.values())
    with psycopg.connect(dsn) as conn:
        deadline = time.time() + 30
        while True:
            stored = conn.execute("SELECT count(*) FROM v_samples WHERE gateway = %s",
                                  (gw.gateway.id,)).fetchone()[0]  # type: ignore[index]
            if stored >= published or time.time() > deadline:
                break
            time.sleep(0.5)
        summary = summarize(conn, counters.model_dump(), started=started, duration=duration)
    (VAR / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    (VAR / "summary.md").write_text(render(summary), encoding="utf-8")
    print(render(summary))
    say(f"results: {VAR / 'summary.md'} (and .json); logs in {VAR}")
    api = f"http://{cloud.api.host}:{cloud.api.port}"
    say(f"API and its docs: {api}/docs  (cloud-ingest still running, pid {ingest.pid}; "
        "`make demo-stop` ends it)")
    say(f"reviewer token (this demo only): {token}")
    say(f"try: curl -H 'Authorization: Bearer {token}' "
        f"{api}/api/v1/enterprises/{gw.gateway.enterprise.id}/devices/status")
    return 0 if summary["reconciled"] else 1


def summarize(conn: psycopg.Connection[tuple[object, ...]], counters: dict[str, object], *,
              started: float, duration: float) -> dict[str, object]:
    """This run's completeness and latency (samples read since ``started``), and the
    gateway's cumulative counters reconciled against every row stored for it."""
    cfg = load_gateway_config(GATEWAY)
    devices = []
    for dev in cfg.devices:
        prof = resolve_profile(dev.profile, relative_to=GATEWAY)
        on_change = prof.protocol == "opcua" and dev.options.get("mode", "subscribe") == "subscribe"
        expected = 0.0 if on_change else sum(
            duration * 1000 / (dev.interval_ms or prof.interval_of(t)) for t in prof.tags)
        # Latency counts values produced during the run: an OPC UA subscription first reports
        # each unchanged value with the time it last changed, which is no transport delay.
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE quality = 0), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stored_ts - ts)) "
            "  FILTER (WHERE ts >= to_timestamp(%s)), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM stored_ts - ts)) "
            "  FILTER (WHERE ts >= to_timestamp(%s)) "
            "FROM v_samples WHERE gateway = %s AND device = %s AND read_ts >= to_timestamp(%s)",
            (started, started, cfg.gateway.id, dev.id, started)).fetchone()
        total = conn.execute("SELECT count(*) FROM v_samples WHERE gateway = %s AND device = %s",
                             (cfg.gateway.id, dev.id)).fetchone()
        assert row is not None and total is not None
        c = counters["devices"].get(dev.id, {})  # type: ignore[attr-defined]
        devices.append({
            "device": dev.id, "workshop": dev.workshop, "key_process": dev.key_process,
            "stored": row[0], "good": row[1],
            "expected": "on change 变化上报" if on_change else round(expected),
            "completeness": round(min(1.0, row[0] / expected), 3) if expected else None,
            "latency_p50_s": None if row[2] is None else round(float(row[2]), 3),
            "latency_p95_s": None if row[3] is None else round(float(row[3]), 3),
            "stored_all_runs": total[0],
            "gateway_read": c.get("read", 0), "gateway_published": c.get("published", 0),
            "gateway_dropped": c.get("dropped", {}),
        })
    letters = conn.execute("SELECT count(*) FROM dead_letters WHERE enterprise = %s",
                           (cfg.gateway.enterprise.id,)).fetchone()
    reconciled = all(d["stored_all_runs"] == d["gateway_published"] for d in devices)
    return {"gateway": cfg.gateway.id, "enterprise": cfg.gateway.enterprise.id,
            "duration_s": round(duration, 1), "devices": devices,
            "dead_letters_total": letters[0] if letters else 0, "reconciled": reconciled}


def render(s: dict[str, object]) -> str:
    lines = [
        f"# 数据贯通 demo summary / Data connectivity summary — {s['enterprise']} / {s['gateway']}",
        "",
        f"Run: {s['duration_s']} s.  Reconciled (网关计数与入库一致 / gateway counters = rows stored): "
        f"**{'yes 是' if s['reconciled'] else 'NO 否'}**",
        "",
        "This run / 本次运行:",
        "",
        "| 设备 device | 车间 workshop | 关键工序 key | 入库 stored | 良好 good | 应有 expected "
        "| 完整率 completeness | 时延 p50/p95 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in s["devices"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {d['device']} | {d['workshop'] or '-'} | {'是' if d['key_process'] else '否'} | "
            f"{d['stored']} | {d['good']} | {d['expected']} | {d['completeness']} | "
            f"{d['latency_p50_s']}/{d['latency_p95_s']} |")
    lines += [
        "",
        "时延: 从设备时间戳到入库, 只计本次运行中产生的数值 "
        "(OPC UA 订阅首次上报未变化的值时带其上次变化的时间) / "
        "Latency: device timestamp to stored, for values produced during the run (an OPC UA "
        "subscription first reports an unchanged value with the time it last changed).",
        "",
        "Gateway counters since its buffer was created, against every row stored for it / "
        "网关累计计数与云端入库核对:",
        "",
        "| 设备 device | 网关读取 read | 已发布 published | 丢弃 dropped | 云端入库 stored |",
        "|---|---|---|---|---|",
    ]
    for d in s["devices"]:  # type: ignore[attr-defined]
        lines.append(f"| {d['device']} | {d['gateway_read']} | {d['gateway_published']} | "
                     f"{d['gateway_dropped'] or 0} | {d['stored_all_runs']} |")
    lines += ["", f"Dead letters of this enterprise (拒收消息): {s['dead_letters_total']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
