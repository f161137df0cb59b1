"""The collector against the real simulator over a real TCP socket."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.base import CollectorError, DeviceUnreachable
from collectors.modbus import ModbusCollector
from tests.collectors.modbus.helpers import device, make_profile, profile, running_sim
from tests.support import eventually_async, free_port
from wire.sample import Quality, SampleBlock, expand


async def test_reads_every_tag_close_to_what_the_simulator_serves() -> None:
    prof = profile()
    async with running_sim(prof, seed=3) as sim, ModbusCollector(device(sim.port), prof) as c:
        samples = await c.read()
        served = dict(sim.image().values)
    assert [s.tag for s in samples] == [t.name for t in prof.tags]
    for s in samples:
        assert s.quality is Quality.GOOD, s
        assert s.device == "dev1"
        assert s.value == pytest.approx(served[s.tag], rel=0.03), s.tag
    # the merged plan reads 16 tags with far fewer requests
    assert c.requests_sent == 4


async def test_values_move_over_time() -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        first = {s.tag: s.value for s in await c.read()}

        async def moved() -> dict[str, Any]:
            # random walks step once a second, the counter runs; {} until they have
            now: dict[str, Any] = {s.tag: s.value for s in await c.read()}
            grew = now["energy_import"] > first["energy_import"]
            return now if grew and sum(first[t] != now[t] for t in first) >= 10 else {}

        second: dict[str, Any] = await eventually_async(
            moved, timeout=15, what="ten tags move and the energy counter grows", every=0.2)
    changed = [t for t in first if first[t] != second[t]]
    assert len(changed) >= 10, changed
    assert second["energy_import"] > first["energy_import"]


async def test_timestamps_are_utc_milliseconds_in_order() -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        a = await c.read()
        b = await c.read()
    assert all(1_700_000_000_000 < s.ts < 4_000_000_000_000 for s in a + b)
    assert min(s.ts for s in b) >= max(s.ts for s in a)


async def test_nothing_listening_raises_device_unreachable() -> None:
    prof = profile()
    with pytest.raises(DeviceUnreachable, match="dev1"):
        async with ModbusCollector(device(free_port()), prof):
            pass


async def test_server_gone_mid_session_raises_device_unreachable() -> None:
    prof = profile()
    async with running_sim(prof) as sim:
        c = ModbusCollector(device(sim.port, timeout_s=0.5), prof)
        async with c:
            assert all(s.quality is Quality.GOOD for s in await c.read())
            await sim.stop()
            with pytest.raises(DeviceUnreachable, match="dev1"):
                await c.read()


async def test_exception_response_marks_tags_bad_with_code_and_reason() -> None:
    prof = profile()
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        sim.faults.exception = 6
        samples = await c.read()
        sim.faults.clear()
        again = await c.read()
    assert all(s.quality is Quality.BAD for s in samples)
    assert all(s.code == 6 and s.reason and "busy" in s.reason for s in samples)
    assert all(s.quality is Quality.GOOD for s in again)


async def test_unit_id_from_device_overrides_profile() -> None:
    prof = profile()
    async with running_sim(prof, unit=7) as sim:
        async with ModbusCollector(device(sim.port, unit_id=7), prof) as c:
            assert all(s.quality is Quality.GOOD for s in await c.read())
        async with ModbusCollector(device(sim.port, unit_id=3), prof) as c:
            # a gateway with no such unit answers "gateway target device failed to respond":
            # the device is not there, so it is unreachable (not connected with every tag bad)
            with pytest.raises(DeviceUnreachable, match=r"\(unit 3\).*exception 11"):
                await c.read()


async def test_bits_and_registers_of_every_table() -> None:
    prof = make_profile([
        {"name": "run", "table": "coil", "address": 3, "type": "bool",
         "sim": {"kind": "constant", "value": True}},
        {"name": "alarm", "table": "discrete_input", "address": 17, "type": "bool",
         "sim": {"kind": "constant", "value": True}},
        {"name": "idle", "table": "discrete_input", "address": 18, "type": "bool"},
        {"name": "setpoint", "table": "holding", "address": 10, "type": "int16", "scale": 0.1,
         "sim": {"kind": "constant", "value": -12.5}},
        {"name": "pv", "table": "input", "address": 4, "type": "uint16", "scale": 0.1,
         "sim": {"kind": "constant", "value": 85.3}},
    ])
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        got = {s.tag: s.value for s in await c.read()}
    assert got == {"run": True, "alarm": True, "idle": False, "setpoint": -12.5, "pv": 85.3}


def test_bad_endpoint_and_options_name_the_device() -> None:
    prof = profile()
    with pytest.raises(CollectorError, match=r"dev9.*scheme"):
        ModbusCollector(device(502, id="dev9", scheme="http"), prof)
    with pytest.raises(CollectorError, match=r"dev9.*max_gap_registers"):
        ModbusCollector(device(502, id="dev9", options={"max_gap_registers": -1}), prof)
    with pytest.raises(CollectorError, match=r"dev9.*options.colour"):
        ModbusCollector(device(502, id="dev9", options={"colour": "red"}), prof)


async def test_a_clean_request_of_small_integers_is_one_block_that_read_spells_out() -> None:
    """The gateway polls with read_blocks: a request of 16-bit registers comes back as one
    SampleBlock (no Sample a point); read() gives the same samples one by one."""
    prof = make_profile([{"name": f"r{i}", "table": "holding", "address": i,
                          "type": "uint16" if i % 2 else "int16", "scale": 0.1} for i in range(300)])
    async with running_sim(prof, seed=5) as sim, ModbusCollector(device(sim.port), prof) as c:
        sim.image().overrides.update({("holding", i): 1000 + i for i in range(300)})
        blocks = await c.read_blocks()
        samples = await c.read()
    assert len(blocks) == c.plan.requests.__len__() == 3  # 125 + 125 + 50 registers
    assert all(isinstance(b, SampleBlock) and b.device == "dev1" for b in blocks)
    assert [s.tag for s in expand(blocks)] == [f"r{i}" for i in range(300)]
    assert [s.value for s in expand(blocks)] == [s.value for s in samples] == [
        (1000 + i) / 10 for i in range(300)]
    assert all(s.quality is Quality.GOOD and s.read_ts == s.ts for s in expand(blocks))


async def test_a_refused_address_keeps_the_poll_in_samples_with_the_bad_ones_named() -> None:
    prof = make_profile([{"name": f"r{i}", "table": "holding", "address": i, "type": "uint16"}
                         for i in range(20)])
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        sim.faults.illegal.add(("holding", 7))
        reading = await c.read_blocks()
    flat = expand(reading)
    assert sorted(s.tag for s in flat) == sorted(f"r{i}" for i in range(20))  # every tag once
    bad = [s for s in flat if s.quality is not Quality.GOOD]
    assert [s.tag for s in bad] == ["r7"] and bad[0].code == 2
