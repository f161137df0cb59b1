"""Edge pipeline throughput: read → normalize → disk buffer → publish, against no buffer at all.

Three figures, one run, the real Mosquitto on this machine:

1. product: the real `Agent` (group commit into SQLite WAL with synchronous=FULL, sealer,
   sender with QoS 1 and acknowledgement bookkeeping) fed by many virtual devices whose "read"
   yields the energy meter's 16 tags per poll; samples/s from the first read to the last
   broker acknowledgement.
2. baseline: the same samples, JSON-encoded in batches of the same size and published straight
   to the broker with QoS 1, waiting for every PUBACK — no buffer, no normalization.
3. drain: a buffer holding an outage's backlog (1,000,000 samples by default) is drained to
   the broker by the agent; samples/s until the last acknowledgement.

Peak RSS (``rss_mb``) is the agent's own: a child process drains the backlog, then runs the
same live load with devices that make their samples as they are read (the throughput runs
keep every sample made in advance, which is the bench's memory, not the agent's; that
process's peak is ``bench_rss_mb``). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from common.config_files import validate
from device_profiles.loader import resolve_profile
from edge_agent.agent import SWITCH_INTERVAL_S, Agent
from edge_agent.buffer import BatchLimits, DiskBuffer, RowLimits, encode_rows
from edge_agent.config import GatewayConfig
from edge_agent.normalize import Normalizer
from wire.sample import Quality, Sample
from wire.sample_text import sample_json

BATCH = 1000


PROFILE = resolve_profile("energy_meter_3ph")
TAGS = [t.name for t in PROFILE.tags]


def poll(d: int, r: int, *, t0: int) -> list[Sample]:
    """What energy meter ``d`` yields in its poll ``r``: 16 tags."""
    ts = t0 + r * 1000
    return [Sample(f"dev{d:03d}", tag, ts, 230.0 + (r * 7 + i) % 50 / 10, Quality.GOOD, ts + 2)
            for i, tag in enumerate(TAGS)]


def polls(devices: int, rounds: int, *, t0: int) -> list[list[Sample]]:
    """What `devices` energy meters would yield in `rounds` polls, made in advance."""
    return [poll(d, r, t0=t0) for r in range(rounds) for d in range(devices)]


def by_device(feed: list[list[Sample]]) -> list[list[list[Sample]]]:
    per_dev: dict[str, list[list[Sample]]] = {}
    for p in feed:
        per_dev.setdefault(p[0].device, []).append(p)
    return list(per_dev.values())


def reading(d: int, rounds: int, *, t0: int) -> Iterator[list[Sample]]:
    """Device ``d`` making its samples as it is read (the footprint run)."""
    for r in range(rounds):
        yield poll(d, r, t0=t0)


def config(tmp: Path, *, host: str, port: int, uid: str) -> GatewayConfig:
    return validate(GatewayConfig, {
        "gateway": {"id": f"bench-{uid}", "enterprise": {"id": f"bench-{uid}"}},
        "broker": {"host": host, "port": port, "max_inflight": 20},
        "buffer": {"path": str(tmp / "buf.sqlite"), "linger_ms": 20, "batch_max_samples": BATCH,
                   "batch_max_bytes": 1 << 20, "max_bytes": 4 << 30},
        "devices": [{"id": "unused", "profile": "energy_meter_3ph", "endpoint": "tcp://127.0.0.1:1",
                     "enabled": False}],
    }, "bench")


async def run_agent_until_drained(agent: Agent, devices: Sequence[Iterable[list[Sample]]],
                                  samples: int) -> float:
    """Start the agent, feed it ``samples`` samples from concurrent virtual devices, stop when
    all it holds is acknowledged."""
    expected = agent.buffer.backlog_samples() + samples
    task = asyncio.create_task(agent.run())
    async with asyncio.timeout(30):  # a broker that is not there fails the run, not hangs it
        await agent.mqtt.connected.wait()
    t = time.perf_counter()
    if devices:
        dev_cfg = agent.cfg.devices[0]

        async def device(reads: Iterable[list[Sample]]) -> None:
            normalizer = Normalizer(dev_cfg, PROFILE)  # the agent's per-device normalization
            for samples in reads:
                await agent.accept(samples, normalizer)
                await asyncio.sleep(0)  # a real read awaits its I/O: other tasks run meanwhile

        await asyncio.gather(*(device(r) for r in devices))
    # Done when the broker has acknowledged every sample (the agent's own count, so the wait
    # costs nothing) and the acknowledged batches are off the disk; then the buffer must be
    # empty, or the run is not valid.
    while agent.state.published_samples < expected or agent.outbox.in_flight():
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - t
    left = await agent.disk(agent.buffer.backlog_samples)
    if left or agent.committer.staged_samples:
        raise SystemExit(f"invalid run: {left} samples still in the buffer after the last ack")
    agent.stop.set()
    await task
    return elapsed


def baseline(feed: list[list[Sample]], *, host: str, port: int, uid: str) -> float:
    """Straight to the broker: encode batches of the same size, QoS 1, wait for every PUBACK."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-base-{uid}")
    client.max_inflight_messages_set(20)
    client.connect(host, port)
    client.loop_start()
    flat = [s for p in feed for s in p]
    t = time.perf_counter()
    infos = []
    for i in range(0, len(flat), BATCH):
        body = "[" + ",".join(sample_json(s) for s in flat[i:i + BATCH]) + "]"
        head = json.dumps({"v": 1, "type": "data", "seq": i // BATCH + 1})
        payload = head[:-1] + ',"samples":' + body + "}"
        infos.append(client.publish(f"bench/{uid}/baseline", payload, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    elapsed = time.perf_counter() - t
    client.loop_stop()
    client.disconnect()
    return elapsed


def fill_backlog(path: Path, n: int) -> None:
    buf = DiskBuffer(path, max_bytes=8 << 30, synchronous="NORMAL", cache_max_bytes=0)
    t0 = 1_764_000_000_000
    chunk = 10_000
    limits = BatchLimits(max_samples=BATCH, max_bytes=1 << 20)
    for start in range(0, n, chunk):
        samples = [Sample(f"dev{(start + i) // 16 % 50:03d}", TAGS[(start + i) % 16], t0 + start + i,
                          float(i), Quality.GOOD, t0 + start + i) for i in range(min(chunk, n - start))]
        buf.write(encode_rows(samples, RowLimits()))
        while buf.seal(limits, now_ms=t0, max_batches=32):
            pass
    buf.close()


async def footprint(args: argparse.Namespace, uid: str) -> None:
    """The child process: drain the backlog, then the live load made as it is read; prints
    the drain time and this process's peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        fill_backlog(Path(tmp) / "buf.sqlite", args.outage_samples)
        agent = Agent(config(Path(tmp), host=args.host, port=args.port, uid=uid + "d"),
                      Path(tmp) / "gw.yaml")
        drain_s = await run_agent_until_drained(agent, [], 0)
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(config(Path(tmp), host=args.host, port=args.port, uid=uid + "f"),
                      Path(tmp) / "gw.yaml")
        devices = [reading(d, args.rounds, t0=1_764_000_000_000) for d in range(args.devices)]
        live_s = await run_agent_until_drained(agent, list(devices), args.devices * args.rounds * 16)
    print(json.dumps({"drain_s": drain_s, "live_s": live_s, "rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, where there is /proc: ru_maxrss carries a parent's
    peak into a child across fork and exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--devices", type=int, default=100, help="virtual devices read concurrently")
    ap.add_argument("--rounds", type=int, default=300, help="polls per device")
    ap.add_argument("--outage-samples", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each path; the best counts")
    ap.add_argument("--footprint", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    uid = str(int(time.time()))
    # the agent runs with a shorter GIL switch interval; the baseline gets the same (it
    # changes nothing measurable there), so both paths run under one process setting
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if args.footprint:
        await footprint(args, uid)
        return
    feed = polls(args.devices, args.rounds, t0=1_764_000_000_000)
    n = sum(len(p) for p in feed)

    # Alternate the two paths and keep each one's best run: on a shared 2-core machine the
    # best run is the one least disturbed by anything else.
    base_runs, prod_runs = [], []
    for r in range(args.repeat):
        base_runs.append(baseline(feed, host=args.host, port=args.port, uid=f"{uid}-{r}"))
        with tempfile.TemporaryDirectory() as tmp:
            agent = Agent(config(Path(tmp), host=args.host, port=args.port, uid=f"{uid}-{r}"),
                          Path(tmp) / "gw.yaml")
            prod_runs.append(await run_agent_until_drained(agent, by_device(feed), n))
    base_s, prod_s = min(base_runs), min(prod_runs)
    bench_rss_mb = peak_rss_mb()
    del feed
    child = subprocess.run([sys.executable, __file__, "--footprint", *sys.argv[1:]],
                           capture_output=True, text=True, check=True)
    agent_run = json.loads(child.stdout.strip().splitlines()[-1])

    result = {
        "bench": "edge_pipeline",
        "samples": n,
        "samples_per_s": round(n / prod_s),
        "baseline_samples_per_s": round(n / base_s),
        "ratio": round(base_s / prod_s, 3),
        "runs_s": {"product": [round(x, 3) for x in prod_runs],
                   "baseline": [round(x, 3) for x in base_runs]},
        "outage_samples": args.outage_samples,
        "drain_samples_per_s": round(args.outage_samples / agent_run["drain_s"]),
        "rss_mb": round(agent_run["rss_mb"], 1),
        "bench_rss_mb": round(bench_rss_mb, 1),
    }
    print(f"product  (read→normalize→buffer→publish): {result['samples_per_s']:>9,} samples/s")
    print(f"baseline (publish straight, no buffer):   {result['baseline_samples_per_s']:>9,} samples/s")
    print(f"ratio product/baseline: {result['ratio']}  (target ≥ 0.5)")
    print(f"backlog drain of {args.outage_samples:,} samples: {result['drain_samples_per_s']:,} samples/s "
          "(target ≥ 20,000)")
    print(f"peak RSS of the agent (drain, then the live load): {result['rss_mb']} MB "
          f"(this process, holding the samples made in advance: {result['bench_rss_mb']} MB)")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
