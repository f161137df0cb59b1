"""Fault commands: in-process through ``apply`` and over the control port of a device-sim
process, as a technician or a demo script would use them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from collectors.base import DeviceUnreachable
from collectors.modbus import ModbusCollector
from simulators.modbus.control import apply
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.helpers import device, profile
from tests.support import ROOT, free_port, stop_process, wait_port
from wire.sample import Quality


async def test_commands_change_faults_and_bad_input_is_explained() -> None:
    sim = ModbusSimulator([SimulatedUnit(profile())], port=free_port())
    sims = {str(sim.port): sim}
    p = str(sim.port)
    assert (await apply(sims, f"slow {p} 1.5")).startswith("ok") and sim.faults.delay_s == 1.5
    assert "exception 6" in await apply(sims, f"exception {p} 6")
    assert (await apply(sims, f"illegal {p} holding 7")).startswith("ok")
    assert ("holding", 7) in sim.faults.illegal
    await apply(sims, f"silent {p}")
    await apply(sims, f"garbage {p}")
    assert sim.faults.silent and sim.faults.garbage
    assert (await apply(sims, f"clear {p}")) == f"ok {p}: normal"
    assert (await apply(sims, f"hold {p} voltage_l1 199.5")).startswith("ok")
    assert sim.image().values["voltage_l1"] == 199.5
    assert (await apply(sims, f"release {p} voltage_l1")).startswith("ok")
    assert sim.image().values["voltage_l1"] != 199.5
    assert "no tag 'nope'" in await apply(sims, f"hold {p} nope 1")
    assert (await apply(sims, "status")).startswith("ok")
    assert "unknown port" in await apply(sims, "slow 1 2")
    assert "bad arguments" in await apply(sims, f"slow {p} fast")
    assert "unknown command" in await apply(sims, f"explode {p}")
    assert "empty command" in await apply(sims, "  ")


async def _command(port: int, line: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(line.encode() + b"\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
    finally:
        writer.close()


async def test_control_port_of_a_device_sim_process() -> None:
    port, ctl = free_port(), free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "device-sim")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "simulators.cli"]
    proc = subprocess.Popen([*cmd, "modbus", "--profile", "energy_meter_3ph", "--port", str(port),
                             "--control-port", str(ctl)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prof = profile()
    try:
        await asyncio.to_thread(wait_port, "127.0.0.1", ctl, 20)
        async with ModbusCollector(device(port), prof) as c:
            assert all(s.quality is Quality.GOOD for s in await c.read())
            assert (await _command(ctl, f"exception {port} 6")).startswith("ok")
            assert all(s.quality is Quality.BAD and s.code == 6 for s in await c.read())
            assert (await _command(ctl, f"clear {port}")).startswith("ok")
            assert all(s.quality is Quality.GOOD for s in await c.read())
            assert (await _command(ctl, f"down {port}")).startswith("ok")
            with pytest.raises(DeviceUnreachable):
                await c.read()
        assert (await _command(ctl, f"up {port}")).startswith("ok")
        async with ModbusCollector(device(port), prof) as c:
            assert all(s.quality is Quality.GOOD for s in await c.read())
    finally:
        stop_process(proc, sig=signal.SIGINT)
