"""Discover: scan a live device's registers and produce a loadable, servable profile skeleton."""

from __future__ import annotations

import pytest
import yaml

from collectors.base import CollectorError, DeviceUnreachable
from collectors.modbus import ModbusCollector
from collectors.modbus.discover import discover
from device_profiles.modbus import ModbusProfile
from tests.collectors.modbus.helpers import device, make_profile, profile, running_sim
from tests.support import free_port
from wire.sample import Quality


async def test_scan_of_an_energy_meter_finds_its_floats() -> None:
    meter = profile()
    async with running_sim(meter, unit=4, strict=True) as sim:
        skeleton = await discover(f"modbus://127.0.0.1:{sim.port}?unit=4", start=0, count=80, table="input")
        served = dict(sim.image(4).values)
    prof = ModbusProfile.model_validate(yaml.safe_load(yaml.safe_dump(skeleton, allow_unicode=True)))
    assert prof.defaults.unit_id == 4
    by_addr = {t.address: t for t in prof.tags}
    # every float32 of the meter's input table, found at its address (strict device: the scan
    # bisected its way around the unmapped registers)
    for tag in meter.tags:
        if tag.table != "input":
            continue
        found = by_addr[tag.address]
        assert (found.type, found.order) == ("float32", "ABCD"), tag.name
        assert found.sim.value == pytest.approx(served[tag.name], rel=0.02)
    assert len(prof.tags) == 15


async def test_skeleton_serves_and_reads_back_what_was_scanned() -> None:
    dev_prof = make_profile([
        {"name": "temp", "address": 10, "type": "int16", "sim": {"kind": "constant", "value": -5}},
        {"name": "count", "address": 11, "type": "uint16", "sim": {"kind": "constant", "value": 1234}},
        {"name": "flow", "address": 12, "type": "float32", "order": "CDAB",
         "sim": {"kind": "constant", "value": 12.75}},
    ])
    async with running_sim(dev_prof) as sim:
        skeleton = await discover(f"tcp://127.0.0.1:{sim.port}", start=10, count=4)
    prof = ModbusProfile.model_validate(skeleton)
    assert [(t.address, t.type, t.order) for t in prof.tags] == [
        (10, "int16", None), (11, "uint16", None), (12, "float32", "CDAB")]
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        values = {s.tag: s.value for s in await c.read() if s.quality is Quality.GOOD}
    assert values == {"holding_10": -5, "holding_11": 1234, "holding_12": 12.75}


async def test_coils_are_scanned_as_bools() -> None:
    dev_prof = make_profile([{"name": f"c{i}", "table": "coil", "address": i, "type": "bool",
                              "sim": {"kind": "constant", "value": i % 2 == 1}} for i in range(6)])
    async with running_sim(dev_prof) as sim:
        skeleton = await discover(f"tcp://127.0.0.1:{sim.port}", count=6, table="coil")
    assert [t["sim"]["value"] for t in skeleton["tags"]] == [False, True, False, True, False, True]


async def test_unreachable_and_bad_arguments_and_empty_range() -> None:
    with pytest.raises(DeviceUnreachable, match="discover"):
        await discover(f"tcp://127.0.0.1:{free_port()}", timeout_s=0.5)
    with pytest.raises(CollectorError, match="table 'registers'"):
        await discover("tcp://127.0.0.1:1", table="registers")
    with pytest.raises(CollectorError, match="outside"):
        await discover("tcp://127.0.0.1:1", start=65530, count=10)
    async with running_sim(profile(), strict=True) as sim:
        with pytest.raises(CollectorError, match=r"no readable holding address in 1000\.\.1009"):
            await discover(f"tcp://127.0.0.1:{sim.port}", start=1000, count=10)


async def test_a_unit_the_gateway_cannot_reach_is_unreachable_not_an_empty_scan() -> None:
    async with running_sim(profile(), unit=1) as sim:
        with pytest.raises(DeviceUnreachable, match=r"exception 11 .*no answer from unit 7"):
            await discover(f"modbus://127.0.0.1:{sim.port}?unit=7", table="input", count=10)
