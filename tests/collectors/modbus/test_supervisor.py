"""The reconnect supervisor with the Modbus collector and a simulator that comes and goes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from collectors.supervisor import DeviceSupervisor
from common.backoff import Backoff
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.helpers import device, profile
from tests.support import free_port
from wire.sample import Quality, Sample


async def _next(it: AsyncIterator[list[Sample]], *, until: Quality, limit: int = 100) -> list[Sample]:
    for _ in range(limit):
        batch = await anext(it)
        if all(s.quality is until for s in batch):
            return batch
    raise AssertionError(f"no batch of all-{until.name} samples in {limit} polls")


def test_backoff_doubles_and_is_capped() -> None:
    b = Backoff(initial_s=0.5, max_s=4.0, jitter=0.0)
    assert [b.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = Backoff(initial_s=1.0, max_s=1.0, jitter=0.1)
    assert all(0.9 <= jittered.delay(5) <= 1.1 for _ in range(50))


async def test_offline_then_online_then_dropped_then_recovered() -> None:
    prof = profile()
    port = free_port()
    sim = ModbusSimulator([SimulatedUnit(prof, unit=1)], port=port)
    sup = DeviceSupervisor(device(port, timeout_s=0.5), prof, interval_s=0.05,
                           backoff=Backoff(initial_s=0.05, max_s=0.2))
    it = sup.samples()
    try:
        offline = await anext(it)  # nothing listens yet: every tag BAD, with the reason
        assert len(offline) == len(prof.tags)
        assert all(s.quality is Quality.BAD and "dev1" in (s.reason or "") for s in offline)
        assert sup.state == "offline"

        await sim.start()
        good = await _next(it, until=Quality.GOOD)
        assert len(good) == len(prof.tags) and sup.state == "online"

        await sim.stop()  # device switched off: BAD samples keep coming at the interval
        bad = await _next(it, until=Quality.BAD)
        assert all(s.reason for s in bad) and sup.state == "offline"

        await sim.start()  # and back: recovers without restarting anything
        await _next(it, until=Quality.GOOD)
        assert sup.state == "online" and sup.reconnects >= 1
    finally:
        await it.aclose()  # type: ignore[attr-defined]
        await sim.stop()


class _Fake:
    """A stand-in collector (unit test of the supervisor's own logic, no network)."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.closed = False

    async def __aenter__(self) -> _Fake:
        if self.behaviour == "refuse":
            from collectors.base import DeviceUnreachable

            raise DeviceUnreachable("dev1: refused")
        if self.behaviour == "crash_on_connect":
            raise RuntimeError("bug in a collector")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True

    async def read(self) -> list[Sample]:
        import asyncio

        if self.behaviour == "hang":
            await asyncio.sleep(3600)
        if self.behaviour == "crash_on_read":
            raise ValueError("decoder bug")
        return [Sample("dev1", t.name, 1, 1.0) for t in profile().tags]


@pytest.mark.parametrize(("behaviour", "reason"), [
    ("refuse", "refused"), ("crash_on_connect", "RuntimeError: bug in a collector"),
    ("hang", "poll took longer than 0.2s"), ("crash_on_read", "ValueError: decoder bug"),
])
async def test_every_failure_becomes_bad_samples_with_the_reason(behaviour: str, reason: str) -> None:
    made: list[_Fake] = []

    def factory(dev: object, prof: object) -> _Fake:
        made.append(_Fake(behaviour))
        return made[-1]

    sup = DeviceSupervisor(device(1), profile(), factory=factory, interval_s=0.01,  # type: ignore[arg-type]
                           poll_timeout_s=0.2, backoff=Backoff(initial_s=10, max_s=10))
    it = sup.samples()
    try:
        batch = await anext(it)
        assert all(s.quality is Quality.BAD and reason in (s.reason or "") for s in batch), batch[0]
        assert sup.state == "offline" and reason in (sup.last_error or "")
        again = await anext(it)  # offline batches keep coming at the interval, no reconnect yet
        assert all(s.quality is Quality.BAD for s in again) and len(made) == 1
    finally:
        await it.aclose()  # type: ignore[attr-defined]
    if behaviour in ("hang", "crash_on_read"):
        assert made[0].closed  # a broken session is closed before the next attempt


async def test_a_cancellation_a_library_drops_still_stops_the_poller() -> None:
    """Python 3.11's asyncio.wait_for returns the answer and drops the cancellation when both
    come in one turn of the loop (pymodbus awaits every answer with it): the poller stops all
    the same, instead of polling on for ever (an agent's stop, a test's end, waited for it)."""
    import asyncio

    reads: list[int] = []
    dropped: list[int] = []

    class Answering(_Fake):
        async def read(self) -> list[Sample]:
            reads.append(1)
            if len(reads) == 3:  # the answer and the cancellation arrive together
                loop, task = asyncio.get_running_loop(), asyncio.current_task()
                assert task is not None
                answer = loop.create_future()

                def both() -> None:
                    answer.set_result(None)
                    task.cancel()

                loop.call_soon(both)
                await asyncio.wait_for(answer, 5)
                dropped.append(task.cancelling())  # wait_for returned: the cancel was dropped
            return await super().read()

    sup = DeviceSupervisor(device(1), profile(), factory=lambda d, p: Answering("ok"),  # type: ignore[arg-type, return-value]
                           interval_s=0.01)

    async def consume() -> None:
        async for _ in sup.samples():
            pass

    task = asyncio.create_task(consume())
    done, _ = await asyncio.wait([task], timeout=5)
    if not done:
        task.cancel()
    assert task in done and task.cancelled(), f"still polling after {len(reads)} reads"
    assert dropped == [1] and len(reads) == 3


async def test_a_subscribing_collector_is_followed_and_reconnected() -> None:
    from collectors.base import DeviceUnreachable

    sessions: list[int] = []

    class Pusher:
        def __init__(self) -> None:
            sessions.append(len(sessions))

        async def __aenter__(self) -> Pusher:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def read(self) -> list[Sample]:  # pragma: no cover - never polled
            raise AssertionError("a subscribing collector must not be polled")

        async def subscribe(self) -> AsyncIterator[list[Sample]]:
            for i in range(2):
                yield [Sample("dev1", "voltage_l1", i, float(i))]
            raise DeviceUnreachable("dev1: subscription lost")

    sup = DeviceSupervisor(device(1), profile(), factory=lambda d, p: Pusher(),  # type: ignore[arg-type,return-value]
                           interval_s=0.01, backoff=Backoff(initial_s=0.01, max_s=0.01))
    it = sup.samples()
    try:
        got = [await anext(it) for _ in range(6)]
    finally:
        await it.aclose()  # type: ignore[attr-defined]
    kinds = ["good" if b[0].quality is Quality.GOOD else "bad" for b in got]
    assert kinds[:3] == ["good", "good", "bad"] and "good" in kinds[3:]
    assert "subscription lost" in (got[2][0].reason or "") and len(got[2]) == len(profile().tags)
    assert len(sessions) >= 2
