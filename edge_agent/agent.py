"""The running agent: device pollers → disk buffer → sealer → MQTT, in one asyncio loop.

Every sample read is committed to the buffer before anything else happens to it; the sealer
turns pending samples into numbered batches; the sender publishes batches oldest first with
QoS 1 and deletes each only when the broker acknowledges it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from collectors.sample import Sample, now_ms
from device_profiles.loader import resolve_profile
from device_profiles.models import DeviceConfig, DeviceProfile, GatewayConfig
from edge_agent import __version__
from edge_agent.buffer import DiskBuffer
from edge_agent.mqtt import MqttSession
from edge_agent.poller import DeviceHealth, poll_device
from edge_agent.wire import (
    BirthMessage,
    DeathMessage,
    DeviceInfo,
    EnterpriseInfo,
    TagInfo,
    topic,
)

log = logging.getLogger(__name__)


@dataclass
class AgentState:
    """Live figures for `/metrics` and `edge-agent status`."""

    session: str
    started_ms: int
    health: dict[str, DeviceHealth] = field(default_factory=dict)
    published_batches: int = 0
    published_samples: int = 0


def load_devices(cfg: GatewayConfig, config_path: Path) -> list[tuple[DeviceConfig, DeviceProfile]]:
    return [
        (dev, resolve_profile(dev.profile, relative_to=config_path))
        for dev in cfg.devices
        if dev.enabled
    ]


def birth_message(cfg: GatewayConfig, devices: list[tuple[DeviceConfig, DeviceProfile]], *,
                  session: str, next_seq: int) -> BirthMessage:
    ent = cfg.gateway.enterprise
    return BirthMessage(
        enterprise=ent.id,
        gateway=cfg.gateway.id,
        session=session,
        ts=now_ms(),
        next_seq=next_seq,
        agent_version=__version__,
        enterprise_info=EnterpriseInfo(name=ent.name, industry=ent.industry, district=ent.district),
        devices=[
            DeviceInfo(
                id=dev.id, profile=prof.profile, protocol=prof.protocol,
                manufacturer=prof.manufacturer, model=prof.model, workshop=dev.workshop,
                line=dev.line, key_process=dev.key_process,
                tags=[
                    TagInfo(name=t.name, type=getattr(t, "type", "unknown"), unit=t.unit,
                            description=t.description,
                            interval_ms=dev.interval_ms or prof.interval_of(t))
                    for t in prof.tags
                ],
            )
            for dev, prof in devices
        ],
    )


class Agent:
    def __init__(self, cfg: GatewayConfig, config_path: Path) -> None:
        self.cfg = cfg
        self.devices = load_devices(cfg, config_path)
        buf = cfg.buffer
        # A relative buffer path is relative to the working directory, as for any daemon.
        self.buffer = DiskBuffer(buf.path, max_bytes=buf.max_bytes, full_policy=buf.full_policy)
        self.state = AgentState(session=uuid.uuid4().hex, started_ms=now_ms())
        self.stop = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._pending_since: float | None = None
        self._inflight: dict[int, int] = {}  # mid -> seq
        self._sent_up_to = 0
        ent, gw = cfg.gateway.enterprise.id, cfg.gateway.id
        self.topic_data = topic(ent, gw, "data")
        self.topic_birth = topic(ent, gw, "birth")
        self.topic_death = topic(ent, gw, "death")
        self.mqtt: MqttSession | None = None

    # -- sinks and callbacks ----------------------------------------------------------------

    def accept(self, samples: list[Sample]) -> None:
        """Commit samples to disk before anything else; the poll cycle waits for it."""
        self.buffer.add(samples)
        if self._pending_since is None:
            self._pending_since = asyncio.get_running_loop().time()

    def _death(self, reason: Literal["lost", "shutdown"]) -> bytes:
        ent, gw = self.cfg.gateway.enterprise.id, self.cfg.gateway.id
        msg = DeathMessage(enterprise=ent, gateway=gw, session=self.state.session, ts=now_ms(),
                           reason=reason)
        return msg.model_dump_json().encode()

    def _on_connect(self) -> None:
        assert self.mqtt is not None
        birth = birth_message(self.cfg, self.devices, session=self.state.session,
                              next_seq=self.buffer.next_seq)
        self.mqtt.publish(self.topic_birth, birth.model_dump_json(exclude_none=True))
        log.info("connected to broker %s:%s; birth sent", self.cfg.broker.host, self.cfg.broker.port)
        self._wake_sender.set()

    def _on_ack(self, mid: int) -> None:
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return  # birth or other non-batch message
        self.buffer.ack(seq)
        self.state.published_batches += 1
        self._wake_sender.set()

    # -- tasks ------------------------------------------------------------------------------

    async def _sealer(self) -> None:
        buf = self.cfg.buffer
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            await asyncio.sleep(min(0.05, buf.linger_ms / 1000 or 0.05))
            pending, _ = self.buffer.depth()
            if not pending:
                self._pending_since = None
                continue
            waited = loop.time() - (self._pending_since or loop.time())
            if pending < buf.batch_max_samples and waited * 1000 < buf.linger_ms:
                continue
            while True:
                batch = self.buffer.seal(max_samples=buf.batch_max_samples,
                                         max_bytes=buf.batch_max_bytes, now_ms=now_ms())
                if batch is None or batch.n < buf.batch_max_samples:
                    break
            self._pending_since = None
            self._wake_sender.set()

    def _payload(self, seq: int, samples_json: str) -> bytes:
        ent, gw = self.cfg.gateway.enterprise.id, self.cfg.gateway.id
        counters = self.buffer.counters().model_dump_json()
        head = json.dumps({"v": 1, "type": "data", "enterprise": ent, "gateway": gw,
                           "session": self.state.session, "seq": seq, "sent": now_ms()})
        return (head[:-1] + ',"samples":' + samples_json + ',"counters":' + counters + "}").encode()

    async def _sender(self) -> None:
        assert self.mqtt is not None
        window = self.cfg.broker.max_inflight
        while not self.stop.is_set():
            await self._wake_sender.wait()
            self._wake_sender.clear()
            if not self.mqtt.connected.is_set():
                continue
            free = window - len(self._inflight)
            if free <= 0:
                continue
            for batch in self.buffer.unsent(after_seq=self._sent_up_to, limit=free):
                mid = self.mqtt.publish(self.topic_data, self._payload(batch.seq, batch.samples_json))
                self._inflight[mid] = batch.seq
                self._sent_up_to = batch.seq

    async def run(self) -> None:
        ent, gw = self.cfg.gateway.enterprise.id, self.cfg.gateway.id
        self.mqtt = MqttSession(
            self.cfg.broker,
            client_id=self.cfg.broker.client_id or f"edge-{ent}-{gw}-{socket.gethostname()}"[:64],
            will_topic=self.topic_death,
            will_payload=self._death("lost"),
            on_connect=self._on_connect,
            on_ack=self._on_ack,
        )
        self.mqtt.start()
        tasks = [asyncio.create_task(self._sealer(), name="sealer"),
                 asyncio.create_task(self._sender(), name="sender")]
        for dev, prof in self.devices:
            health = self.state.health.setdefault(dev.id, DeviceHealth())
            tasks.append(asyncio.create_task(
                poll_device(dev, prof, sink=self.accept, stop=self.stop, health=health,
                            on_error=lambda d: self.buffer.count(d, "read_errors")),
                name=f"poll:{dev.id}",
            ))
        log.info("agent running: %d devices, session %s, buffer %s",
                 len(self.devices), self.state.session, self.buffer.path)
        try:
            await self.stop.wait()
        finally:
            self._wake_sender.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.mqtt.stop(farewell=(self.topic_death, self._death("shutdown")))
            self.buffer.close()
