"""Requests per poll and poll cycle time for many Modbus tags: planned reads vs one per tag.

    python bench/modbus_requests.py [--tags 1000] [--polls 5] [--latency-ms 0] [--max-gap 10]

The simulator runs as a separate ``device-sim`` process on a loopback port, serving a
generated profile: holding and input registers of mixed widths (uint16, int16, float32,
uint32) with small holes between groups, plus coils, like a PLC-fed register map. Both runs use
the same collector; the baseline only sets max_gap=0 and max_block=1 so every tag is its own
request, which is what a naive poller does. ``--latency-ms`` makes the simulator wait before
each answer, to mimic a serial line or a slow device (where merging matters most).

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from bench_support import free_port, stop, wait_port

from collectors.modbus import ModbusCollector
from device_profiles.device import DeviceConfig
from device_profiles.loader import load_profile
from wire.sample import Quality


def make_profile(n_tags: int) -> dict[str, Any]:
    """A register map of ``n_tags`` tags: groups of 8 contiguous tags, a 3-register hole after
    each group, 70% holding / 20% input registers, 10% coils."""
    widths = [("uint16", 1), ("int16", 1), ("float32", 2), ("uint32", 2)]
    addr = {"holding": 0, "input": 0, "coil": 0}
    tags = []
    for i in range(n_tags):
        table = "coil" if i % 10 == 9 else ("input" if i % 10 >= 7 else "holding")
        if table == "coil":
            tags.append({"name": f"t{i}", "table": "coil", "address": addr["coil"], "type": "bool",
                         "sim": {"kind": "toggle", "period_s": 2 + i % 5}})
            addr["coil"] += 1
            continue
        typ, width = widths[i % 4]
        tags.append({"name": f"t{i}", "table": table, "address": addr[table], "type": typ,
                     "scale": 0.1 if typ in ("int16", "uint16") else 1.0,
                     "sim": {"kind": "sine", "value": 100 + i % 50, "amplitude": 5, "period_s": 30}})
        addr[table] += width
        if i % 8 == 7:
            addr[table] += 3
    return {"profile": "bench_modbus", "protocol": "modbus", "tags": tags}


async def measure(profile_path: Path, port: int, *, polls: int, options: dict[str, int]) -> dict[str, float]:
    profile = load_profile(profile_path)
    dev = DeviceConfig(id="bench", profile=str(profile_path), endpoint=f"tcp://127.0.0.1:{port}",
                       timeout_s=10, options=options)
    async with ModbusCollector(dev, profile) as c:
        await c.read()  # warm-up: connection, planning
        sent0, good, t0 = c.requests_sent, 0, time.perf_counter()
        for _ in range(polls):
            good += sum(s.quality is Quality.GOOD for s in await c.read())
        elapsed = time.perf_counter() - t0
        per_poll = (c.requests_sent - sent0) / polls
    total = polls * len(profile.tags)
    return {"requests_per_poll": per_poll, "cycle_s": elapsed / polls, "good_fraction": good / total}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--polls", type=int, default=5)
    ap.add_argument("--baseline-polls", type=int, default=None, help="default: same as --polls")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="simulated device answer delay")
    ap.add_argument("--max-gap", type=int, default=10, help="planner max gap (registers)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_modbus.yaml"
        path.write_text(yaml.safe_dump(make_profile(args.tags)))
        port = free_port()
        cmd = [sys.executable, "-m", "simulators.cli", "modbus", "--profile", str(path), "--port", str(port),
               "--delay-ms", str(args.latency_ms)]
        sim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            await wait_port(port)
            planned = await measure(path, port, polls=args.polls,
                                    options={"max_gap_registers": args.max_gap})
            baseline = await measure(path, port, polls=args.baseline_polls or args.polls, options={
                "max_gap_registers": 0, "max_block_registers": 1, "max_gap_bits": 0, "max_block_bits": 1})
        finally:
            stop(sim)
    print(f"tags: {args.tags}, latency per answer: {args.latency_ms} ms")
    print(f"planned : {planned['requests_per_poll']:7.1f} requests/poll, "
          f"{planned['cycle_s']*1000:8.1f} ms/poll")
    print(f"baseline: {baseline['requests_per_poll']:7.1f} requests/poll, "
          f"{baseline['cycle_s']*1000:8.1f} ms/poll (one request per tag)")
    result = {
        "bench": "modbus_requests", "tags": args.tags, "polls": args.polls, "latency_ms": args.latency_ms,
        "requests_per_poll": planned["requests_per_poll"],
        "baseline_requests_per_poll": baseline["requests_per_poll"],
        "cycle_s": round(planned["cycle_s"], 5), "baseline_cycle_s": round(baseline["cycle_s"], 5),
        "request_ratio": round(baseline["requests_per_poll"] / planned["requests_per_poll"], 2),
        "speedup": round(baseline["cycle_s"] / planned["cycle_s"], 2),
        "good_fraction": min(planned["good_fraction"], baseline["good_fraction"]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
