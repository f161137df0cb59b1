"""The collector against the real simulator over loopback: subscriptions, polling, types,
node-id notations, bad nodes, and what a user sees when the device is not there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import pytest
import yaml

from collectors.base import DeviceUnreachable
from collectors.opcua.collector import OpcUaCollector
from device_profiles.opcua import OpcUaProfile, OpcUaTag
from simulators.opcua.server import OpcUaSimulator
from tests.collectors.opcua.conftest import CASES, device
from tests.support import eventually_async, free_port
from wire.sample import Quality, Sample

pytestmark = pytest.mark.asyncio(loop_scope="module")

BAD_SENSOR_FAILURE = 0x808C0000
BAD_NODE_ID_UNKNOWN = 0x80340000


async def collect(it: AsyncIterator[list[Sample]], *, batches: int) -> list[Sample]:
    out: list[Sample] = []
    for _ in range(batches):
        out.extend(await anext(it))
    return out


async def test_subscription_delivers_every_tag_with_source_time_then_changes(
    basic_sim: OpcUaSimulator, basic_profile: OpcUaProfile
) -> None:
    async with OpcUaCollector(device(basic_sim.endpoint), basic_profile) as c:
        assert c.mode == "subscribe"
        it = c.subscribe()
        first = await anext(it)
        later = await collect(it, batches=4)
    by_tag = {s.tag: s for s in first}
    assert set(by_tag) == {t.name for t in basic_profile.tags}
    assert all(s.quality is Quality.GOOD and s.code == 0 for s in first)
    assert all(0 < s.ts <= s.read_ts for s in first)
    counts = [s.value for s in later if s.tag == "count"]
    assert counts and all(isinstance(v, int) and v > 0 for v in counts)
    assert [s.tag for s in later].count("speed_db") == 0, "absolute deadband 1000 must hold back a ±10 sine"


async def test_every_type_and_notation_reads_as_documented(
    basic_sim: OpcUaSimulator, basic_profile: OpcUaProfile
) -> None:
    async with OpcUaCollector(device(basic_sim.endpoint, mode="poll"), basic_profile) as c:
        samples = {s.tag: s for s in await c.read()}
    assert all(s.quality is Quality.GOOD for s in samples.values()), samples
    v = {k: s.value for k, s in samples.items()}
    assert isinstance(v["speed"], float) and isinstance(v["running"], bool)
    expected = yaml.safe_load((CASES / "basic" / "expected.yaml").read_text())
    assert {k: v[k] for k in expected} == expected
    assert isinstance(v["temp"], float)  # nsu= notation
    assert v["state"] in ("idle", "running", "cleaning")
    assert isinstance(v["alarms"], int) and 0 <= v["alarms"] < 256


async def test_poll_mode_yields_a_full_batch_per_cycle(
    basic_sim: OpcUaSimulator, basic_profile: OpcUaProfile
) -> None:
    async with OpcUaCollector(
        device(basic_sim.endpoint, mode="poll", poll_interval_ms=50), basic_profile
    ) as c:
        batches = [b async for b in _take(c.subscribe(), 3)]
    assert [len(b) for b in batches] == [len(basic_profile.tags)] * 3
    assert len({b[0].read_ts for b in batches}) == 3


async def _take(it: AsyncIterator[list[Sample]], n: int) -> AsyncIterator[list[Sample]]:
    for _ in range(n):
        yield await anext(it)


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
async def test_a_node_turned_bad_gives_bad_samples_with_the_servers_code(
    basic_sim: OpcUaSimulator, basic_profile: OpcUaProfile, mode: str
) -> None:
    async with OpcUaCollector(
        device(basic_sim.endpoint, mode=mode, poll_interval_ms=100), basic_profile
    ) as c:
        it = c.subscribe()
        await anext(it)
        await basic_sim.set_bad("temp", "BadSensorFailure")
        try:
            bad = await _first(it, lambda s: s.tag == "temp" and s.quality is Quality.BAD)
            await basic_sim.set_good("temp")
            good = await _first(it, lambda s: s.tag == "temp" and s.quality is Quality.GOOD)
        finally:
            await basic_sim.set_good("temp")
    assert (bad.value, bad.code, bad.reason) == (None, BAD_SENSOR_FAILURE, "BadSensorFailure")
    assert isinstance(good.value, float)


async def _first(it: AsyncIterator[list[Sample]], pred: object, *, batches: int = 50) -> Sample:
    for _ in range(batches):
        for s in await anext(it):
            if pred(s):  # type: ignore[operator]
                return s
    raise AssertionError("no matching sample within 50 batches")


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
async def test_unknown_nodes_are_bad_and_the_rest_still_flow(
    basic_sim: OpcUaSimulator, basic_profile: OpcUaProfile, mode: str
) -> None:
    extra = [
        OpcUaTag(name="ghost", node_id="ns=2;s=No.Such.Node"),
        OpcUaTag(name="ghost_ns", node_id="nsu=urn:not:on:server;i=1"),
    ]
    profile = basic_profile.model_copy(update={"tags": [*basic_profile.tags, *extra]})
    async with OpcUaCollector(device(basic_sim.endpoint, mode=mode), profile) as c:
        first = {s.tag: s for s in await anext(c.subscribe())}
    assert first["ghost"].quality is Quality.BAD and first["ghost"].code == BAD_NODE_ID_UNKNOWN
    assert first["ghost_ns"].quality is Quality.BAD and first["ghost_ns"].code == BAD_NODE_ID_UNKNOWN
    assert "namespace URI" in (first["ghost_ns"].reason or "")
    if mode == "poll":
        assert first["speed"].quality is Quality.GOOD


async def test_nsu_node_ids_survive_namespace_renumbering(
    basic_sim: OpcUaSimulator, basic_profile: OpcUaProfile
) -> None:
    """The same profile against a server whose namespace table has moved by three places."""
    only_nsu = basic_profile.model_copy(update={"tags": [t for t in basic_profile.tags if t.name == "temp"]})
    shifted = OpcUaSimulator(only_nsu, port=free_port(), namespace_shift=3)
    async with shifted:
        assert shifted.nodes["temp"].NamespaceIndex != basic_sim.nodes["temp"].NamespaceIndex
        for sim in (basic_sim, shifted):
            async with OpcUaCollector(device(sim.endpoint, mode="poll"), only_nsu) as c:
                [s] = await c.read()
            assert s.quality is Quality.GOOD and isinstance(s.value, float)
    shifted.close()


async def test_nobody_listening_is_device_unreachable_naming_device_and_endpoint(
    basic_profile: OpcUaProfile,
) -> None:
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    with pytest.raises(DeviceUnreachable) as info:
        async with OpcUaCollector(device(url, id="filler7"), basic_profile):
            pass
    assert "device filler7" in str(info.value) and url in str(info.value)


async def test_offline_samples_mark_every_tag_bad(basic_profile: OpcUaProfile) -> None:
    c = OpcUaCollector(device("opc.tcp://127.0.0.1:1"), basic_profile)
    out = c.offline_samples("server restarted", ts=123)
    assert len(out) == len(basic_profile.tags)
    assert all(s.quality is Quality.BAD and s.ts == 123 and s.code == 0x808A0000 for s in out)
    assert out[0].reason == "device offline: server restarted"


@pytest.mark.parametrize("queue_size", [1, 5])
async def test_queue_size_keeps_intermediate_changes_between_publishes(
    basic_sim: OpcUaSimulator, basic_profile: OpcUaProfile, queue_size: int
) -> None:
    """The counter changes every 100 ms; with a 1 s publishing interval a queue of 1 hands over
    only the latest value, a queue of 5 the last five."""
    tags = [t.model_copy(update={"queue_size": queue_size, "sampling_interval_ms": 50})
            for t in basic_profile.tags if t.name == "count"]
    profile = basic_profile.model_copy(update={"tags": tags})
    async with OpcUaCollector(device(basic_sim.endpoint, publishing_interval_ms=1000), profile) as c:
        it = c.subscribe()
        await anext(it)
        batches = [await anext(it) for _ in range(2)]
    sizes = [len(b) for b in batches]
    if queue_size == 1:
        assert sizes == [1, 1]
    else:
        assert all(1 < n <= queue_size for n in sizes), sizes
        values = [cast(float, s.value) for s in batches[-1]]  # a queued counter: numbers
        assert values == sorted(values), "queued values arrive oldest first"


async def test_cancelling_a_connect_cancels_it(basic_profile: OpcUaProfile) -> None:
    """A supervisor's own timeout around __aenter__ must see cancellation, not an error."""
    import asyncio

    proxy_port = free_port()
    accepted: list[asyncio.StreamWriter] = []
    # accepts, never answers
    silent = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", proxy_port)
    try:
        c = OpcUaCollector(device(f"opc.tcp://127.0.0.1:{proxy_port}", connect_timeout_s=30), basic_profile)
        task = asyncio.create_task(c.__aenter__())
        await eventually_async(lambda: accepted, timeout=10, what="the connect reaches the server")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        silent.close()
