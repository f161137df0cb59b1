"""Every shipped OPC UA profile loads, is served by the simulator and reads back good."""

from __future__ import annotations

import pytest

from collectors.opcua.collector import OpcUaCollector
from device_profiles.loader import library_profiles, load_profile
from device_profiles.opcua import OpcUaProfile
from simulators.opcua.server import OpcUaSimulator
from tests.collectors.opcua.conftest import device
from tests.support import free_port
from wire.sample import Quality

OPCUA = sorted(name for name, path in library_profiles().items() if path.parent.name == "opcua")
INDUSTRIES = {"food", "biopharma", "textiles", "new_materials", "metal_products", "equipment"}


def test_there_is_a_profile_for_each_pilot_industry_using_opcua() -> None:
    industries = set()
    for name in OPCUA:
        profile = load_profile(library_profiles()[name])
        assert isinstance(profile, OpcUaProfile)
        assert profile.sources and profile.description
        industries.add(profile.industry)
    assert industries == INDUSTRIES


@pytest.mark.parametrize("name", OPCUA)
async def test_library_profile_is_served_and_reads_good(name: str) -> None:
    profile = load_profile(library_profiles()[name])
    assert isinstance(profile, OpcUaProfile)
    sim = OpcUaSimulator(profile, port=free_port())
    async with sim:
        async with OpcUaCollector(device(sim.endpoint, mode="poll"), profile) as c:
            samples = await c.read()
        async with OpcUaCollector(device(sim.endpoint), profile) as c:
            first = await anext(c.subscribe())
    sim.close()
    assert [s.tag for s in samples] == [t.name for t in profile.tags]
    assert all(s.quality is Quality.GOOD for s in samples), [s for s in samples if s.quality]
    assert {s.tag for s in first} == {t.name for t in profile.tags}
