"""discover() against the simulator: the skeleton it writes is a valid profile that reads."""

from __future__ import annotations

import pytest
import yaml

from collectors.base import DeviceUnreachable
from collectors.opcua.collector import OpcUaCollector
from collectors.opcua.discover import discover
from device_profiles.models import PROFILE_ADAPTER
from device_profiles.opcua import OpcUaProfile
from simulators.opcua.server import OpcUaSimulator
from tests.collectors.opcua.conftest import device
from tests.support import free_port
from wire.sample import Quality

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_skeleton_has_types_nsu_ids_and_intervals_and_reads_back(
    basic_sim: OpcUaSimulator, basic_profile: OpcUaProfile
) -> None:
    found = await discover(basic_sim.endpoint, depth=4)
    profile = PROFILE_ADAPTER.validate_python(yaml.safe_load(yaml.safe_dump(found)))
    assert isinstance(profile, OpcUaProfile)
    by_node = {t.node_id: t for t in profile.tags}
    speed = by_node["nsu=urn:test:line1;s=Line1.Speed"]
    assert (speed.name, speed.type, speed.interval_ms) == ("test_opcua_basic_line1_speed", "Double", 1000)
    assert by_node["nsu=urn:test:line1;s=Line1.Running"].interval_ms == 500
    assert by_node["nsu=urn:test:line1;s=Line1.State"].type == "String"
    assert by_node["nsu=urn:test:line1;s=T.Zones"].array_length == 3
    assert "nsu=urn:test:line1;g=09087e75-8e5e-499b-954f-f2a9603db28a" in by_node
    assert "nsu=urn:test:line1;b=UExDMQ==" in by_node
    assert len(profile.tags) == len(basic_profile.tags)
    assert profile.namespaces == ["urn:test:line1"]
    async with OpcUaCollector(device(basic_sim.endpoint, mode="poll"), profile) as c:
        assert all(s.quality is Quality.GOOD for s in await c.read())


async def test_depth_and_filter_narrow_the_skeleton(basic_sim: OpcUaSimulator) -> None:
    only_line = await discover(basic_sim.endpoint, depth=4, filter="*line1.speed*")
    assert [t["node_id"] for t in only_line["tags"]] == [
        "nsu=urn:test:line1;s=Line1.Speed",
        "nsu=urn:test:line1;s=Line1.SpeedDeadband",
    ]
    shallow = await discover(basic_sim.endpoint, depth=2)
    assert {t["node_id"] for t in shallow["tags"]}.isdisjoint({"nsu=urn:test:line1;s=Line1.Speed"})


async def test_nothing_matching_says_what_to_try(basic_sim: OpcUaSimulator) -> None:
    with pytest.raises(ValueError, match="try a larger --depth or another --filter"):
        await discover(basic_sim.endpoint, filter="no-such-thing")


async def test_unreachable_server_is_device_unreachable() -> None:
    with pytest.raises(DeviceUnreachable, match="discover"):
        await discover(f"opc.tcp://127.0.0.1:{free_port()}", timeout_s=2)


async def test_unknown_security_option_is_an_options_error() -> None:
    from collectors.opcua.errors import OptionsError

    with pytest.raises(OptionsError, match="security_polcy"):
        await discover("opc.tcp://127.0.0.1:1", security_polcy="Basic256Sha256")
