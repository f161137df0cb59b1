"""Misbehaving devices: every fault the simulator injects, what the collector reports, and
that the supervisor recovers without a restart once the fault clears."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from collectors.base import DeviceUnreachable
from collectors.modbus import ModbusCollector
from collectors.supervisor import DeviceSupervisor
from common.backoff import Backoff
from simulators.modbus.server import ModbusSimulator
from tests.collectors.modbus.helpers import device, profile, running_sim
from tests.support import eventually_async
from wire.sample import Quality, Sample


async def _until(it: AsyncIterator[list[Sample]], quality: Quality, limit: int = 200) -> list[Sample]:
    for _ in range(limit):
        batch = await anext(it)
        if all(s.quality is quality for s in batch):
            return batch
    raise AssertionError(f"no all-{quality.name} batch within {limit} polls")


async def test_silent_device_times_out_as_unreachable() -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port, timeout_s=0.3), prof) as c:
        sim.faults.silent = True
        with pytest.raises(DeviceUnreachable, match=r"dev1 .*no answer within 0.3s"):
            await c.read()


async def test_slow_device_within_timeout_is_still_read() -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port, timeout_s=2.0), prof) as c:
        sim.faults.delay_s = 0.2
        samples = await c.read()
    assert all(s.quality is Quality.GOOD for s in samples)


async def test_slower_than_timeout_is_unreachable() -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port, timeout_s=0.2), prof) as c:
        sim.faults.delay_s = 1.0
        with pytest.raises(DeviceUnreachable, match=r"no answer within 0\.2s"):
            await c.read()


@pytest.mark.parametrize(("code", "name"), [(1, "illegal function"), (4, "server device failure"),
                                            (6, "server device busy")])
async def test_exception_responses_mark_tags_bad_with_code(code: int, name: str) -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        sim.faults.exception = code
        samples = await c.read()
        sim.faults.clear()
        after = await c.read()
    assert all(s.quality is Quality.BAD and s.code == code and name in (s.reason or "") for s in samples)
    assert all(s.quality is Quality.GOOD for s in after)  # nothing remembered for non-address errors
    assert not c.plan.bad


@pytest.mark.parametrize(("code", "name", "hint"), [
    (10, "gateway path unavailable", "the gateway has no path to unit 1"),
    (11, "gateway target device failed to respond", "the gateway got no answer from unit 1"),
])
async def test_gateway_exceptions_mean_the_device_is_unreachable(code: int, name: str, hint: str) -> None:
    # issue 16: a unit answering only 0x0A/0x0B looked healthy (all tags "read", no error)
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        sim.faults.exception = code
        first = c.plan.requests[0].describe()
        with pytest.raises(DeviceUnreachable) as info:
            await c.read()
        sent = c.requests_sent
    text = str(info.value)
    assert f"device dev1 at 127.0.0.1:{sim.port} (unit 1), reading {first}:" in text, text
    assert sent == 1, "the poll stops at the first gateway answer: the rest would fail alike"
    assert f"exception {code} ({name})" in text and hint in text, text


async def test_a_unit_the_gateway_does_not_have_is_unreachable() -> None:
    # the simulator answers for any unit it does not play as a TCP gateway does: exception 11
    prof = profile()
    async with running_sim(prof, unit=1) as sim, ModbusCollector(device(sim.port, unit_id=7), prof) as c:
        with pytest.raises(DeviceUnreachable, match=r"\(unit 7\).*exception 11 .*no answer from unit 7"):
            await c.read()


async def test_supervisor_keeps_a_gateway_answered_unit_offline_backing_off() -> None:
    prof = profile()
    async with running_sim(prof) as sim:
        sim.faults.exception = 11
        sup = DeviceSupervisor(device(sim.port), prof, interval_s=0.01,
                               backoff=Backoff(initial_s=0.01, max_s=0.05, jitter=0.0))
        it = sup.samples()
        try:
            batches = [await anext(it) for _ in range(40)]
            states = sup.state
            tried = sim.faults.reads
            failures, attempts = sup.failures, sup.attempts
            sim.faults.clear()
            good = await _until(it, Quality.GOOD)
        finally:
            await it.aclose()  # type: ignore[attr-defined]
    for batch in batches:
        assert len(batch) == len(prof.tags)
        assert all(s.quality is Quality.BAD and (s.reason or "").startswith("device offline: device dev1")
                   and "exception 11 (gateway target device failed to respond)" in (s.reason or "")
                   for s in batch), batch[0]
    assert states == "offline" and sup.reconnects == 0, "never online: the device never answered"
    # one request per connection attempt, each counted as a read error, and the backoff grows
    # from attempt to attempt instead of restarting at its first step after every connect
    assert tried == failures == attempts >= 2
    assert len(good) == len(prof.tags) and sup.state == "online" and sup.attempts == 0


async def test_garbage_frame_resets_the_link_at_once() -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port, timeout_s=5), prof) as c:
        sim.faults.garbage = True
        with pytest.raises(DeviceUnreachable, match=r"garbled answer \(function code 0x59\)"):
            await asyncio.wait_for(c.read(), 4)  # well before the 5 s timeout


async def test_dropped_connection_is_unreachable() -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        await c.read()
        assert sim.drop_connections() == 1
        with pytest.raises(DeviceUnreachable, match=r"connection lost|not connected"):
            await c.read()
            await c.read()


@pytest.mark.parametrize("fault", ["silent", "garbage", "drop", "exception", "down"])
async def test_supervisor_marks_bad_with_reason_and_recovers(fault: str) -> None:
    prof = profile()
    async with running_sim(prof) as sim:
        sup = DeviceSupervisor(device(sim.port, timeout_s=0.3), prof, interval_s=0.05,
                               backoff=Backoff(initial_s=0.05, max_s=0.3))
        it = sup.samples()
        try:
            await _until(it, Quality.GOOD)
            await _inject(sim, fault)
            bad = await _until(it, Quality.BAD)
            assert all(s.reason for s in bad), bad
            await _clear(sim, fault)
            await _until(it, Quality.GOOD)
            assert sup.state == "online"
        finally:
            await it.aclose()  # type: ignore[attr-defined]


async def _inject(sim: ModbusSimulator, fault: str) -> None:
    if fault == "silent":
        sim.faults.silent = True
    elif fault == "garbage":
        sim.faults.garbage = True
    elif fault == "exception":
        sim.faults.exception = 4
    elif fault == "drop":
        sim.faults.silent = True  # keep it down long enough to be seen, then drop
        sim.drop_connections()
    elif fault == "down":
        await sim.stop()


async def _clear(sim: ModbusSimulator, fault: str) -> None:
    sim.faults.clear()
    if fault == "down":
        await sim.start()


async def test_a_faulty_device_leaves_the_others_alone() -> None:
    prof = profile()
    async with running_sim(prof) as good_sim, running_sim(prof) as bad_sim:
        good = DeviceSupervisor(device(good_sim.port, id="good"), prof, interval_s=0.1)
        bad = DeviceSupervisor(device(bad_sim.port, id="bad", timeout_s=0.5), prof, interval_s=0.1)
        bad_sim.faults.silent = True
        counts = {"good": 0, "good_ok": 0, "bad": 0, "bad_ok": 0}

        async def run(sup: DeviceSupervisor) -> None:
            async for batch in sup.samples():
                counts[sup.device.id] += 1
                counts[sup.device.id + "_ok"] += all(s.quality is Quality.GOOD for s in batch)

        tasks = [asyncio.create_task(run(s)) for s in (good, bad)]
        try:
            await eventually_async(lambda: counts["good"] >= 10 and counts["bad"] >= 1, timeout=30,
                                   what="ten polls of the good device and one of the silent one")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert counts["good"] == counts["good_ok"] >= 10
    assert counts["bad_ok"] == 0 and counts["bad"] >= 1
