"""The real agent speaking Sparkplug B to the real broker: births, data, a rebirth request, the
last will when the connection dies uncleanly, the farewell, and waiting for the primary host."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from tests.edge_agent.sparkplug.common import config
from tests.support import Capture, free_port
from wire.json_v1 import BirthMessage, DataMessage, DeathMessage
from wire.sparkplug import convention as sp
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.decoder import SparkplugDecoder, rebirth_request

pytestmark = pytest.mark.integration


def kinds(cap: Capture) -> list[str]:
    with cap._lock:
        return [t.split("/")[2] for t, _ in cap.messages]


def of(cap: Capture, kind: str) -> list[pb.Payload]:
    with cap._lock:
        return [pb.Payload.FromString(p) for t, p in cap.messages if t.split("/")[2] == kind]


def bdseq(p: pb.Payload) -> int:
    return next(int(m.long_value) for m in p.metrics if m.name == sp.BDSEQ)


async def wait(cap: Capture, predicate: Callable[[], object], timeout: float = 20) -> None:
    await asyncio.to_thread(cap.wait_for, predicate, timeout)


async def test_births_data_rebirth_will_and_farewell(tmp_path: Path, broker: tuple[str, int],
                                                     uid: str) -> None:
    cfg = config(tmp_path, uid=uid, port=broker[1], device_endpoint=f"tcp://127.0.0.1:{free_port()}")
    group = f"plant-{uid}"
    cap = Capture(*broker, f"spBv1.0/{group}/#")
    agent = Agent(cfg, tmp_path / "gw.yaml")
    task = asyncio.create_task(agent.run())
    try:
        await wait(cap, lambda: "DDATA" in kinds(cap))
        # a host asks for a rebirth: fresh NBIRTH/DBIRTH, seq from 0, same bdSeq (same CONNECT)
        cap.client.publish(*rebirth_request(group, f"gw-{uid}"), qos=0)
        await wait(cap, lambda: kinds(cap).count("NBIRTH") == 2 and "DDATA" in kinds(cap)[
            max(i for i, k in enumerate(kinds(cap)) if k == "NBIRTH"):])
        # the connection dies without DISCONNECT: the broker publishes the last will
        assert agent.mqtt is not None
        agent.mqtt.client.socket().shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        await wait(cap, lambda: "NDEATH" in kinds(cap) and kinds(cap).count("NBIRTH") == 3)
        await wait(cap, lambda: kinds(cap)[-1] == "DDATA")
    finally:
        agent.stop.set()
        await asyncio.wait_for(task, 15)
        try:
            await wait(cap, lambda: kinds(cap).count("NDEATH") == 2, 10)
        finally:
            cap.close()

    seen = [k for k in kinds(cap) if k != "NCMD"]
    assert seen[:2] == ["NBIRTH", "DBIRTH"]
    nbirths, deaths = of(cap, "NBIRTH"), of(cap, "NDEATH")
    assert [bdseq(p) for p in nbirths] == [0, 0, 1]          # rebirth keeps it, reconnect bumps it
    assert [bdseq(p) for p in deaths] == [0, 1]              # will of CONNECT 0, farewell of 1
    assert all(p.seq == 0 for p in nbirths) and not any(p.HasField("seq") for p in deaths)
    # after each NBIRTH, message seq counts up by one across DBIRTH and DDATA
    run: list[int] = []
    with cap._lock:
        ordered = [(t.split("/")[2], pb.Payload.FromString(p)) for t, p in cap.messages]
    for kind, p in ordered:
        if kind == "NBIRTH":
            run = [p.seq]
        elif kind in ("DBIRTH", "DDATA") and run and p.seq not in run:
            assert p.seq == (run[-1] + 1) % 256, (kind, p.seq, run[-3:])
            run.append(p.seq)

    # the cloud side: everything decodes into the wire models
    dec = SparkplugDecoder()
    with cap._lock:
        messages = list(cap.messages)
    decoded = [m for t, p in messages for m in dec.decode(t, p)]
    births = [m for m in decoded if isinstance(m, BirthMessage)]
    data = [m for m in decoded if isinstance(m, DataMessage)]
    dead = [m for m in decoded if isinstance(m, DeathMessage)]
    devices = [d for b in births for d in b.devices]
    assert devices and devices[0].id == "meter-01" and len(devices[0].tags) == 16
    seqs = sorted({m.seq for m in data})
    assert seqs == list(range(1, len(seqs) + 1))              # gapless batch seq, as in JSON
    samples = [s for m in data for s in m.all_samples()]
    assert samples and all(s.q == "bad" and s.v is None and s.d == "meter-01" for s in samples)
    assert "device offline" in (samples[0].r or "")
    assert [d.reason for d in dead] == ["lost", "shutdown"]
    # every message ours, of this session (an Unstored, which has none, would fail it)
    assert {getattr(m, "session", None) for m in decoded} == {agent.state.session}


async def test_waits_for_the_primary_host_before_birth_and_data(tmp_path: Path, broker: tuple[str, int],
                                                                uid: str) -> None:
    host = f"scada-{uid}"
    cfg = config(tmp_path, uid=uid, port=broker[1], primary_host=host,
                 device_endpoint=f"tcp://127.0.0.1:{free_port()}")
    cap = Capture(*broker, f"spBv1.0/plant-{uid}/#")
    agent = Agent(cfg, tmp_path / "gw.yaml")
    task = asyncio.create_task(agent.run())
    state = sp.state_topic(host)
    try:
        await asyncio.to_thread(lambda: cap.wait_for(lambda: agent.mqtt is not None
                                                     and agent.mqtt.connected.is_set(), 10))
        await asyncio.sleep(1.0)  # connected, polling, sealing: but nothing may be published
        assert kinds(cap) == [] and agent.buffer.depth() != (0, 0)
        cap.client.publish(state, json.dumps({"online": True, "timestamp": 1}), qos=1, retain=True)
        await wait(cap, lambda: "DDATA" in kinds(cap))
        assert kinds(cap)[:2] == ["NBIRTH", "DBIRTH"]
        [born] = of(cap, "NBIRTH")
        # the host goes offline: NDEATH, a clean disconnect (no will) and a new session with a
        # new bdSeq, whose births wait for the host to be online again
        cap.client.publish(state, json.dumps({"online": False, "timestamp": 2}), qos=1, retain=True)
        await wait(cap, lambda: "NDEATH" in kinds(cap))
        assert not agent.encoder.ready()
        [death] = of(cap, "NDEATH")
        assert bdseq(death) == bdseq(born)
        assert any(m.string_value == "primary host offline" for m in death.metrics)
        await asyncio.to_thread(lambda: cap.wait_for(lambda: agent.mqtt is not None
                                                     and agent.mqtt.connected.is_set(), 10))
        seen = len(kinds(cap))
        await asyncio.sleep(1.0)  # connected again, still offline: nothing may be published
        assert kinds(cap)[seen:] == []
        cap.client.publish(state, json.dumps({"online": True, "timestamp": 3}), qos=1, retain=True)
        await wait(cap, lambda: kinds(cap).count("NBIRTH") == 2 and kinds(cap)[-1] == "DDATA")
        reborn = of(cap, "NBIRTH")[-1]
        assert bdseq(reborn) == (bdseq(born) + 1) % 256
        assert kinds(cap).count("NDEATH") == 1, "the session ended cleanly: no last will"
    finally:
        cap.client.publish(state, b"", qos=1, retain=True).wait_for_publish(5)  # clear the retained
        agent.stop.set()
        await asyncio.wait_for(task, 15)
        cap.close()


async def test_values_from_a_simulated_meter_arrive_good_and_typed(tmp_path: Path, broker: tuple[str, int],
                                                                   uid: str) -> None:
    from device_profiles.loader import resolve_profile
    from device_profiles.modbus import ModbusProfile
    from simulators.modbus.server import ModbusSimulator, SimulatedUnit

    meter = resolve_profile("energy_meter_3ph")
    assert isinstance(meter, ModbusProfile)
    port = free_port()
    cfg = config(tmp_path, uid=uid, port=broker[1], device_endpoint=f"tcp://127.0.0.1:{port}")
    cap = Capture(*broker, f"spBv1.0/plant-{uid}/#")
    async with ModbusSimulator([SimulatedUnit(meter)], port=port):
        agent = Agent(cfg, tmp_path / "gw.yaml")
        task = asyncio.create_task(agent.run())
        try:
            await wait(cap, lambda: kinds(cap).count("DDATA") >= 3)
        finally:
            agent.stop.set()
            await asyncio.wait_for(task, 15)
            cap.close()
    dec = SparkplugDecoder()
    with cap._lock:
        decoded = [m for t, p in cap.messages for m in dec.decode(t, p)]
    [birth] = [m for m in decoded if isinstance(m, BirthMessage) and m.devices]
    types = {t.name: t.type for t in birth.devices[0].tags}
    samples = [s for m in decoded if isinstance(m, DataMessage) for s in m.all_samples()]
    assert samples and all(s.q == "good" and s.v is not None for s in samples)
    assert {s.t for s in samples} == set(types)
    for s in samples:
        assert type(s.v) is (bool if types[s.t] == "bool" else float), s  # Boolean, else Double
