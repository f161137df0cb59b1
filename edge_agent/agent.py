"""The running agent: device pollers → normalize → disk buffer → MQTT, in one loop.

Every sample read is committed to the buffer before anything else happens to it; the
committer seals pending samples into numbered batches; the sender publishes batches with
QoS 1, and a batch is deleted only when the broker acknowledged every message of it. After an
outage, batches sealed before the current connection are backlog: they go out oldest first,
marked historical, at the configured drain rate, while batches sealed since keep flowing
first. `Agent` only wires the parts together and runs them:

| part | module |
|---|---|
| pollers (one per device) | `edge_agent.poller` |
| the buffer's one writer: group commit, sealing by time, ack removal | `edge_agent.committer` |
| what is ready, in flight, acknowledged | `edge_agent.outbox` |
| the MQTT side: session, callbacks, live first then backlog | `edge_agent.sender` |
| the one thread for every buffer call | `edge_agent.disk_thread` |
| every task's owner | `edge_agent.tasks` |
| `/metrics` | `edge_agent.metrics` (reads `edge_agent.health`) |
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import event_loop
from common.memory import release_startup_memory
from edge_agent.birth import birth_json, birth_message, load_devices
from edge_agent.buffer import BatchLimits, DiskBuffer, RowLimits
from edge_agent.committer import Committer
from edge_agent.config import GatewayConfig
from edge_agent.disk_thread import DiskClosed, DiskThread
from edge_agent.encoders import Encoder, JsonEncoder
from edge_agent.health import (
    AgentState,
    BufferHealth,
    BufferUnavailable,
    DeviceHealth,
    read_buffer_health,
)
from edge_agent.normalize import Normalizer
from edge_agent.outbox import Outbox
from edge_agent.poller import poll_device
from edge_agent.sender import Sender
from edge_agent.tasks import TaskOwner
from wire.json_v1 import BirthMessage
from wire.sample import Reading, now_ms

if TYPE_CHECKING:
    from edge_agent.metrics import MetricsServer

log = logging.getLogger(__name__)

# The GIL switch interval while the agent runs. Each SQLite statement on the buffer's thread
# gives up the GIL and must win it back from a busy loop, which by default takes up to 5 ms:
# a commit of ten statements then waits 50 ms. Measured (bench/edge_pipeline.py) 1 ms cuts
# the loop's idle time in half and the whole path's time by about 8 %.
SWITCH_INTERVAL_S = 0.001
METRICS_READ_TIMEOUT_S = 5.0


class AgentError(RuntimeError):
    """A task of the agent failed; the agent stopped cleanly before this was raised."""


class Agent:
    def __init__(self, cfg: GatewayConfig, config_path: Path) -> None:
        self.cfg = cfg
        self.devices = [(dev, prof, Normalizer(dev, prof))
                        for dev, prof in load_devices(cfg, config_path)]
        buf = cfg.buffer
        # A relative buffer path is relative to the working directory, as for any daemon.
        self.buffer = DiskBuffer(buf.path, max_bytes=buf.max_bytes, full_policy=buf.full_policy,
                                 synchronous=buf.synchronous)
        self.disk = DiskThread()  # every call on self.buffer goes through it
        self.state = AgentState(session=uuid.uuid4().hex, started_ms=now_ms())
        self.stop = asyncio.Event()
        self.tasks = TaskOwner(on_failure=self.stop.set)
        self.encoder: Encoder = self._make_encoder()
        self.outbox = Outbox(first_live_seq=self.buffer.next_seq, link_up=self.broker_connected)
        self.committer = Committer(
            self.disk, self.buffer, self.outbox,
            # a row holds at most this much, so that batches (made of whole rows) keep their limits
            rows=RowLimits(max_samples=min(64, buf.batch_max_samples),
                           max_bytes=max(1024, buf.batch_max_bytes // 4),
                           blocks=cfg.publish.encoding == "json" and cfg.publish.blocks),
            batches=BatchLimits(max_samples=buf.batch_max_samples, max_bytes=buf.batch_max_bytes,
                                one_device=self.encoder.per_device_batches),
            linger_ms=buf.linger_ms,
            idle=lambda: self.sender.idle(),  # the sender is made next; asked only once running
        )
        self.sender = Sender(cfg, encoder=self.encoder, outbox=self.outbox, disk=self.disk,
                             buffer=self.buffer, state=self.state, tasks=self.tasks,
                             on_acked=self.committer.wake)
        self.mqtt = self.sender.mqtt

    def _make_encoder(self) -> Encoder:
        ent, gw = self.cfg.gateway.enterprise.id, self.cfg.gateway.id

        def birth(next_seq: int) -> BirthMessage:
            return birth_message(self.cfg, self.devices, session=self.state.session,
                                 next_seq=next_seq)

        if self.cfg.publish.encoding == "sparkplug":
            from edge_agent.sparkplug.encoder import SparkplugEncoder

            return SparkplugEncoder(self.cfg, session=self.state.session, birth=birth,
                                    stream=self.buffer.stream)

        def birth_text(next_seq: int) -> bytes:
            return birth_json(self.cfg, self.devices, session=self.state.session, next_seq=next_seq)

        return JsonEncoder(enterprise=ent, gateway=gw, session=self.state.session, birth=birth_text,
                           stream=self.buffer.stream, compress=self.cfg.publish.compress)

    def accept(self, samples: Reading,
               normalizer: Normalizer | None = None) -> Coroutine[Any, Any, None]:
        """Samples from a source other than the configured devices (tests, the bench), as a
        poller hands them over: await the result. (The committer's own coroutine, so that the
        bench measures the path a poller takes, without a frame more a poll.)"""
        return self.committer.accept(normalizer.apply(samples) if normalizer else samples)

    # -- what /metrics reads (edge_agent.health.HealthSource), from its own thread ------------

    def broker_connected(self) -> bool:
        return self.sender.connected()

    def buffer_health(self) -> BufferHealth:
        try:
            return self.disk.call_blocking(functools.partial(read_buffer_health, self.buffer),
                                           timeout_s=METRICS_READ_TIMEOUT_S)
        except (DiskClosed, TimeoutError) as err:
            raise BufferUnavailable(str(err)) from err

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until `stop` is set (or a task fails: then raise `AgentError` after the same
        clean stop)."""
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
        try:
            await self._run()
        finally:
            sys.setswitchinterval(switch)
        if self.tasks.failure is not None:
            name, err = self.tasks.failure
            raise AgentError(f"the agent stopped because its task {name} failed: {err!r}") from err

    async def _run(self) -> None:
        # the profiles are parsed and validated: their garbage is given back before polling
        release_startup_memory()
        self.sender.start()
        pollers = [
            self.tasks.spawn(poll_device(dev, prof, norm, sink=self.committer,
                                         backoff=self.cfg.reconnect.device_backoff(),
                                         health=self.state.health.setdefault(dev.id, DeviceHealth())),
                             name=f"poll:{dev.id}")
            for dev, prof, norm in self.devices
        ]
        committer = self.tasks.spawn(self.committer.run(), name="committer")
        sender = self.tasks.spawn(self.sender.run(), name="sender")
        metrics = self._serve_metrics()
        log.info("agent running: %d devices, session %s, buffer %s, event loop %s",
                 len(self.devices), self.state.session, self.buffer.path, event_loop.running())
        try:
            await self.stop.wait()
        finally:
            # The stop, in order. Nothing read is lost: it is committed and sealed before
            # the broker gets its last chance, and what it does not take stays on disk.
            await self.tasks.cancel(pollers)                  # 1. no more reads
            await self.committer.flush()                      # 2. what was read: committed, sealed
            if not sender.done():                             # 3. the broker takes what it can
                await self.sender.flush(timeout_s=self.cfg.buffer.shutdown_flush_s)
            await self.tasks.cancel([sender])
            if metrics is not None:
                await asyncio.to_thread(metrics.close)
            await self.sender.close()                         # 4. farewell, clean disconnect
            await self.committer.close()                      # 5. the last acks removed
            await self.tasks.join([committer], timeout_s=5.0)
            await self.tasks.close()
            await self.disk.close(self.buffer.close)          # 6. the file closed

    def _serve_metrics(self) -> MetricsServer | None:
        port = self.cfg.metrics_port
        if not port:
            return None
        # imported only when asked for: prometheus_client and its HTTP server cost an agent
        # without metrics_port about 10 MB of memory
        from edge_agent.metrics import MetricsServer

        try:
            return MetricsServer(self, port=port)
        except OSError as err:
            log.error("cannot serve /metrics on 127.0.0.1:%s (%s); the agent runs without it. "
                      "Free the port or set another metrics_port in the gateway config", port, err)
            return None
