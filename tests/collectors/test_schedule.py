"""When the supervisor polls: each device on its own phase of the interval (fixed by its id),
the interval exact on average, overruns skipped and counted (logged once per burst, with the
cause), never made up for in a burst. A fake clock drives the supervisor, so the tests read
tick times exactly, without waiting."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from collectors import supervisor as sup_module
from collectors.supervisor import DeviceSupervisor, phase_of
from common.backoff import Backoff
from device_profiles.device import DeviceConfig
from tests.collectors.modbus.helpers import profile
from wire.sample import Sample

WALL = 1_700_000_000.25  # wall-clock seconds at monotonic 0: not on a whole second


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return WALL + self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        c.now += max(0.0, delay)
        await real_sleep(0)
        return result

    monkeypatch.setattr(sup_module, "time", SimpleNamespace(monotonic=c.monotonic, time=c.time))
    monkeypatch.setattr(sup_module.asyncio, "sleep", sleep)
    yield c


class Timed:
    """A collector whose polls take the given durations (then ``default``) on the fake clock."""

    def __init__(self, clock: Clock, durations: list[float], *, default: float = 0.01) -> None:
        self.clock, self.durations, self.default = clock, list(durations), default
        self.reads: list[float] = []  # when each poll began
        self.requests_sent = 0

    async def __aenter__(self) -> Timed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> list[Sample]:
        self.reads.append(self.clock.now)
        self.requests_sent += 3
        self.clock.now += self.durations.pop(0) if self.durations else self.default
        return [Sample("m1", t.name, 1, 1.0) for t in profile().tags]


def _dev(id: str = "m1") -> DeviceConfig:
    return DeviceConfig(id=id, profile="test", endpoint="tcp://127.0.0.1:1")


async def _run(sup: DeviceSupervisor, polls: int) -> None:
    it = sup.samples()
    try:
        for _ in range(polls):
            await anext(it)
    finally:
        await it.aclose()  # type: ignore[attr-defined]


def test_phase_is_fixed_by_the_device_id_and_spreads_devices_over_the_interval() -> None:
    assert phase_of("press-7", 1.0) == phase_of("press-7", 1.0)  # every run, every gateway
    phases = sorted(phase_of(f"m{i}", 1.0) for i in range(40))
    assert all(0 <= p < 1.0 for p in phases)
    assert len({round(p, 3) for p in phases}) == 40  # no two devices at the same instant
    # forty devices leave no quarter of the interval empty (they no longer tick together)
    assert all(any(q / 4 <= p < (q + 1) / 4 for p in phases) for q in range(4))


async def test_polls_keep_the_device_phase_and_the_exact_interval(clock: Clock) -> None:
    fake = Timed(clock, [])
    sup = DeviceSupervisor(_dev(), profile(), factory=lambda d, p: fake, interval_s=1.0)  # type: ignore[arg-type, return-value]
    await _run(sup, 12)
    first, rest = fake.reads[0], fake.reads[1:]
    phase = phase_of("m1", 1.0)
    assert first == phase  # the first poll within the first second, spread by the phase
    # then on the wall-clock grid phase + k * interval, each poll exactly one interval apart
    assert all(abs((WALL + t - phase) % 1.0) < 1e-6 or abs((WALL + t - phase) % 1.0 - 1) < 1e-6
               for t in rest)
    assert all(abs(b - a - 1.0) < 1e-9 for a, b in itertools.pairwise(rest))
    assert sup.skipped == 0
    assert sup.requests == 36  # 3 requests a poll, counted from the collector


async def test_overruns_are_skipped_counted_and_logged_once_per_burst(
        clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    # polls 4 and 5 take 2.5 s each at a 1 s interval: 2 + 2 ticks missed in one burst,
    # then poll 9 takes 1.5 s: a second burst of 1
    fake = Timed(clock, [0.01, 0.01, 0.01, 2.5, 2.5, 0.01, 0.01, 0.01, 1.5])
    sup = DeviceSupervisor(_dev(), profile(), factory=lambda d, p: fake, interval_s=1.0)  # type: ignore[arg-type, return-value]
    with caplog.at_level(logging.INFO, logger="collectors.supervisor"):
        await _run(sup, 14)
    assert sup.skipped == 5
    rest = fake.reads[1:]
    phase = phase_of("m1", 1.0)
    # the phase survives the overruns: every poll still starts on the device's grid
    assert all(min((WALL + t - phase) % 1.0, 1 - (WALL + t - phase) % 1.0) < 1e-6 for t in rest)
    # and no catching up: polls are never closer together than the interval
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(rest))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2, warned  # one line per burst, not per tick
    assert "a poll took 2.500 s" in warned[0] and "跳过轮询" in warned[0]
    assert "a poll took 1.500 s" in warned[1]
    back = [r.getMessage() for r in caplog.records if "on time again" in r.getMessage()]
    assert back[0].startswith("device m1: polls on time again after 4 skipped")


async def test_a_quick_poll_held_up_after_reading_blames_the_gateway_not_the_device(
        clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    """The device answered at once but its samples waited (buffer, disk, CPU): the log says so."""
    fake = Timed(clock, [])
    sup = DeviceSupervisor(_dev(), profile(), factory=lambda d, p: fake, interval_s=1.0)  # type: ignore[arg-type, return-value]
    it = sup.samples()
    with caplog.at_level(logging.WARNING, logger="collectors.supervisor"):
        try:
            for n in range(6):
                await anext(it)
                if n == 2:
                    clock.now += 2.2  # the consumer (or another task) held the loop
        finally:
            await it.aclose()  # type: ignore[attr-defined]
    assert sup.skipped == 2
    [warned] = [r.getMessage() for r in caplog.records]
    assert "its samples waited 2.200 s to be taken on" in warned


async def test_offline_ticks_keep_the_phase_and_count_no_skips(clock: Clock) -> None:
    """An unreachable device yields its bad samples at every tick of its phase."""

    class Refusing:
        async def __aenter__(self) -> Refusing:
            from collectors.base import DeviceUnreachable
            raise DeviceUnreachable("device m1: refused")

    sup = DeviceSupervisor(_dev(), profile(), factory=lambda d, p: Refusing(),  # type: ignore[arg-type, return-value]
                           interval_s=0.5, backoff=Backoff(initial_s=0.5, max_s=2.0))
    await _run(sup, 10)
    assert sup.skipped == 0 and sup.polls == 10 and sup.state == "offline"


async def test_a_slow_connect_attempt_is_named_as_such(
        clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    """A device that takes seconds to refuse: the skipped ticks are blamed on connecting."""
    from collectors.base import DeviceUnreachable

    attempts = []

    class SlowRefusal:
        async def __aenter__(self) -> SlowRefusal:
            attempts.append(clock.now)
            clock.now += 2.5 if len(attempts) > 1 else 0.01  # the first refusal is quick
            raise DeviceUnreachable("device m1: connect timed out")

    sup = DeviceSupervisor(_dev(), profile(), factory=lambda d, p: SlowRefusal(),  # type: ignore[arg-type, return-value]
                           interval_s=1.0, backoff=Backoff(initial_s=0.5, max_s=0.5, jitter=0))
    with caplog.at_level(logging.WARNING, logger="collectors.supervisor"):
        await _run(sup, 4)
    assert sup.skipped >= 2
    assert any("connecting took 2.500 s" in r.getMessage() for r in caplog.records)
