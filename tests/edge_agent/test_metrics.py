"""`/metrics` served by prometheus_client's WSGI app on its own thread, read through the small
`HealthSource` protocol (a fake source here; tests/edge_agent/test_health.py runs the real
agent): every family and label, 404 off `/metrics`, 503 while the buffer cannot be read, and
an agent whose metrics port is taken runs on without them."""

from __future__ import annotations

import asyncio
import logging
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.config_files import validate
from edge_agent.agent import Agent
from edge_agent.config import GatewayConfig
from edge_agent.health import AgentState, BufferHealth, BufferUnavailable, DeviceHealth
from edge_agent.metrics import MetricsServer
from tests.support import eventually_async, free_port
from wire.json_v1 import Counters, DeviceCounters
from wire.sample import Quality, Sample


class Source:
    def __init__(self) -> None:
        self.state = AgentState(session="s", started_ms=0, published_samples=42, published_batches=3,
                                health={"m1": DeviceHealth(connected=True, last_good_ms=1_700_000_000_000)})
        self.figures: BufferHealth | None = BufferHealth(
            pending=5, batches=2, backlog=25, used_bytes=65536, oldest_ms=None,
            counters=Counters(batches_published=3, devices={"m1": DeviceCounters(
                read=70, buffered=70, published=42, read_errors=1, dropped={"buffer_full": 3})}))

    def broker_connected(self) -> bool:
        return True

    def buffer_health(self) -> BufferHealth:
        if self.figures is None:
            raise BufferUnavailable("the buffer's thread has been shut down")
        return self.figures


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_every_family_and_label_and_only_metrics_is_served() -> None:
    port = free_port()
    server = MetricsServer(Source(), port=port)
    try:
        status, text = get(port, "/metrics")
        missing, _ = get(port, "/nope")
    finally:
        server.close()
    assert (status, missing) == (200, 404)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in families.values() for s in f.samples}
    assert values[("edge_buffer_pending_samples", ())] == 5
    assert values[("edge_buffer_unsent_batches", ())] == 2
    assert values[("edge_buffer_backlog_samples", ())] == 25
    assert values[("edge_buffer_bytes", ())] == 65536
    assert values[("edge_buffer_oldest_unsent_age_seconds", ())] == 0
    assert values[("edge_broker_connected", ())] == 1
    assert values[("edge_published_samples_total", ())] == 42
    assert values[("edge_published_batches_total", ())] == 3
    assert values[("edge_device_read_samples_total", (("device", "m1"),))] == 70
    assert values[("edge_device_published_samples_total", (("device", "m1"),))] == 42
    assert values[("edge_device_read_errors_total", (("device", "m1"),))] == 1
    assert values[("edge_device_dropped_samples_total", (("device", "m1"), ("reason", "buffer_full")))] == 3
    assert values[("edge_device_connected", (("device", "m1"),))] == 1
    assert values[("edge_device_last_good_read_timestamp_seconds", (("device", "m1"),))] == 1_700_000_000


def test_a_scrape_while_the_buffer_cannot_be_read_is_503_saying_why() -> None:
    source = Source()
    source.figures = None
    port = free_port()
    server = MetricsServer(source, port=port)
    try:
        status, text = get(port, "/metrics")
    finally:
        server.close()
    assert status == 503 and "buffer figures unavailable: the buffer's thread has been shut down" in text


async def test_an_agent_whose_metrics_port_is_taken_runs_on_without_metrics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    cfg = validate(GatewayConfig, {
        "gateway": {"id": "gw", "enterprise": {"id": "ent"}},
        "broker": {"host": "127.0.0.1", "port": 1},
        "buffer": {"path": str(tmp_path / "buf.sqlite"), "linger_ms": 50},
        "metrics_port": port,
        "devices": [{"id": "unused", "profile": "energy_meter_3ph",
                     "endpoint": "tcp://127.0.0.1:1", "enabled": False}],
    }, "test")
    agent = Agent(cfg, tmp_path / "gw.yaml")
    try:
        with caplog.at_level(logging.ERROR, logger="edge_agent.agent"):
            task = asyncio.create_task(agent.run())
            await eventually_async(lambda: "cannot serve /metrics" in caplog.text, timeout=10,
                                   what="the error naming the taken port")
            assert f"127.0.0.1:{port}" in caplog.text and "metrics_port" in caplog.text
            await agent.accept([Sample("m1", "t", 1_700_000_000_000, 1.0, Quality.GOOD,
                                       1_700_000_000_000)])
            await eventually_async(lambda: agent.buffer.next_seq > 1, timeout=10,
                                   what="the agent sealing what it accepted")
            assert not task.done(), "the agent runs on"
    finally:
        agent.stop.set()
        await asyncio.wait_for(task, 15)
        taken.close()


def test_poll_figures_per_device_requests_durations_skips_and_plan() -> None:
    """Requests sent, the poll duration histogram, the requests a poll takes (the planner's
    plan) and the skipped polls (cumulative, from the buffer's counters)."""
    source = Source()
    h = source.state.health["m1"]
    h.requests, h.planned_requests = 120, 4
    for seconds in (0.004, 0.03, 0.03, 0.7):
        h.poll_times.observe(seconds)
    assert source.figures is not None
    source.figures = BufferHealth(
        pending=0, batches=0, backlog=0, used_bytes=0, oldest_ms=None,
        counters=Counters(devices={"m1": DeviceCounters(read=10, skipped_polls=7)}))
    port = free_port()
    server = MetricsServer(source, port=port)
    try:
        status, text = get(port, "/metrics")
    finally:
        server.close()
    assert status == 200
    m1 = (("device", "m1"),)
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in text_string_to_metric_families(text) for s in f.samples}
    assert values[("edge_device_requests_total", m1)] == 120
    assert values[("edge_device_poll_requests", m1)] == 4
    assert values[("edge_device_skipped_polls_total", m1)] == 7
    assert values[("edge_device_poll_duration_seconds_count", m1)] == 4
    assert abs(values[("edge_device_poll_duration_seconds_sum", m1)] - 0.764) < 1e-9
    bucket = "edge_device_poll_duration_seconds_bucket"
    assert values[(bucket, (("device", "m1"), ("le", "0.005")))] == 1
    assert values[(bucket, (("device", "m1"), ("le", "0.05")))] == 3
    assert values[(bucket, (("device", "m1"), ("le", "0.5")))] == 3
    assert values[(bucket, (("device", "m1"), ("le", "1.0")))] == 4
    assert values[(bucket, (("device", "m1"), ("le", "+Inf")))] == 4
