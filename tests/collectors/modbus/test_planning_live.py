"""Merged reads against devices that refuse some addresses: split, remember, keep reading."""

from __future__ import annotations

from collectors.modbus import ModbusCollector
from tests.collectors.modbus.helpers import device, make_profile, running_sim
from wire.sample import Quality


def _tags(addresses: list[int]) -> list[dict[str, object]]:
    return [{"name": f"r{a}", "address": a, "type": "uint16",
             "sim": {"kind": "constant", "value": a * 10}} for a in addresses]


async def test_illegal_tag_inside_a_merged_block_is_found_and_remembered() -> None:
    prof = make_profile(_tags([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 14, 15]))
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port), prof) as c:
        assert len(c.plan.requests) == 1  # all twelve tags in one read of 16 registers
        sim.faults.illegal.update({("holding", 5), ("holding", 12)})  # a tag and a hole
        first = {s.tag: s for s in await c.read()}
        bad = sorted(t for t, s in first.items() if s.quality is Quality.BAD)
        assert bad == ["r5"]
        assert first["r5"].code == 2 and "illegal data address" in (first["r5"].reason or "")
        assert all(first[f"r{a}"].value == a * 10 for a in (0, 1, 2, 3, 6, 7, 8, 9, 10, 14, 15))

        # next polls: no more probing; exactly the remembered plan, r5 still reported BAD
        planned = len(c.plan.requests)
        assert planned == 3  # 0..3, 6..10, 14..15: re-joined where proven readable
        before = sim.faults.reads
        second = {s.tag: s for s in await c.read()}
        assert sim.faults.reads - before == planned
        assert second["r5"].quality is Quality.BAD and "r5" in c.plan.bad
        assert sum(s.quality is Quality.GOOD for s in second.values()) == 11


async def test_strict_device_refusing_unmapped_registers_still_reads_every_tag() -> None:
    # a device that implements only its mapped registers: merged reads across holes fail
    prof = make_profile(_tags([0, 1, 4, 5, 20, 21, 40, 60, 61]))
    async with running_sim(prof, strict=True) as sim, ModbusCollector(device(sim.port), prof) as c:
        first = await c.read()
        second = await c.read()
    assert all(s.quality is Quality.GOOD for s in first + second)
    assert {s.tag: s.value for s in second} == {f"r{a}": a * 10 for a in (0, 1, 4, 5, 20, 21, 40, 60, 61)}
    assert not c.plan.bad


async def test_max_gap_zero_from_the_profile_avoids_probing() -> None:
    prof = make_profile(_tags([0, 1, 4, 5]), defaults={"max_gap_registers": 0})
    async with running_sim(prof, strict=True) as sim, ModbusCollector(device(sim.port), prof) as c:
        samples = await c.read()
    assert all(s.quality is Quality.GOOD for s in samples)
    assert c.requests_sent == 2 == sim.faults.reads


async def test_device_options_override_planner_limits() -> None:
    prof = make_profile(_tags(list(range(0, 40))))
    async with running_sim(prof) as sim:
        dev = device(sim.port, options={"max_block_registers": 10})
        async with ModbusCollector(dev, prof) as c:
            samples = await c.read()
    assert all(s.quality is Quality.GOOD for s in samples) and c.requests_sent == 4


async def test_refused_tag_is_tried_again_after_reprobe_polls() -> None:
    prof = make_profile(_tags([0, 1, 2, 3]))
    dev_opts = {"reprobe_polls": 3}
    async with running_sim(prof) as sim, ModbusCollector(device(sim.port, options=dev_opts), prof) as c:
        sim.faults.illegal.add(("holding", 2))
        assert [s.quality for s in await c.read()].count(Quality.BAD) == 1  # poll 1
        sim.faults.clear()  # the device serves register 2 again
        assert [s.quality for s in await c.read()].count(Quality.BAD) == 1  # poll 2: remembered
        third = await c.read()  # poll 3: plan rebuilt, merged read works again
    assert all(s.quality is Quality.GOOD for s in third) and len(c.plan.requests) == 1
