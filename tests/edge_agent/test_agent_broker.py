"""The agent against the real broker: birth, numbered batches, bad samples for a dead device,
and a broker outage that loses nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from common.config_files import validate
from edge_agent.agent import Agent
from edge_agent.config import GatewayConfig
from tests.support import Capture, Mosquitto, eventually_async, free_port
from wire.json_v1 import BirthMessage, DataMessage, DeathMessage, WireBlock, topic
from wire.sample import now_ms


def gateway(tmp_path: Path, *, uid: str, port: int) -> GatewayConfig:
    data = {
        "gateway": {"id": f"gw-{uid}", "enterprise": {"id": f"ent-{uid}", "industry": "food"}},
        "broker": {"host": "127.0.0.1", "port": port, "keepalive_s": 5},
        "buffer": {"path": str(tmp_path / "buf.sqlite"), "linger_ms": 100},
        # nothing listens on this port: the device is unreachable on purpose
        "devices": [{"id": "dead-meter", "profile": "energy_meter_3ph", "timeout_s": 0.5,
                     "endpoint": f"tcp://127.0.0.1:{free_port()}", "interval_ms": 200}],
    }
    return validate(GatewayConfig, data, "test")


async def run_until(agent: Agent, done: Callable[[], object], *, what: str,
                    timeout: float = 20) -> None:
    """Run the agent until ``done()`` holds, then stop it cleanly."""
    task = asyncio.create_task(agent.run())
    try:
        await eventually_async(done, timeout=timeout, what=what)
    finally:
        agent.stop.set()
        await asyncio.wait_for(task, 15)


async def connected(agent: Agent) -> None:
    await eventually_async(lambda: agent.mqtt.connected.is_set(), timeout=10,
                           what="the agent connected to the broker")


def batches(cap: Capture) -> list[DataMessage]:
    return [DataMessage.model_validate_json(p) for p in cap.of_kind("data")]


async def test_dead_device_yields_bad_samples_birth_and_gapless_seq(
    tmp_path: Path, broker: tuple[str, int], uid: str
) -> None:
    cfg = gateway(tmp_path, uid=uid, port=broker[1])
    cap = Capture(*broker, topic(f"ent-{uid}", f"gw-{uid}", "+"))
    try:
        await run_until(Agent(cfg, tmp_path / "gw.yaml"), lambda: len(batches(cap)) >= 3,
                        what="three batches of the dead device's bad samples")
        await asyncio.to_thread(cap.wait_for, lambda: cap.of_kind("death"), 10)
    finally:
        cap.close()
    birth = BirthMessage.model_validate_json(cap.of_kind("birth")[0])
    assert birth.devices[0].id == "dead-meter" and len(birth.devices[0].tags) == 16
    data = batches(cap)
    assert [b.seq for b in data] == list(range(1, len(data) + 1))
    samples = [s for b in data for s in b.all_samples()]
    assert samples and all(s.q == "bad" and s.v is None for s in samples)
    assert "device offline" in (samples[0].r or "")
    counters = data[-1].counters
    assert counters is not None and counters.devices["dead-meter"].read_errors >= 1
    death = DeathMessage.model_validate_json(cap.of_kind("death")[-1])
    assert death.reason == "shutdown" and death.session == birth.session


async def test_broker_outage_buffers_then_delivers_everything_in_order(
    tmp_path: Path, uid: str
) -> None:
    own = Mosquitto()
    own.start()
    cfg = gateway(tmp_path, uid=uid, port=own.port)
    agent = Agent(cfg, tmp_path / "gw.yaml")
    task = asyncio.create_task(agent.run())
    try:
        await eventually_async(lambda: agent.state.published_batches > 0, timeout=10,
                               what="a first batch published before the outage")
        own.stop()  # the uplink goes away; the agent keeps reading and buffering
        await eventually_async(lambda: not agent.mqtt.connected.is_set(), timeout=10,
                               what="the agent noticing the broker is gone")
        backlog = await eventually_async(
            lambda: agent.disk(agent.buffer.backlog_samples), timeout=10,
            what="samples buffered during the outage")
        assert backlog > 0, "nothing was buffered during the outage"
        await asyncio.sleep(3.5)  # longer than the counters' copy may be old while batches flow
        read_before = (await agent.disk(agent.buffer.counters)).devices["dead-meter"].read
        restarted = now_ms()
        own.start()
        cap = Capture("127.0.0.1", own.port, topic(f"ent-{uid}", f"gw-{uid}", "data"))

        async def drained() -> bool:
            return await agent.disk(agent.buffer.depth) == (0, 0)

        try:
            await eventually_async(drained, timeout=30, what="the backlog drained after the outage")
        finally:
            agent.stop.set()
            await asyncio.wait_for(task, 15)
            cap.close()
    finally:
        own.close()
    counters = agent.buffer  # closed: read the file again for the final tallies
    reopened = type(counters)(tmp_path / "buf.sqlite", max_bytes=1 << 30)
    c = reopened.counters().devices["dead-meter"]
    last_seq = reopened.next_seq - 1
    assert c.read == c.buffered == c.published and not c.dropped
    reopened.close()
    # after the outage every batch arrives (live ones first, then the backlog; paho may resend
    # an in-flight one, which the cloud stores once): no gap up to the last batch sealed
    unique = sorted({b.seq for b in batches(cap)})
    assert unique == list(range(unique[0], unique[-1] + 1))
    assert unique[-1] == last_seq
    assert json.loads(cap.of_kind("data")[-1])["counters"]["devices"]["dead-meter"]["read"] > 0
    # the first batches after the outage carry counters read after it, not the copy from before
    # it (the cloud names the cause of a gap from the first report after it)
    after = [m for m in batches(cap) if m.sent >= restarted]
    assert after and all(m.counters is not None and m.counters.devices["dead-meter"].read >= read_before
                         for m in after), [
        (m.seq, m.counters and m.counters.devices["dead-meter"].read) for m in after[:3]]


async def test_compressed_batches_are_gzip_of_the_documented_json(
    tmp_path: Path, broker: tuple[str, int], uid: str
) -> None:
    import gzip

    from wire.json_v1 import decode_payload

    data = gateway(tmp_path, uid=uid, port=broker[1]).model_dump()
    data["publish"] = {"compress": True}
    cfg = validate(GatewayConfig, data, "test")
    cap = Capture(*broker, topic(f"ent-{uid}", f"gw-{uid}", "data"))
    try:
        await run_until(Agent(cfg, tmp_path / "gw.yaml"), lambda: cap.of_kind("data"),
                        what="a compressed batch")
    finally:
        cap.close()
    raw = cap.of_kind("data")[0]
    assert raw[:2] == b"\x1f\x8b"
    msg = DataMessage.model_validate_json(decode_payload(raw, max_bytes=1 << 20))
    assert msg.seq == 1 and msg.stream and msg.samples
    assert len(raw) < len(gzip.decompress(raw))


async def test_under_load_each_batch_goes_out_once(
    tmp_path: Path, broker: tuple[str, int], uid: str
) -> None:
    """Samples arriving faster than the window drains: with no reconnect, every sealed batch
    is published exactly once (an acknowledged batch waiting for its removal from disk was
    once picked again and resent)."""
    from wire.sample import Quality, Sample

    cfg = gateway(tmp_path, uid=uid, port=broker[1])
    cfg = cfg.model_copy(update={
        "buffer": cfg.buffer.model_copy(update={"linger_ms": 20, "batch_max_samples": 100}),
        "broker": cfg.broker.model_copy(update={"max_inflight": 4}),
        "devices": [cfg.devices[0].model_copy(update={"enabled": False})],
    })
    agent = Agent(cfg, tmp_path / "gw.yaml")
    # data and the farewell on one subscription: the death comes after every data message of
    # the session, so once it is in, any resend would be in too
    cap = Capture(*broker, topic(f"ent-{uid}", f"gw-{uid}", "+"))
    task = asyncio.create_task(agent.run())
    try:
        await connected(agent)
        total = 0
        for r in range(200):
            poll = [Sample(f"m{d}", f"t{i}", 1_700_000_000_000 + r, float(i), Quality.GOOD,
                           1_700_000_000_000 + r) for d in range(5) for i in range(16)]
            await agent.accept(poll)
            total += len(poll)
            if r % 20 == 0:
                await asyncio.sleep(0)
        await eventually_async(lambda: agent.state.published_samples >= total, timeout=30,
                               what=f"the broker acknowledging all {total} samples")
        await asyncio.to_thread(cap.wait_for, lambda: len(cap.of_kind("data")) >= total // 100, 10)
    finally:
        agent.stop.set()
        await asyncio.wait_for(task, 15)
    try:
        await asyncio.to_thread(cap.wait_for, lambda: cap.of_kind("death"), 10)
    finally:
        cap.close()
    seqs = [b.seq for b in batches(cap)]
    assert sorted(seqs) == list(range(1, len(seqs) + 1)), "a batch went out twice, or one is missing"
    assert sum(len(b.samples) for b in batches(cap)) == total
    assert agent.state.published_samples == total


async def stop_midway(tmp_path: Path, broker: tuple[str, int], uid: str,
                      monkeypatch: pytest.MonkeyPatch, *, slow: str, samples: int,
                      buffer: dict[str, int]) -> list[DataMessage]:
    """Run the agent with the buffer's ``slow`` step taking 0.5 s (a slow flash card), hand
    it ``samples`` samples, stop it while that step runs, and check the clean stop left
    nothing unsent; returns the batches published."""
    import threading
    import time as clock

    from edge_agent.buffer import DiskBuffer
    from wire.sample import Quality, Sample

    cfg = gateway(tmp_path, uid=uid, port=broker[1])
    cfg = cfg.model_copy(update={
        "buffer": cfg.buffer.model_copy(update=buffer),
        "devices": [cfg.devices[0].model_copy(update={"enabled": False})],
    })
    started = threading.Event()
    real = getattr(DiskBuffer, slow)

    def slowly(self: DiskBuffer, *args: object, **kw: object) -> object:
        # only the first step that has work to do (a write with rows, a seal with rows)
        if (args[0] if slow == "write" else self.pending_samples) and not started.is_set():
            started.set()
            clock.sleep(0.5)
        return real(self, *args, **kw)

    monkeypatch.setattr(DiskBuffer, slow, slowly)
    agent = Agent(cfg, tmp_path / "gw.yaml")
    cap = Capture(*broker, topic(f"ent-{uid}", f"gw-{uid}", "data"))
    task = asyncio.create_task(agent.run())
    try:
        await connected(agent)
        await agent.accept([Sample("m1", f"t{i}", 1_700_000_000_000, float(i), Quality.GOOD,
                                   1_700_000_000_000) for i in range(samples)])
        await asyncio.to_thread(started.wait, 5)
        agent.stop.set()  # while the slow step runs on the buffer's thread
        await asyncio.wait_for(task, 15)
        await asyncio.to_thread(
            cap.wait_for, lambda: sum(len(b.samples) for b in batches(cap)) >= samples, 10)
    finally:
        cap.close()
    again = DiskBuffer(tmp_path / "buf.sqlite", max_bytes=1 << 30)
    assert again.depth() == (0, 0), "a clean stop leaves nothing unsent"
    assert again.counters().devices["m1"].published == samples
    again.close()
    return batches(cap)


async def test_a_stop_during_a_commit_still_sends_what_it_sealed(
    tmp_path: Path, broker: tuple[str, int], uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop comes while a (slow) commit is writing: the batches that commit seals must
    still go out before the agent exits, not wait on disk until the next start (a CI run
    once caught one left behind, when the stop cancelled the committer mid-commit)."""
    sent = await stop_midway(tmp_path, broker, uid, monkeypatch, slow="write", samples=100,
                             buffer={"linger_ms": 60_000, "batch_max_samples": 50})
    assert sorted(b.seq for b in sent) == [1, 2]


async def test_a_stop_during_a_seal_still_sends_what_it_sealed(
    tmp_path: Path, broker: tuple[str, int], uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for sealing by time: with the stop coming while its seal (linger time up)
    is in its transaction, the batch it makes must still go out before the agent exits."""
    sent = await stop_midway(tmp_path, broker, uid, monkeypatch, slow="seal",
                             samples=10, buffer={"linger_ms": 50, "batch_max_samples": 1000})
    assert [b.seq for b in sent] == [1]


@pytest.mark.parametrize("blocks", [True, False])
async def test_a_live_device_goes_out_in_blocks_unless_they_are_off(
    tmp_path: Path, broker: tuple[str, int], uid: str, blocks: bool
) -> None:
    """A device that answers every request: its polls go out as wire blocks (one a request,
    good samples read together), or with ``publish.blocks: false`` (a cloud older than
    blocks) as one sample a tag; the same samples either way."""
    from tests.collectors.modbus.helpers import profile, running_sim

    prof = profile()
    data = gateway(tmp_path, uid=uid, port=broker[1]).model_dump(mode="json")
    async with running_sim(prof, seed=2) as sim:
        data["devices"][0].update(endpoint=f"tcp://127.0.0.1:{sim.port}", id="live-meter")
        data["publish"] = {"blocks": blocks}
        cfg = validate(GatewayConfig, data, "test")
        cap = Capture(*broker, topic(f"ent-{uid}", f"gw-{uid}", "data"))
        try:
            await run_until(Agent(cfg, tmp_path / "gw.yaml"),
                            lambda: sum(b.sample_count() for b in batches(cap)) >= 48,
                            what="three polls of the live meter")
        finally:
            cap.close()
    items = [item for b in batches(cap) for item in b.samples]
    assert all(isinstance(i, WireBlock) for i in items) is blocks
    assert any(isinstance(i, WireBlock) for i in items) is blocks
    samples = [s for b in batches(cap) for s in b.all_samples()]
    tags = [t.name for t in prof.tags]
    assert [sorted(s.t for s in samples[i:i + 16]) for i in (0, 16, 32)] == [sorted(tags)] * 3
    assert all(s.d == "live-meter" and s.q == "good" and s.v is not None for s in samples)
