"""The OPC UA simulator: nodes from the profile, generators, and faults on command over OPC UA."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua import Client, ua

from device_profiles.loader import load_profile
from device_profiles.opcua import OpcUaProfile
from simulators.opcua.server import SIM_NAMESPACE, OpcUaSimulator
from tests.support import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")
PROFILE = Path(__file__).resolve().parents[2] / "cases" / "opcua" / "basic" / "profile.yaml"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[OpcUaSimulator]:
    profile = load_profile(PROFILE)
    assert isinstance(profile, OpcUaProfile)
    s = OpcUaSimulator(profile, port=free_port(), tick_s=0.05)
    async with s:
        yield s
    s.close()


async def test_bad_and_good_on_command_through_the_simulator_method(sim: OpcUaSimulator) -> None:
    async with Client(sim.endpoint, timeout=5) as client:
        ns = await client.get_namespace_index(SIM_NAMESPACE)
        ctl = client.get_node(_nid("Simulator", ns))
        node = client.get_node(sim.nodes["speed"])
        assert await ctl.call_method(_nid("Simulator.SetBad", ns), "speed", "BadDeviceFailure") is True
        dv = await node.read_data_value(raise_on_bad_status=False)
        assert dv.StatusCode is not None and dv.StatusCode.name == "BadDeviceFailure"
        assert await ctl.call_method(_nid("Simulator.SetGood", ns), "speed") is True
        dv = await node.read_data_value()
        assert dv.StatusCode is not None and dv.StatusCode.is_good()
        set_bad = _nid("Simulator.SetBad", ns)
        assert await ctl.call_method(set_bad, "no_such_tag", "BadDeviceFailure") is False


async def test_set_bad_refuses_unknown_tags_and_codes(sim: OpcUaSimulator) -> None:
    with pytest.raises(KeyError, match="no tag 'nope'"):
        await sim.set_bad("nope")
    with pytest.raises(ValueError, match="not a Bad"):
        await sim.set_bad("speed", "Good")


async def test_nodes_sit_in_a_browsable_tree_with_declared_types(sim: OpcUaSimulator) -> None:
    async with Client(sim.endpoint, timeout=5) as client:
        node = client.get_node(sim.nodes["speed"])
        assert (await node.read_browse_name()).Name == "Speed"
        parent = await node.get_parent()
        assert parent is not None and (await parent.read_browse_name()).Name == "Line1"
        count = client.get_node(sim.nodes["count"])
        assert await count.read_data_type_as_variant_type() == ua.VariantType.UInt32
        zones = client.get_node(sim.nodes["profile_temps"])
        assert await zones.read_value_rank() == 1 and await zones.read_value() == [1.5, 1.5, 1.5]


def _nid(ident: str, ns: int) -> ua.NodeId:
    return ua.NodeId(ua.String(ident), ua.Int16(ns))
