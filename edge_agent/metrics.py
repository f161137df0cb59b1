"""A local `/metrics` endpoint in Prometheus text format, served from the agent's own loop.

prometheus_client renders the exposition format; the tiny HTTP server runs in the asyncio
loop. The buffer's figures are read together on the buffer's own thread, then rendered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wire.sample import now_ms

if TYPE_CHECKING:
    from edge_agent.agent import Agent, BufferHealth


class AgentCollector(Collector):
    def __init__(self, agent: Agent, buffer: BufferHealth) -> None:
        self.agent = agent
        self.buffer = buffer

    def collect(self) -> Iterator[Metric]:
        a, buf = self.agent, self.buffer
        pending, batches, oldest = buf.pending, buf.batches, buf.oldest_ms
        yield GaugeMetricFamily("edge_buffer_pending_samples", "samples not yet sealed", pending)
        yield GaugeMetricFamily("edge_buffer_unsent_batches", "sealed, unacknowledged batches",
                                batches)
        yield GaugeMetricFamily("edge_buffer_backlog_samples", "samples waiting for the broker",
                                buf.backlog)
        yield GaugeMetricFamily("edge_buffer_bytes", "bytes used by the disk buffer",
                                buf.used_bytes)
        yield GaugeMetricFamily("edge_buffer_oldest_unsent_age_seconds",
                                "age of the oldest data not yet acknowledged",
                                0.0 if oldest is None else (now_ms() - oldest) / 1000)
        yield GaugeMetricFamily("edge_broker_connected", "1 when connected to the broker",
                                1 if a.mqtt is not None and a.mqtt.connected.is_set() else 0)
        yield CounterMetricFamily("edge_published_samples", "samples acknowledged by the broker "
                                  "since start", a.state.published_samples)
        yield CounterMetricFamily("edge_published_batches", "batches acknowledged since start",
                                  a.state.published_batches)
        per = {
            "read": CounterMetricFamily("edge_device_read_samples", "samples read, cumulative",
                                        labels=["device"]),
            "published": CounterMetricFamily("edge_device_published_samples",
                                             "samples published, cumulative", labels=["device"]),
            "read_errors": CounterMetricFamily("edge_device_read_errors",
                                               "failed connects or reads, cumulative",
                                               labels=["device"]),
        }
        dropped = CounterMetricFamily("edge_device_dropped_samples", "samples dropped, cumulative",
                                      labels=["device", "reason"])
        for dev, c in buf.counters.devices.items():
            per["read"].add_metric([dev], c.read)
            per["published"].add_metric([dev], c.published)
            per["read_errors"].add_metric([dev], c.read_errors)
            for reason, n in c.dropped.items():
                dropped.add_metric([dev, reason], n)
        yield from per.values()
        yield dropped
        up = GaugeMetricFamily("edge_device_connected", "1 when the device answers", labels=["device"])
        last = GaugeMetricFamily("edge_device_last_good_read_timestamp_seconds",
                                 "UTC time of the last good read", labels=["device"])
        for dev, h in a.state.health.items():
            up.add_metric([dev], 1 if h.connected else 0)
            if h.last_good_ms is not None:
                last.add_metric([dev], h.last_good_ms / 1000)
        yield up
        yield last


async def serve_metrics(agent: Agent, *, port: int, host: str = "127.0.0.1") -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1] if request.count(b" ") >= 2 else b""
            if path.split(b"?")[0] == b"/metrics":
                registry = CollectorRegistry(auto_describe=False)
                registry.register(AgentCollector(agent, await agent.buffer_health()))
                body, status = generate_latest(registry), b"200 OK"
            else:
                body, status = b"only /metrics is served here\n", b"404 Not Found"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; version=0.0.4\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
                         + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, port)
    async with server:
        await server.serve_forever()
