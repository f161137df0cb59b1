"""A device slower than its interval: the ticks that had no poll are counted per device in the
buffer's counters (what every data message carries to the cloud, where the evidence names the
gap ``gateway_overrun``), in the agent's health, and logged once for the burst with its cause.
A real agent reads a real simulator over TCP, slowed by the simulator's fault switch."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from common.config_files import validate
from edge_agent.agent import Agent
from edge_agent.buffer import DiskBuffer
from edge_agent.config import GatewayConfig
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.helpers import profile
from tests.support import eventually_async, free_port
from wire.json_v1 import Counters


async def test_a_device_slower_than_its_interval_counts_skipped_polls(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sim = ModbusSimulator([SimulatedUnit(profile())], port=free_port())
    sim.faults.delay_s = 0.25  # each request waits: a poll of several requests takes > 0.1 s
    async with sim:
        cfg = validate(GatewayConfig, {
            "gateway": {"id": "gw", "enterprise": {"id": "ent"}},
            "broker": {"host": "127.0.0.1", "port": 1},
            "buffer": {"path": str(tmp_path / "buf.sqlite"), "linger_ms": 50},
            "devices": [{"id": "slow", "profile": "energy_meter_3ph", "interval_ms": 100,
                         "timeout_s": 2, "endpoint": f"tcp://127.0.0.1:{sim.port}"}],
        }, "test")
        agent = Agent(cfg, tmp_path / "gw.yaml")

        async def counters() -> Counters:
            return await agent.disk(DiskBuffer.counters, agent.buffer)

        async def skipped() -> int:
            c = await counters()
            return c.devices["slow"].skipped_polls if "slow" in c.devices else 0

        with caplog.at_level(logging.INFO, logger="collectors.supervisor"):
            task = asyncio.create_task(agent.run())
            try:
                await eventually_async(lambda: skipped(), timeout=30,
                                       what="skipped polls in the buffer's counters")
                # and the health /metrics reads shows them too
                assert agent.state.health["slow"].skipped_polls > 0
                assert agent.state.health["slow"].requests > 0
                assert agent.state.health["slow"].poll_times.total > 0
            finally:
                agent.stop.set()
                await asyncio.wait_for(task, 20)
    after = await asyncio.to_thread(_reopen_counters, tmp_path / "buf.sqlite")
    assert after.devices["slow"].skipped_polls >= agent.state.health["slow"].skipped_polls > 0
    burst = [r.getMessage() for r in caplog.records if "poll(s) skipped" in r.getMessage()]
    # the device stayed slow: one burst, logged once, however many ticks it skipped
    assert len(burst) == 1 and "device slow: 跳过轮询" in burst[0] and "a poll took" in burst[0]


def _reopen_counters(path: Path) -> Counters:
    buf = DiskBuffer(str(path), max_bytes=64 * 1024 * 1024)
    try:
        return buf.counters()
    finally:
        buf.close()


def test_status_shows_skipped_polls_per_device(tmp_path: Path) -> None:
    """`edge-agent status` (text) has a skipped column beside read errors."""
    from click.testing import CliRunner

    from edge_agent.cli import main

    buf = DiskBuffer(str(tmp_path / "buf.sqlite"), max_bytes=64 * 1024 * 1024)
    buf.write([], counts={("slow", "skipped_polls"): 12, ("slow", "read"): 30})
    buf.close()
    (tmp_path / "gw.yaml").write_text(
        "gateway: {id: gw, enterprise: {id: ent}}\n"
        f"buffer: {{path: {tmp_path / 'buf.sqlite'}}}\n"
        "devices: [{id: slow, profile: energy_meter_3ph, endpoint: 'tcp://127.0.0.1:1'}]\n")
    out = CliRunner().invoke(main, ["status", "--config", str(tmp_path / "gw.yaml")])
    assert out.exit_code == 0, out.output
    header, row = [line.split() for line in out.output.splitlines()[-2:]]
    assert header[:5] == ["device", "read", "published", "errors", "skipped"]
    assert row[0] == "slow" and row[4] == "12"
