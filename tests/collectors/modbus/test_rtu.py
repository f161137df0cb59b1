"""Modbus RTU: over a serial line (a socat pseudo-terminal pair, the simulator on the far end)
and over TCP (RTU frames through a serial-to-Ethernet converter)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from collectors.base import DeviceUnreachable
from collectors.modbus import ModbusCollector
from collectors.sample import Quality
from device_profiles.models import DeviceConfig
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.cases import assert_matches, encoding_case
from tests.collectors.modbus.helpers import device, profile
from tests.support import free_port


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
        deadline = time.monotonic() + 10
        while not (os.path.exists(sim_end) and os.path.exists(gw_end)):
            assert time.monotonic() < deadline, "socat did not create the pty pair"
            time.sleep(0.02)
        yield sim_end, gw_end
    finally:
        proc.terminate()
        proc.wait(10)
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
    sim = ModbusSimulator([SimulatedUnit(case.profile, unit=1)], port=free_port(), framing="rtu")
    sim.image().overrides.update(case.words)
    sim.image().overrides.update(case.bits)
    async with sim, ModbusCollector(device(sim.port, scheme="rtu+tcp"), case.profile) as c:
        assert_matches({s.tag: s.value for s in await c.read()}, case.expect)
        sim.faults.garbage = True
        with pytest.raises(DeviceUnreachable, match="garbled"):
            await c.read()
