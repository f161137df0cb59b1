"""Reconnects: a simulator restarted in the middle of a run and a network that stops
forwarding for longer than the session timeout. The gateway's own supervisor (the one the edge
agent runs every device under) must mark the gap as device offline, reconnect with backoff,
recreate the subscription and carry on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from collectors.opcua.collector import OpcUaCollector
from collectors.supervisor import DeviceSupervisor
from common.backoff import Backoff
from device_profiles.opcua import OpcUaProfile
from simulators.opcua.server import OpcUaSimulator
from tests.collectors.opcua.conftest import device
from tests.collectors.opcua.proxy import CuttableProxy
from tests.support import eventually_async, free_port
from wire.sample import Quality, Sample

pytestmark = pytest.mark.asyncio(loop_scope="module")


def small(profile: OpcUaProfile) -> OpcUaProfile:
    return profile.model_copy(update={"tags": [t for t in profile.tags if t.name in ("speed", "count")]})


class Run:
    """Drives the supervisor in a task, so the test can wait on what it yields."""

    def __init__(self, collector: OpcUaCollector, backoff: Backoff) -> None:
        self.batches: list[list[Sample]] = []
        self.sup = DeviceSupervisor(collector.device, collector.profile,
                                    factory=lambda d, p: collector, backoff=backoff, interval_s=0.2)
        self._task = asyncio.create_task(self._drive(self.sup.samples()))

    async def _drive(self, it: AsyncIterator[list[Sample]]) -> None:
        async for batch in it:
            self.batches.append(batch)

    async def wait(self, pred: Callable[[Run], object], *, timeout: float = 60.0,
                   what: str = "the supervisor's batches") -> None:
        await eventually_async(lambda: pred(self), timeout=timeout, what=what)

    async def first_batch(self, pred: Callable[[list[Sample]], bool], *, after: int = 0) -> list[Sample]:
        await self.wait(lambda r: any(pred(b) for b in r.batches[after:]),
                        what=f"a batch that is {pred.__name__} after batch {after}")
        return next(b for b in self.batches[after:] if pred(b))

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def offline(batch: list[Sample]) -> bool:
    return bool(batch) and all(
        s.quality is Quality.BAD and (s.reason or "").startswith("device offline") for s in batch
    )


def good_count(batch: list[Sample]) -> bool:
    return any(s.tag == "count" and s.quality is Quality.GOOD for s in batch)


async def test_simulator_restart_mid_run_is_an_offline_gap_then_data_again(
    basic_profile: OpcUaProfile,
) -> None:
    profile = small(basic_profile)
    port = free_port()
    sim = OpcUaSimulator(profile, port=port)
    await sim.start()
    restarted = OpcUaSimulator(profile, port=port, pki_dir=sim.pki_dir)
    collector = OpcUaCollector(device(sim.endpoint), profile)
    run = Run(collector, Backoff(initial_s=0.2, max_s=1.0))
    try:
        await run.first_batch(good_count)
        await sim.stop()
        gap = await run.first_batch(offline)
        mark = len(run.batches)
        await restarted.start()
        after = await run.first_batch(good_count, after=mark)
    finally:
        await run.stop()
        await restarted.stop()
        await sim.stop()
        sim.close()
    assert {s.tag for s in gap} == {"speed", "count"}
    assert all(s.ts >= gap[0].ts for s in after)
    assert run.sup.reconnects == 1 and run.sup.failures >= 1 and run.sup.state == "online"
    # the gap is evidence: offline samples for every tag, then the subscription's data again
    first_gap = next(i for i, b in enumerate(run.batches) if offline(b))
    assert not any(offline(b) for b in run.batches[first_gap + 1:][-1:])


async def test_network_blackhole_past_session_timeout_reconnects(basic_profile: OpcUaProfile) -> None:
    profile = small(basic_profile)
    sim = OpcUaSimulator(profile, port=free_port())
    await sim.start()
    proxy = CuttableProxy(sim.port)
    await proxy.start()
    collector = OpcUaCollector(
        device(proxy.endpoint, timeout_s=1.0, session_timeout_s=1.0, watchdog_s=0.5, connect_timeout_s=2.0),
        profile,
    )
    run = Run(collector, Backoff(initial_s=0.2, max_s=0.5))
    try:
        await run.first_batch(good_count)
        proxy.blackhole = True
        gap = await run.first_batch(offline)
        # keep the link dead until reconnect attempts have failed too: by then the server has
        # expired the session, so the collector must build a new one rather than resume
        await run.wait(lambda r: r.sup.failures >= 3, what="three failed reconnects")
        mark = len(run.batches)
        proxy.blackhole = False
        after = await run.first_batch(good_count, after=mark)
    finally:
        await run.stop()
        await proxy.stop()
        await sim.stop()
        sim.close()
    assert gap[0].reason is not None and "device plc1" in gap[0].reason
    assert any(s.quality is Quality.GOOD for s in after)
    assert run.sup.reconnects == 1


async def test_session_expired_by_the_server_is_rebuilt(basic_profile: OpcUaProfile) -> None:
    """The server drops our session (its session timeout) while TCP stays up."""
    profile = small(basic_profile)
    sim = OpcUaSimulator(profile, port=free_port())
    await sim.start()
    collector = OpcUaCollector(device(sim.endpoint, watchdog_s=0.5), profile)
    run = Run(collector, Backoff(initial_s=0.2, max_s=0.5))
    try:
        await run.first_batch(good_count)
        assert await sim.expire_sessions() == 1
        gap = await run.first_batch(offline)
        mark = len(run.batches)
        after = await run.first_batch(good_count, after=mark)
    finally:
        await run.stop()
        await sim.stop()
        sim.close()
    assert "plc1" in (gap[0].reason or "")
    assert any(s.quality is Quality.GOOD for s in after)
    assert run.sup.reconnects == 1
