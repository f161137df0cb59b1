"""The gateway at scale, through the real path: device-sim (Modbus TCP) → edge-agent → Mosquitto.

    python bench/edge_scale.py [--devices 10] [--registers 1000] [--interval-ms 1000]
                               [--duration 12] [--rounds 2] [--pin] [--cloud]

One device-sim process serves ``--devices`` devices of ``--registers`` holding registers each
(one 16-bit tag a register, so a poll is ``--registers`` points). Two pollers read them in turn,
baseline, agent, baseline, … ``--rounds`` agent runs, each between two baseline runs (the
machine's speed drifts within minutes: a ratio is taken against the baselines either side of
its agent run, and ``cpu_ratio`` is the median of those), each for ``--duration`` seconds after
a warm-up, each in a process of its own so its CPU time and memory are its own. With ``--pin``
(two cores or more) the pollers get the last core to themselves and the simulator (and this
process, which watches the broker) the others, so that a poller does not share a core with
the simulator answering it (the agent's CPU falls more than the baseline's: see
bench/README.md); the default shares the cores, as the earlier figures did:

1. baseline: the same register blocks the agent's request planner makes, read with pymodbus in
   a plain loop per device at the same interval and thrown away — the protocol cost alone;
2. product: ``edge-agent run`` with the same devices: decode, normalize, buffer to disk
   (SQLite, synchronous=FULL), publish with QoS 1 to the broker on this machine.

The agent runs on its default loop (``--event-loop auto``: uvloop where installed), the
baseline on asyncio's own (``--baseline-loop``: uvloop as well shows how much of the figure is
the faster loop rather than the agent's own work).

Figures: points/s read; CPU seconds per 1,000 points of each, all runs together and run by run,
and their ratio (``cpu_ratio`` = agent ÷ baseline, the median of the rounds'; ``cpu_ratios``
each round's); the agent's peak RSS (the highest of its runs); its skipped polls (its own
counter, from /metrics) and the polls missing from what reached the broker
(``missed_polls_seen``, counted by the bench, so an agent without the counter is measured
too); latency read → published (the bench subscribes and takes each sample's read time from
its arrival time); with ``--cloud``, also read → stored: ``cloud-ingest serve`` runs on a
database of its own each round and each stored row's stored time (the ledger's, per batch)
minus its read time is taken. Latencies pool every round's. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from bench_support import free_port, stop, wait_port
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from common import event_loop
from common.event_loop import EventLoop, chosen

TICK = os.sysconf("SC_CLK_TCK")


def make_profile(registers: int) -> dict[str, Any]:
    """``registers`` holding registers, one tag each (uint16 scaled, int16), no holes."""
    tags = [{"name": f"r{i}", "table": "holding", "address": i,
             "type": "uint16" if i % 2 else "int16", "scale": 0.1,
             "sim": {"kind": "sine", "value": 100 + i % 50, "amplitude": 5, "period_s": 30}}
            for i in range(registers)]
    return {"profile": "bench_scale", "protocol": "modbus", "tags": tags}


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the baseline: a bare pymodbus poller (its own process) --------------------------------------

async def _baseline_child(args: argparse.Namespace) -> None:
    from pymodbus.client import AsyncModbusTcpClient

    from collectors.modbus.collector import profile_limits
    from collectors.modbus.planner import Plan
    from device_profiles.loader import load_profile

    prof = load_profile(Path(args.profile))
    plan = Plan.build(prof.tags, limits=profile_limits(prof))  # type: ignore[arg-type]
    blocks = [(r.start, r.count) for r in plan.requests]
    interval = args.interval_ms / 1000
    counts = {"polls": 0}
    measuring = {"on": False}

    async def device(port: int, phase: float) -> None:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=10)
        await client.connect()
        next_tick = time.monotonic() + phase
        while True:
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            for start, count in blocks:
                rr = await client.read_holding_registers(start, count=count, device_id=1)
                _ = rr.registers  # thrown away
            if measuring["on"]:
                counts["polls"] += 1
            next_tick += interval
            if next_tick < time.monotonic():
                next_tick = time.monotonic()

    ports = [int(p) for p in args.ports.split(",")]
    tasks = [asyncio.create_task(device(p, i * interval / len(ports))) for i, p in enumerate(ports)]
    await asyncio.sleep(args.warmup)
    measuring["on"], c0, t0 = True, time.process_time(), time.monotonic()
    await asyncio.sleep(args.duration)
    cpu, wall, polls = time.process_time() - c0, time.monotonic() - t0, counts["polls"]
    for t in tasks:
        t.cancel()
    print(json.dumps({"cpu_s": cpu, "wall_s": wall, "points": polls * len(prof.tags),
                      "rss_mb": peak_rss_mb(os.getpid())}))


def _cores(pin: bool) -> tuple[set[int], set[int]]:
    """(the cores the measured pollers run on, the cores for everything else): with ``pin``
    and at least two cores, the last one for the pollers; else every core for all (and no
    others)."""
    cores = os.sched_getaffinity(0)
    if not pin or len(cores) < 2:
        return cores, set()
    last = max(cores)
    return {last}, cores - {last}


def _started_on(cores: set[int], cmd: list[str], **popen: Any) -> subprocess.Popen[Any]:
    """``cmd`` started and moved to ``cores`` (by its pid, from here: no preexec_fn in a
    process with threads); it is there long before its warm-up ends."""
    proc = subprocess.Popen(cmd, **popen)
    os.sched_setaffinity(proc.pid, cores)
    return proc


def _sum(*runs: dict[str, Any]) -> dict[str, Any]:
    """Runs of one poller as one: CPU, time and points added, the highest peak RSS."""
    total = {k: sum(r[k] for r in runs) for k in ("cpu_s", "wall_s", "points")}
    total["rss_mb"] = max(r["rss_mb"] for r in runs)
    for k in ("skipped_polls", "missed_polls_seen", "read_errors"):
        if k in runs[0]:
            vals = [r[k] for r in runs]
            total[k] = None if None in vals else sum(vals)
    return total


def per_1k(run: dict[str, Any]) -> float:
    """CPU seconds per 1,000 points read."""
    return run["cpu_s"] / (run["points"] / 1000) if run["points"] else float("nan")


def run_baseline(args: argparse.Namespace, profile: Path, ports: list[int],
                 cores: set[int]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--baseline-child", "--profile", str(profile),
           "--ports", ",".join(map(str, ports)), "--interval-ms", str(args.interval_ms),
           "--duration", str(args.duration), "--warmup", str(args.warmup),
           "--baseline-loop", args.baseline_loop]
    proc = _started_on(cores, cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, out, err)
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- the product: edge-agent run, watched from outside ------------------------------------------

class Watcher:
    """Subscribes to the gateway's data topic: read → published latency, polls that arrived."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        self.latency_ms: list[float] = []
        self.polls: dict[str, set[int]] = {}
        self.on = False
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-watch-{os.getpid()}")
        self.client.on_message = self._message
        self.client.connect(host, port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def _message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        now = time.time() * 1000
        if not self.on:
            return
        body = json.loads(msg.payload)
        with self._lock:
            for s in body.get("samples", []):
                # a block (good samples read together) stands for one sample a value
                times = [now - s["rt"]] * (len(s["values"]) if "values" in s else 1)
                self.latency_ms += times
                self.polls.setdefault(s["d"], set()).add(s["ts"])

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Cloud:
    """``cloud-ingest serve`` (no API) on a fresh database, consuming the gateway's topics."""

    def __init__(self, args: argparse.Namespace, tmp: Path, enterprise: str) -> None:
        import psycopg

        from cloud_ingest import migrate

        self.admin, self.name = args.admin_dsn, f"sfg_scale_{os.getpid()}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"'.encode())
            conn.execute(f'CREATE DATABASE "{self.name}"'.encode())
        self.dsn = self.admin.rpartition("/")[0] + "/" + self.name
        migrate.migrate(self.dsn)
        cfg = tmp / "cloud.yaml"
        cfg.write_text(json.dumps({
            "database": {"dsn": self.dsn},
            "mqtt": {"host": args.host, "port": args.port, "client_id": f"scale-cloud-{os.getpid()}",
                     "topic_filter": f"shopfloor/v1/{enterprise}/+/+"}}))
        self.log = tmp / "cloud.log"
        self.proc = subprocess.Popen([sys.executable, "-c", "from cloud_ingest.cli import main; main()",
                                      "serve", "--no-api", "--config", str(cfg)],
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))
        deadline = time.monotonic() + 60
        while "consuming" not in self.log.read_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"cloud-ingest did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def stored_latency_ms(self, *, since_ms: float, until_ms: float) -> list[float]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT extract(epoch FROM stored_ts - read_ts) * 1000 FROM v_samples"
                " WHERE read_ts >= to_timestamp(%s / 1000.0) AND read_ts < to_timestamp(%s / 1000.0)",
                (since_ms, until_ms)).fetchall()
        return [float(r[0]) for r in rows]

    def close(self) -> None:
        import psycopg

        stop(self.proc)
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'.encode())


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    total: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in ("edge_device_read_samples_total", "edge_device_skipped_polls_total",
                          "edge_device_read_errors_total", "edge_published_samples_total"):
                total[s.name] = total.get(s.name, 0.0) + s.value
    return total


async def run_agent(args: argparse.Namespace, tmp: Path, profile: Path, ports: list[int],
                    cores: set[int]) -> dict[str, Any]:
    tmp.mkdir()
    uid = f"scale{os.getpid()}{tmp.name}"  # each run a gateway, buffer and topic of its own
    metrics_port = free_port()
    cfg = {
        "gateway": {"id": uid, "enterprise": {"id": uid}},
        "broker": {"host": args.host, "port": args.port},
        "buffer": {"path": str(tmp / "buf.sqlite")},
        "metrics_port": metrics_port,
        "event_loop": args.event_loop,
        "devices": [{"id": f"dev{i:03d}", "profile": str(profile), "endpoint": f"tcp://127.0.0.1:{p}",
                     "interval_ms": args.interval_ms, "timeout_s": 5} for i, p in enumerate(ports)],
    }
    (tmp / "gw.yaml").write_text(yaml.safe_dump(cfg))
    cloud = Cloud(args, tmp, uid) if args.cloud else None
    watcher = Watcher(args.host, args.port, f"shopfloor/v1/{uid}/{uid}/data")
    proc = _started_on(cores, [sys.executable, "-c", "from edge_agent.cli import main; main()",
                               "run", "--config", str(tmp / "gw.yaml")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await wait_port(metrics_port, timeout=30)
        await asyncio.sleep(args.warmup)
        watcher.on = True
        m0, c0, t0, w0 = scrape(metrics_port), cpu_s(proc.pid), time.monotonic(), time.time() * 1000
        await asyncio.sleep(args.duration)
        m1, c1, t1, w1 = scrape(metrics_port), cpu_s(proc.pid), time.monotonic(), time.time() * 1000
        watcher.on = False
        rss = peak_rss_mb(proc.pid)
        stored: list[float] | None = None
        if cloud is not None:
            await asyncio.sleep(3)  # what was read in the window reaches the database
            stored = cloud.stored_latency_ms(since_ms=w0, until_ms=w1)
    finally:
        stop(proc)
        watcher.close()
        if cloud is not None:
            cloud.close()
    points = m1.get("edge_device_read_samples_total", 0) - m0.get("edge_device_read_samples_total", 0)
    wall = t1 - t0
    expected_polls = wall / (args.interval_ms / 1000)
    # a poll's samples carry the read time of their request: a new poll is a jump of more
    # than half an interval in a device's sorted read times
    seen = [1 + sum(b - a > args.interval_ms / 2 for a, b in itertools.pairwise(sorted(v)))
            for v in watcher.polls.values()]
    missed = sum(max(0.0, expected_polls - n - 1) for n in seen) + expected_polls * (len(ports) - len(seen))
    def grew(name: str) -> float | None:  # None: this agent has no such counter
        return m1[name] - m0.get(name, 0) if name in m1 else None

    return {"cpu_s": c1 - c0, "wall_s": wall, "points": points, "rss_mb": rss,
            "skipped_polls": grew("edge_device_skipped_polls_total"),
            "missed_polls_seen": round(missed), "latency_ms": watcher.latency_ms, "stored_ms": stored,
            "read_errors": grew("edge_device_read_errors_total")}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--registers", type=int, default=1000, help="registers (= points) per device")
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=12.0, help="seconds measured, per run")
    ap.add_argument("--rounds", type=int, default=2,
                    help="agent runs, each between two baseline runs; cpu_ratio is their median")
    ap.add_argument("--pin", action="store_true",
                    help="give the pollers a core of their own, the simulator the others")
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--event-loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                    help="the agent's event_loop setting (auto: uvloop where installed)")
    ap.add_argument("--baseline-loop", choices=["asyncio", "uvloop"], default="asyncio",
                    help="the loop the bare poller runs on (asyncio: the plain reader the ratio is against)")
    ap.add_argument("--cloud", action="store_true", help="also run cloud-ingest: read → stored latency")
    ap.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--baseline-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", help=argparse.SUPPRESS)
    ap.add_argument("--ports", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_child:
        await _baseline_child(args)
        return
    pollers, others = _cores(args.pin)
    if others:
        os.sched_setaffinity(0, others)  # the bench's watcher and the simulator it starts
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        profile = tmp / "bench_scale.yaml"
        profile.write_text(yaml.safe_dump(make_profile(args.registers)))
        ports = [free_port() for _ in range(args.devices)]
        sim = subprocess.Popen([sys.executable, "-m", "simulators.cli", "modbus",
                                *[a for p in ports for a in ("--device", f"{profile}@{p}")]],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for p in ports:
                await wait_port(p, timeout=60)
            # baseline, agent, baseline, agent, …, baseline: the machine's speed drifts within
            # minutes, so each agent run is set against the baselines either side of it, and
            # the figure is the median of those ratios, not one run's
            bases = [await asyncio.to_thread(run_baseline, args, profile, ports, pollers)]
            agents: list[dict[str, Any]] = []
            for r in range(args.rounds):
                agents.append(await run_agent(args, tmp / f"round{r}", profile, ports, pollers))
                bases.append(await asyncio.to_thread(run_baseline, args, profile, ports, pollers))
        finally:
            stop(sim)
    lat = [x for a in agents for x in a.pop("latency_ms")]
    stored_runs = [a.pop("stored_ms") for a in agents]
    stored = None if stored_runs[0] is None else [x for run in stored_runs for x in run or []]
    ratios = [round(per_1k(a) / per_1k(_sum(bases[i], bases[i + 1])), 2) for i, a in enumerate(agents)]
    agent, base = _sum(*agents), _sum(*bases)
    a_per_1k, b_per_1k = per_1k(agent), per_1k(base)
    runs_per_1k = [round(per_1k(b), 5) for b in bases]
    result = {
        "bench": "edge_scale", "devices": args.devices, "registers": args.registers,
        "agent_event_loop": chosen(args.event_loop), "baseline_event_loop": args.baseline_loop,
        "interval_ms": args.interval_ms, "duration_s": args.duration,
        "points_per_s": round(agent["points"] / agent["wall_s"]),
        "baseline_points_per_s": round(base["points"] / base["wall_s"]),
        "agent_cpu_s_per_1k": round(a_per_1k, 5), "baseline_cpu_s_per_1k": round(b_per_1k, 5),
        "agent_runs_cpu_s_per_1k": [round(per_1k(a), 5) for a in agents],
        "baseline_runs_cpu_s_per_1k": runs_per_1k,
        "cpu_ratio": round(statistics.median(ratios), 2), "cpu_ratios": ratios,
        "pinned": {"pollers": sorted(pollers), "others": sorted(others)} if others else None,
        "rss_mb": round(agent["rss_mb"], 1), "baseline_rss_mb": round(base["rss_mb"], 1),
        "skipped_polls": agent["skipped_polls"], "missed_polls_seen": agent["missed_polls_seen"],
        "read_errors": agent["read_errors"],
        "latency_ms": {"read_to_published": {
            "p50": round(percentile(lat, 0.5), 1), "p95": round(percentile(lat, 0.95), 1),
            "p99": round(percentile(lat, 0.99), 1), "mean": round(statistics.fmean(lat), 1) if lat else None,
            "samples": len(lat)}},
    }
    if stored is not None:
        result["latency_ms"]["read_to_stored"] = {
            "p50": round(percentile(stored, 0.5), 1), "p95": round(percentile(stored, 0.95), 1),
            "p99": round(percentile(stored, 0.99), 1), "samples": len(stored)}
    print(f"{args.devices} devices × {args.registers} registers every {args.interval_ms} ms")
    print(f"agent   : {result['points_per_s']:>8,} points/s, "
          f"{result['agent_cpu_s_per_1k']:.4f} CPU-s/1k points, peak RSS {result['rss_mb']} MB "
          f"({result['agent_event_loop']} loop)")
    print(f"baseline: {result['baseline_points_per_s']:>8,} points/s, {result['baseline_cpu_s_per_1k']:.4f} "
          f"CPU-s/1k points ({args.baseline_loop} loop, reads thrown away; runs either side of the "
          "agent's: " + " / ".join(f"{v:.4f}" for v in runs_per_1k) + ")")
    print(f"cpu_ratio {result['cpu_ratio']} (median of {ratios}; target ≤ 2), "
          f"skipped polls {result['skipped_polls']}, "
          f"missed polls seen at the broker {result['missed_polls_seen']}")
    rp = result["latency_ms"]["read_to_published"]
    print(f"read → published: p50 {rp['p50']} ms, p95 {rp['p95']} ms, p99 {rp['p99']} ms")
    if stored is not None:
        rs = result["latency_ms"]["read_to_stored"]
        print(f"read → stored:    p50 {rs['p50']} ms, p95 {rs['p95']} ms, p99 {rs['p99']} ms")
    print(json.dumps(result))


def _this_process_loop(argv: list[str]) -> EventLoop:
    """The baseline child runs on the loop it is given; the bench itself on asyncio's."""
    if "--baseline-child" in argv and "--baseline-loop" in argv:
        return "uvloop" if argv[argv.index("--baseline-loop") + 1] == "uvloop" else "asyncio"
    return "asyncio"


if __name__ == "__main__":
    event_loop.run(main(), kind=_this_process_loop(sys.argv))
