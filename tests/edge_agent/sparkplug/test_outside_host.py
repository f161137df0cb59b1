"""docs/sparkplug.md's claim about stock decoders, checked the way an outside host would.

The real agent reads a simulated meter and publishes Sparkplug through the real broker; an
outside host in its own process (tests/interop/sparkplug/host.js: MQTT.js + Eclipse Tahu's
sparkplug-payload) subscribes and decodes. Our DDATA metrics carry no datatype (Sparkplug: they
should not), so a DDATA decoded on its own yields null values; a host that applies the birth's
datatype by alias, as Sparkplug hosts must, reads every value our own decoder reads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from tests.cloud_ingest.sparkplug.node import OutsideHost, node_exe
from tests.edge_agent.sparkplug.common import config
from tests.support import Capture, eventually_async, free_port
from wire.json_v1 import DataMessage
from wire.sparkplug.decoder import SparkplugDecoder

pytestmark = pytest.mark.integration


async def test_an_outside_host_reads_every_value_once_it_applies_the_birth_datatypes(
        tmp_path: Path, broker: tuple[str, int], uid: str) -> None:
    from device_profiles.loader import resolve_profile
    from device_profiles.modbus import ModbusProfile
    from simulators.modbus.server import ModbusSimulator, SimulatedUnit

    group = f"plant-{uid}"
    host = OutsideHost(node_exe(), broker=broker, group=group)
    ours = Capture(*broker, f"spBv1.0/{group}/#")  # the same messages, for our own decoder
    try:
        meter = resolve_profile("energy_meter_3ph")
        assert isinstance(meter, ModbusProfile)
        port = free_port()
        cfg = config(tmp_path, uid=uid, port=broker[1], device_endpoint=f"tcp://127.0.0.1:{port}")
        async with ModbusSimulator([SimulatedUnit(meter)], port=port):
            agent = Agent(cfg, tmp_path / "gw.yaml")
            task = asyncio.create_task(agent.run())
            try:
                await eventually_async(lambda: host.received("DDATA") >= 3, timeout=30,
                                       what="three DDATA at the outside host")
            finally:
                agent.stop.set()
                await asyncio.wait_for(task, 15)
        await eventually_async(lambda: len(ours.messages) >= host.count(lambda e: e["event"] == "message"),
                               timeout=10, what="our capture caught up")
        seen = host.seen()
    finally:
        host.kill()
        ours.close()
    dec = SparkplugDecoder()
    with ours._lock:
        captured = list(ours.messages)
    data = [m for t, p in captured for m in dec.decode(t, p) if isinstance(m, DataMessage)]
    ddata = [m for m in seen if m["topic"].split("/")[2] == "DDATA"]
    assert len(ddata) >= 3 and len(data) >= len(ddata)
    for theirs, mine in zip(ddata, data, strict=False):
        plain = [m["value"] for m in theirs["plain"]["metrics"]]
        assert plain and all(v is None for v in plain)  # no datatype in DDATA: a stock decode is null
        typed = theirs["host"]["metrics"][: mine.sample_count()]
        assert [m["value"] for m in typed] == [s.v for s in mine.all_samples()]
        assert [m["timestamp"] for m in typed] == [s.ts for s in mine.all_samples()]
        assert all(s.q == "good" and s.v is not None for s in mine.all_samples())
        seq = theirs["host"]["metrics"][mine.sample_count()]
        assert (seq["type"], seq["value"]) == ("UInt64", mine.seq)  # Gateway/Batch Seq, by its birth type
