"""OPC UA subscriptions vs batched-Read polling: what the gateway pays per 1,000 samples.

    python bench/opcua_subscribe.py [--items 5000] [--seconds 10] [--publish-ms 1000]

The simulator runs in its own process (this script with ``--serve-sim``) and serves
``--items`` UInt32 counters that each change once per second. In the same run the gateway
(this process) collects them twice, one phase after the other, each for ``--seconds``:

- **subscribe** (the product): one subscription, one monitored item per node, sampling
  1 s, notifications delivered as they come;
- **baseline**: the same collector in poll mode, a batched Read of every node once per second.

Both deliver about ``items`` samples per second; the figures compare gateway CPU seconds per
1,000 samples delivered (``cpu_s_per_1k`` vs ``baseline_cpu_s_per_1k``, process user+system
time), throughput and peak RSS. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from bench_support import free_port, stop, wait_port

from collectors.opcua.collector import OpcUaCollector
from device_profiles.device import DeviceConfig
from device_profiles.opcua import OpcUaProfile


def make_profile(items: int) -> OpcUaProfile:
    return OpcUaProfile.model_validate({
        "profile": "bench_opcua", "protocol": "opcua", "namespaces": ["urn:bench"],
        "default_interval_ms": 1000,
        "defaults": {"mode": "subscribe", "publishing_interval_ms": 1000, "read_batch_size": 1000},
        "tags": [{"name": f"c{i}", "node_id": f"ns=2;i={i + 1}", "type": "UInt32",
                  "sim": {"kind": "counter", "rate_per_s": 1.0, "value": float(i)}} for i in range(items)],
    })


async def serve_sim(port: int, items: int) -> None:
    from simulators.opcua.server import OpcUaSimulator  # the child process only

    sim = OpcUaSimulator(make_profile(items), port=port, tick_s=0.25)
    async with sim:
        print("READY", flush=True)
        await asyncio.Event().wait()


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def phase(endpoint: str, profile: OpcUaProfile, *, mode: str, seconds: float,
                publish_ms: int) -> dict[str, float]:
    dev = DeviceConfig(id="bench", profile="bench", endpoint=endpoint, timeout_s=30,
                       options={"mode": mode, "publishing_interval_ms": publish_ms, "poll_interval_ms": 1000,
                                "connect_timeout_s": 60})
    async with OpcUaCollector(dev, profile) as c:
        it = c.subscribe()
        await anext(it)  # subscription created / first poll done: measure the steady state only
        count, good = 0, 0
        cpu0, t0 = cpu_s(), time.monotonic()
        while (elapsed := time.monotonic() - t0) < seconds:
            batch = await anext(it)
            count += len(batch)
            good += sum(1 for s in batch if s.quality == 0)
        cpu = cpu_s() - cpu0
        await it.aclose()  # type: ignore[attr-defined]
    return {"samples": count, "good": good, "seconds": elapsed, "cpu_s": cpu}


async def run(args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    sim = subprocess.Popen([sys.executable, __file__, "--serve-sim", str(port), "--items", str(args.items)],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(sim.stdout.readline), 300)
        if "READY" not in line:
            raise RuntimeError("simulator did not start")
        await wait_port(port)
        endpoint = f"opc.tcp://127.0.0.1:{port}"
        profile = make_profile(args.items)
        pub = args.publish_ms
        sub = await phase(endpoint, profile, mode="subscribe", seconds=args.seconds, publish_ms=pub)
        base = await phase(endpoint, profile, mode="poll", seconds=args.seconds, publish_ms=pub)
    finally:
        stop(sim)
    per_1k = sub["cpu_s"] / max(sub["samples"], 1) * 1000
    base_per_1k = base["cpu_s"] / max(base["samples"], 1) * 1000
    return {
        "bench": "opcua_subscribe",
        "items": args.items,
        "seconds": args.seconds,
        "samples_per_s": round(sub["samples"] / sub["seconds"], 1),
        "baseline_samples_per_s": round(base["samples"] / base["seconds"], 1),
        "cpu_s_per_1k": round(per_1k, 4),
        "baseline_cpu_s_per_1k": round(base_per_1k, 4),
        "cpu_ratio": round(base_per_1k / per_1k, 2) if per_1k else None,
        "good_fraction": round((sub["good"] + base["good"]) / max(sub["samples"] + base["samples"], 1), 4),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=int(os.environ.get("SFG_BENCH_OPCUA_ITEMS", "5000")))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--publish-ms", type=int, default=1000)
    ap.add_argument("--serve-sim", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_sim is not None:
        try:
            asyncio.run(serve_sim(args.serve_sim, args.items))
        except KeyboardInterrupt:
            pass
        return
    with tempfile.TemporaryDirectory():
        result = asyncio.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
