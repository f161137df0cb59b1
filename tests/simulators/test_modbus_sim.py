"""The Modbus simulator: what it serves, how it encodes, how it is started."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from collectors.modbus import ModbusCollector
from simulators.devices import DeviceSpec, parse_device
from simulators.modbus.serve import build_simulators
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.helpers import device, make_profile, profile, running_sim
from tests.support import ROOT, eventually_async, free_port, stop_process, wait_port
from wire.sample import Quality


async def test_raw_registers_are_engineering_value_minus_offset_over_scale_clamped() -> None:
    prof = make_profile([
        {"name": "temp", "address": 0, "type": "int16", "scale": 0.1, "offset": -50,
         "sim": {"kind": "constant", "value": 21.7}},
        {"name": "too_big", "address": 1, "type": "uint16", "scale": 0.1,
         "sim": {"kind": "constant", "value": 7000.0}},
        {"name": "negative", "address": 2, "type": "uint16", "sim": {"kind": "constant", "value": -3}},
    ])
    async with running_sim(prof) as sim:
        words = [0] * 3
        sim.image().fill("holding", 0, 3, words)
    assert words == [717, 65535, 0]  # (21.7 + 50) / 0.1 = 717; clamped to uint16


async def test_generators_make_values_change_between_refreshes() -> None:
    prof = profile()
    async with running_sim(prof) as sim:
        img = sim.image()
        before = dict(img.values)

        def refreshed() -> dict[str, Any]:
            img.refresh()  # at most every 100 ms; random walks step once a second; {} until then
            now = dict(img.values)
            return now if sum(before[k] != now[k] for k in before) >= 10 else {}

        after: dict[str, Any] = await eventually_async(
            refreshed, timeout=15, what="ten tags change between refreshes", every=0.2)
    assert sum(before[k] != after[k] for k in before) >= 10


def test_device_option_syntax() -> None:
    assert parse_device("energy_meter_3ph@15020") == DeviceSpec("energy_meter_3ph", 15020, None)
    assert parse_device("x.yaml@1502:7", seed=3) == DeviceSpec("x.yaml", 1502, 7, 3)
    with pytest.raises(Exception, match="PROFILE@PORT"):
        parse_device("energy_meter_3ph:15020")


async def test_several_units_share_a_port_and_ports_get_their_own_server() -> None:
    p1, p2 = free_port(), free_port()
    specs = [DeviceSpec("energy_meter_3ph", p1, 1), DeviceSpec("energy_meter_3ph", p1, 2, seed=5),
             DeviceSpec("energy_meter_3ph", p2, None)]
    sims = build_simulators(specs)
    assert sorted(len(s.images) for s in sims) == [1, 2]
    with pytest.raises(ValueError, match="unit 1 given twice"):
        build_simulators([DeviceSpec("energy_meter_3ph", p1, 1), DeviceSpec("energy_meter_3ph", p1, 1)])
    prof = profile()
    for s in sims:
        await s.start()
    try:
        for port, unit in ((p1, 1), (p1, 2), (p2, 1)):
            async with ModbusCollector(device(port, unit_id=unit), prof) as c:
                assert all(x.quality is Quality.GOOD for x in await c.read())
    finally:
        for s in sims:
            await s.stop()


async def test_device_sim_command_serves_a_profile() -> None:
    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "device-sim")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "simulators.cli"]
    proc = subprocess.Popen([*cmd, "modbus", "--profile", "energy_meter_3ph", "--port", str(port),
                             "--seed", "4"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        await asyncio.to_thread(wait_port, "127.0.0.1", port, 20)
        async with ModbusCollector(device(port), profile()) as c:
            samples = await c.read()
        assert len(samples) == 16 and all(s.quality is Quality.GOOD for s in samples)
    finally:
        stop_process(proc, sig=signal.SIGINT)


def test_device_sim_command_rejects_incomplete_arguments() -> None:
    r = subprocess.run([sys.executable, "-m", "simulators.cli", "modbus", "--profile", "energy_meter_3ph"],
                       cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--port" in r.stderr


async def test_record_lists_every_value_a_reader_can_decode() -> None:
    import io
    import json

    prof = profile()
    out = io.StringIO()
    sim = ModbusSimulator([SimulatedUnit(prof, unit=1)], port=0, record=out)
    read: list[dict[str, object]] = []
    async with sim, ModbusCollector(device(sim.port), prof) as c:
        for _ in range(3):
            read.append({s.tag: s.value for s in await c.read()})
            await asyncio.sleep(0.25)
    served: dict[str, set[object]] = {}
    for line in out.getvalue().splitlines():
        entry = json.loads(line)
        assert entry["port"] == sim.port and entry["unit"] == 1
        for tag, value in entry["values"].items():
            served.setdefault(tag, set()).add(value)
    for poll in read:
        for tag, value in poll.items():
            assert value in served[tag], (tag, value)  # exactly, not approximately


def test_profiles_command_and_protocol_table() -> None:
    from click.testing import CliRunner

    from simulators.cli import main
    from simulators.registry import SERVERS, server_for

    result = CliRunner().invoke(main, ["profiles"])
    assert result.exit_code == 0
    listed = dict(line.split("\t") for line in result.output.splitlines())
    assert listed["energy_meter_3ph"] == "modbus" and listed["retort_temp_controller"] == "modbus"
    assert SERVERS["modbus"] == "simulators.modbus.serve:serve" and callable(server_for("modbus"))
    with pytest.raises(Exception, match="no simulator for protocol 'bacnet'"):
        server_for("bacnet")


async def test_generic_serve_command_picks_the_protocol_from_the_profile() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simulators.cli", "serve", "--device",
                             f"weighing_indicator@{port}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_port, "127.0.0.1", port, 20)
        async with ModbusCollector(device(port), profile("weighing_indicator")) as c:
            assert all(s.quality is Quality.GOOD for s in await c.read())
    finally:
        stop_process(proc, sig=signal.SIGINT)
