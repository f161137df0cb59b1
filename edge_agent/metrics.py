"""A local `/metrics` endpoint in Prometheus text format, served by prometheus_client's WSGI
app on a thread of its own.

The metrics read the agent only through `edge_agent.health.HealthSource`. The buffer's figures
are read on request, on the buffer's own thread (in turn with the agent's disk work), so a
scrape never touches SQLite from a second thread and never waits on the agent's loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from edge_agent.health import BufferUnavailable, DeviceHealth, HealthSource
from wire.sample import now_ms

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class AgentCollector(Collector):
    def __init__(self, source: HealthSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        a, buf = self.source, self.source.buffer_health()
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
                                1 if a.broker_connected() else 0)
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
            "skipped_polls": CounterMetricFamily(
                "edge_device_skipped_polls", "poll ticks skipped because a poll overran its "
                "interval (data never collected), cumulative", labels=["device"]),
        }
        dropped = CounterMetricFamily("edge_device_dropped_samples", "samples dropped, cumulative",
                                      labels=["device", "reason"])
        for dev, c in buf.counters.devices.items():
            per["read"].add_metric([dev], c.read)
            per["published"].add_metric([dev], c.published)
            per["read_errors"].add_metric([dev], c.read_errors)
            per["skipped_polls"].add_metric([dev], c.skipped_polls)
            for reason, n in c.dropped.items():
                dropped.add_metric([dev, reason], n)
        yield from per.values()
        yield dropped
        up = GaugeMetricFamily("edge_device_connected", "1 when the device answers", labels=["device"])
        last = GaugeMetricFamily("edge_device_last_good_read_timestamp_seconds",
                                 "UTC time of the last good read", labels=["device"])
        for dev, h in list(a.state.health.items()):
            up.add_metric([dev], 1 if h.connected else 0)
            if h.last_good_ms is not None:
                last.add_metric([dev], h.last_good_ms / 1000)
        yield up
        yield last
        yield from _poll_metrics(a.state.health)


def _poll_metrics(health: dict[str, DeviceHealth]) -> Iterator[Metric]:
    """How each device's polls went since the agent started."""
    requests = CounterMetricFamily("edge_device_requests", "protocol requests sent since start",
                                   labels=["device"])
    planned = GaugeMetricFamily("edge_device_poll_requests",
                                "requests one poll takes (the Modbus request planner's plan)",
                                labels=["device"])
    times = HistogramMetricFamily("edge_device_poll_duration_seconds",
                                  "time one poll took, connect included", labels=["device"])
    for dev, h in list(health.items()):
        requests.add_metric([dev], h.requests)
        if h.planned_requests is not None:
            planned.add_metric([dev], h.planned_requests)
        times.add_metric([dev], h.poll_times.buckets(), h.poll_times.sum_s)
    yield requests
    yield planned
    yield times


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the agent's log."""


class MetricsServer:
    """`/metrics` on ``host:port`` until `close`; any other path is 404."""

    def __init__(self, source: HealthSource, *, port: int, host: str = "127.0.0.1") -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(AgentCollector(source))
        metrics = make_wsgi_app(registry)

        def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != "/metrics":
                start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"only /metrics is served here\n"]
            try:
                return list(metrics(environ, start_response))
            except (BufferUnavailable, TimeoutError) as err:
                start_response("503 Service Unavailable",
                               [("Content-Type", "text/plain; charset=utf-8")])
                return [f"buffer figures unavailable: {err}\n".encode()]

        self._httpd = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="edge-metrics",
                                        daemon=True)
        self._thread.start()
        log.info("metrics on http://%s:%s/metrics", host, port)

    def close(self) -> None:
        """Stop serving (blocks up to the server's poll interval, half a second)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
