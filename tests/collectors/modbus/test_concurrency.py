"""Fifty devices polled at 1 s from one event loop; a slow one and a dead one must not slow the
rest. Rates are compared with the schedule itself (polls per elapsed interval), not with
wall-clock thresholds, so a loaded machine does not make the test flaky."""

from __future__ import annotations

import asyncio
import time

from collectors.supervisor import DeviceSupervisor
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.helpers import device, profile
from tests.support import free_port
from wire.sample import Quality

N_DEVICES = 50
INTERVAL_S = 1.0
RUN_S = 6.0


async def test_fifty_devices_at_one_second_with_a_slow_and_a_dead_one() -> None:
    prof = profile()
    sims = [ModbusSimulator([SimulatedUnit(prof, unit=1, seed=i)], port=0)
            for i in range(N_DEVICES - 1)]
    for sim in sims:
        await sim.start()
    slow = sims[0]
    slow.faults.delay_s = 5.0  # answers far beyond its 1 s timeout
    ports = [s.port for s in sims] + [free_port()]  # the last one: nothing listens (dead)
    sups = [DeviceSupervisor(device(p, id=f"d{i:02d}", timeout_s=1.0), prof, interval_s=INTERVAL_S)
            for i, p in enumerate(ports)]
    polls = {s.device.id: 0 for s in sups}
    good = {s.device.id: 0 for s in sups}

    async def run(sup: DeviceSupervisor) -> None:
        async for batch in sup.samples():
            polls[sup.device.id] += 1
            good[sup.device.id] += all(s.quality is Quality.GOOD for s in batch)

    t0 = time.monotonic()
    tasks = [asyncio.create_task(run(s)) for s in sups]
    try:
        await asyncio.sleep(RUN_S)
    finally:
        elapsed = time.monotonic() - t0
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sim in sims:
            await sim.stop()

    healthy = [f"d{i:02d}" for i in range(1, N_DEVICES - 1)]
    ticks = int(elapsed / INTERVAL_S)  # polls the schedule allows in the time that passed
    counts = sorted(good[d] for d in healthy)
    # every healthy device kept the 1 s rate: all polls good, none skipped (one tick of slack
    # for start-up and for the poll in flight when the run was cut)
    assert counts[0] >= ticks - 1, (ticks, counts)
    assert all(polls[d] == good[d] for d in healthy)
    assert counts[-1] - counts[0] <= 1
    # the slow and the dead device produced only BAD batches, still at the interval
    assert good["d00"] == 0 and good[f"d{N_DEVICES - 1}"] == 0
    assert polls[f"d{N_DEVICES - 1}"] >= ticks - 1
    assert polls["d00"] >= 1
