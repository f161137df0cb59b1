"""The shipped Modbus profiles: one per pilot industry, each with its sources, each served by
the simulator (strict, like a real device) and read back whole by the collector."""

from __future__ import annotations

import pytest

from collectors.modbus import ModbusCollector
from device_profiles.loader import library_profiles, load_profile
from device_profiles.modbus import ModbusProfile
from tests.collectors.modbus.helpers import device, running_sim
from wire.sample import Quality

MODBUS = {name: path for name, path in library_profiles().items() if path.parent.name == "modbus"}
INDUSTRIES = {"food", "textiles", "biopharma", "equipment", "new_materials", "metal_products"}


def test_every_pilot_industry_has_a_profile_with_sources() -> None:
    profiles = [load_profile(p) for p in MODBUS.values()]
    assert {p.industry for p in profiles} >= INDUSTRIES
    for p in profiles:
        assert p.sources and p.manufacturer and p.model, p.profile
        if p.profile != "energy_meter_3ph":  # the pilot-industry maps say whose map they follow
            assert any("modelled on" in s for s in p.sources), p.profile


@pytest.mark.parametrize("name", sorted(MODBUS))
async def test_library_profile_served_and_read_back(name: str) -> None:
    prof = load_profile(MODBUS[name])
    assert isinstance(prof, ModbusProfile)
    unit = prof.defaults.unit_id
    async with running_sim(prof, unit=unit, strict=True) as sim, ModbusCollector(device(sim.port), prof) as c:
        first = await c.read()
        second = await c.read()
        served = dict(sim.image(unit).values)
    assert [s.tag for s in first] == [t.name for t in prof.tags]
    assert all(s.quality is Quality.GOOD for s in first + second), [s for s in first if s.reason]
    for s in second:
        want = served[s.tag]
        if isinstance(want, bool) or isinstance(s.value, bool):
            continue  # bits: exact values are checked in the encoding tests
        tag = next(t for t in prof.tags if t.name == s.tag)
        if tag.mask is not None:
            continue  # a bit field of a value the generator drives as a whole
        assert s.value == pytest.approx(want, rel=0.02, abs=abs(tag.scale) + 0.05), s.tag
