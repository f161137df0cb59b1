"""Modbus RTU: over a serial line (a socat pseudo-terminal pair, the simulator on the far end)
and over TCP (RTU frames through a serial-to-Ethernet converter)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from collectors.base import DeviceUnreachable
from collectors.modbus import ModbusCollector, links
from collectors.supervisor import DeviceSupervisor
from common.backoff import Backoff
from device_profiles.device import DeviceConfig
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.cases import assert_matches, encoding_case
from tests.collectors.modbus.helpers import device, profile
from tests.support import eventually, stop_process
from wire.sample import Quality, Sample


@pytest.fixture
def pty_pair() -> Iterator[tuple[str, str]]:
    """Two linked serial devices: (simulator end, gateway end). socat comes from Debian's
    packages; scripts/services.sh installs it on a fresh machine."""
    exe = shutil.which("socat")
    assert exe, "socat is not installed: run scripts/services.sh (apt-get install socat)"
    d = tempfile.mkdtemp(prefix="sfg-pty-")
    sim_end, gw_end = os.path.join(d, "sim"), os.path.join(d, "gw")
    proc = subprocess.Popen([exe, f"pty,raw,echo=0,link={sim_end}", f"pty,raw,echo=0,link={gw_end}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: os.path.exists(sim_end) and os.path.exists(gw_end), timeout=10,
                   what="socat creates the pty pair", every=0.02)
        yield sim_end, gw_end
    finally:
        stop_process(proc)
        shutil.rmtree(d, ignore_errors=True)


def serial_device(path: str, *, unit: int, id: str = "rtu1", timeout_s: float = 1.0) -> DeviceConfig:
    return DeviceConfig(id=id, profile="x", endpoint=f"rtu://{path}?baudrate=19200&parity=N",
                        unit_id=unit, timeout_s=timeout_s)


async def test_rtu_serial_line_with_two_units(pty_pair: tuple[str, str]) -> None:
    sim_end, gw_end = pty_pair
    prof = profile()
    sim = ModbusSimulator([SimulatedUnit(prof, unit=3), SimulatedUnit(prof, unit=4, seed=9)],
                          serial_port=sim_end)
    async with sim:
        for unit in (3, 4):
            async with ModbusCollector(serial_device(gw_end, unit=unit), prof) as c:
                samples = await c.read()
            assert len(samples) == 16 and all(s.quality is Quality.GOOD for s in samples)
            served = sim.image(unit).values
            assert all(s.value == pytest.approx(served[s.tag], rel=0.03) for s in samples)
        # a unit nobody answers for on the line: silence, then DeviceUnreachable
        async with ModbusCollector(serial_device(gw_end, unit=5, timeout_s=0.3), prof) as c:
            with pytest.raises(DeviceUnreachable, match=r"rtu1 .*unit 5.*no answer"):
                await c.read()


async def test_rtu_serial_encodings_and_exception(pty_pair: tuple[str, str]) -> None:
    sim_end, gw_end = pty_pair
    case = encoding_case("holding")
    sim = ModbusSimulator([SimulatedUnit(case.profile, unit=1)], serial_port=sim_end)
    sim.image().overrides.update(case.words)
    sim.image().overrides.update(case.bits)
    async with sim, ModbusCollector(serial_device(gw_end, unit=1), case.profile) as c:
        assert_matches({s.tag: s.value for s in await c.read()}, case.expect)
        sim.faults.exception = 6
        assert all(s.quality is Quality.BAD and s.code == 6 for s in await c.read())
        sim.faults.clear()
        sim.faults.garbage = True
        with pytest.raises(DeviceUnreachable):
            await c.read()


async def test_serial_port_that_does_not_exist_is_unreachable() -> None:
    with pytest.raises(DeviceUnreachable, match=r"rtu1 at /nonexistent/ttyUSB9"):
        async with ModbusCollector(serial_device("/nonexistent/ttyUSB9", unit=1), profile()):
            pass


async def test_rtu_over_tcp() -> None:
    case = encoding_case("input")
    sim = ModbusSimulator([SimulatedUnit(case.profile, unit=1)], port=0, framing="rtu")
    sim.image().overrides.update(case.words)
    sim.image().overrides.update(case.bits)
    async with sim, ModbusCollector(device(sim.port, scheme="rtu+tcp"), case.profile) as c:
        assert_matches({s.tag: s.value for s in await c.read()}, case.expect)
        sim.faults.garbage = True
        with pytest.raises(DeviceUnreachable, match="garbled"):
            await c.read()


async def test_devices_of_one_line_share_it_and_take_turns(pty_pair: tuple[str, str]) -> None:
    sim_end, gw_end = pty_pair
    prof = profile()
    sim = ModbusSimulator([SimulatedUnit(prof, unit=1), SimulatedUnit(prof, unit=2, seed=4)],
                          serial_port=sim_end)
    async with sim:
        a = ModbusCollector(serial_device(gw_end, unit=1, id="a"), prof)
        b = ModbusCollector(serial_device(gw_end, unit=2, id="b"), prof)
        ghost = ModbusCollector(serial_device(gw_end, unit=9, id="ghost", timeout_s=0.3), prof)
        async with a, b, ghost:
            assert links.shared_users(a.endpoint) == 3  # one open port for three devices

            async def ghost_read() -> str:
                try:
                    await ghost.read()
                except DeviceUnreachable as err:
                    return str(err)
                return "answered"

            ra, rb, rg = await asyncio.gather(a.read(), b.read(), ghost_read())
            # the silent unit timed out without closing the line: the others read on
            ra2, rb2 = await asyncio.gather(a.read(), b.read())
        assert links.shared_users(a.endpoint) == 0
    assert "ghost" in rg and "no answer" in rg
    for batch in (ra, rb, ra2, rb2):
        assert len(batch) == 16 and all(s.quality is Quality.GOOD for s in batch)


async def test_shared_rtu_over_tcp_line_recovers_for_every_device() -> None:
    prof = profile()
    sim = ModbusSimulator([SimulatedUnit(prof, unit=1), SimulatedUnit(prof, unit=2)],
                          port=0, framing="rtu")
    async with sim:
        sups = [DeviceSupervisor(device(sim.port, id=f"u{u}", scheme="rtu+tcp", unit_id=u, timeout_s=0.5),
                                 prof, interval_s=0.05, backoff=Backoff(initial_s=0.05, max_s=0.2))
                for u in (1, 2)]
        its = [s.samples() for s in sups]
        try:
            for it in its:
                await _until(it, Quality.GOOD)
            sim.drop_connections()
            for it in its:
                await _until(it, Quality.GOOD)
            assert all(s.state == "online" for s in sups)
        finally:
            for it in its:
                await it.aclose()  # type: ignore[attr-defined]
    assert sim.faults.reads > 0


async def _until(it: AsyncIterator[list[Sample]], quality: Quality, limit: int = 200) -> list[Sample]:
    for _ in range(limit):
        batch = await anext(it)
        if all(s.quality is quality for s in batch):
            return batch
    raise AssertionError(f"no all-{quality.name} batch within {limit} polls")


async def test_devices_of_one_line_keep_taking_turns_whatever_their_phases(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Phases spread devices over the interval; on one RS-485 line their requests still take
    turns on the shared link: never two on the wire at once, every poll good."""
    from collectors.modbus.pymodbus_client import ModbusLink

    on_wire = {"now": 0, "most": 0}
    real = ModbusLink._read

    async def counting(self: ModbusLink, *args: Any, **kwargs: Any) -> Any:
        on_wire["now"] += 1
        on_wire["most"] = max(on_wire["most"], on_wire["now"])
        try:
            return await real(self, *args, **kwargs)
        finally:
            on_wire["now"] -= 1

    monkeypatch.setattr(ModbusLink, "_read", counting)
    prof = profile()
    sim = ModbusSimulator([SimulatedUnit(prof, unit=u) for u in (1, 2, 3)], port=0, framing="rtu")
    async with sim:
        sups = [DeviceSupervisor(device(sim.port, id=f"u{u}", scheme="rtu+tcp", unit_id=u),
                                 prof, interval_s=0.1, phase_s=phase)
                for u, phase in ((1, 0.0), (2, 0.0), (3, 0.05))]  # two at the same instant

        async def polls(sup: DeviceSupervisor) -> list[list[Sample]]:
            it = sup.samples()
            try:
                return [await anext(it) for _ in range(8)]
            finally:
                await it.aclose()  # type: ignore[attr-defined]

        got = await asyncio.gather(*(polls(s) for s in sups))
    assert on_wire["most"] == 1
    assert all(s.quality is Quality.GOOD for batches in got for b in batches for s in b)
