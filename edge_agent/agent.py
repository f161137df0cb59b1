"""The running agent: device pollers → normalize → disk buffer → sealer → MQTT, in one loop.

Every sample read is committed to the buffer before anything else happens to it; the sealer
turns pending samples into numbered batches; the sender publishes batches with QoS 1 and
deletes each only when the broker acknowledged every message of it. After an outage, batches
sealed before the current connection are backlog: they go out oldest first, marked
historical, at the configured drain rate, while batches sealed since keep flowing first.

The buffer's SQLite work (writes, fsyncs, reads, deletes) runs on one thread of its own, in
the order it was asked for, so a slow flash card never stalls polling, subscriptions or
MQTT; SQLite releases the GIL while it works, so it also overlaps the encoding of the next
samples, which happens on the loop as they arrive.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import sqlite3
import sys
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

from collectors.supervisor import DeviceSupervisor
from device_profiles.device import DeviceConfig
from device_profiles.loader import resolve_profile
from device_profiles.models import DeviceProfile
from edge_agent import __version__
from edge_agent.buffer import Batch, BatchLimits, DiskBuffer, Row
from edge_agent.config import GatewayConfig
from edge_agent.encoders import Encoder, JsonEncoder, Outgoing
from edge_agent.mqtt import MqttSession
from edge_agent.normalize import Normalizer, Rule
from wire.json_v1 import BirthMessage, Counters, DeviceInfo, EnterpriseInfo, TagInfo
from wire.sample import Quality, Sample, now_ms

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

STAGED_MAX = 50_000  # samples read but not yet committed before pollers wait for the disk
# The GIL switch interval while the agent runs. Each SQLite statement on the buffer's thread
# gives up the GIL and must win it back from a busy loop, which by default takes up to 5 ms:
# a commit of ten statements then waits 50 ms. Measured (bench/edge_pipeline.py) 1 ms cuts
# the loop's idle time in half and the whole path's time by about 8 %.
SWITCH_INTERVAL_S = 0.001


@dataclass
class DeviceHealth:
    """What `/metrics` reports per device."""

    connected: bool = False
    last_good_ms: int | None = None
    read_errors: int = 0
    last_error: str | None = None
    polls: int = 0


@dataclass(frozen=True)
class BufferHealth:
    """The buffer's figures for `/metrics`, read together on the buffer's thread."""

    pending: int
    batches: int
    backlog: int
    used_bytes: int
    oldest_ms: int | None
    counters: Counters


@dataclass
class AgentState:
    """Live figures for `/metrics` and `edge-agent status`."""

    session: str
    started_ms: int
    health: dict[str, DeviceHealth] = field(default_factory=dict)
    published_batches: int = 0
    published_samples: int = 0
    connected_since_ms: int | None = None


def load_devices(cfg: GatewayConfig, config_path: Path) -> list[tuple[DeviceConfig, DeviceProfile]]:
    return [
        (dev, resolve_profile(dev.profile, relative_to=config_path))
        for dev in cfg.devices
        if dev.enabled
    ]


def birth_message(cfg: GatewayConfig, devices: list[tuple[DeviceConfig, DeviceProfile, Normalizer]],
                  *, session: str, next_seq: int) -> BirthMessage:
    ent = cfg.gateway.enterprise

    def tag_info(dev: DeviceConfig, prof: DeviceProfile, rule: Rule, t: object) -> TagInfo:
        name = str(getattr(t, "name"))  # noqa: B009 - TagBase of any protocol
        return TagInfo(
            name=name, type=str(getattr(t, "type", None) or getattr(t, "data_type", "unknown")),
            unit=rule.unit, description=getattr(t, "description", None),
            interval_ms=dev.interval_ms or prof.interval_of(t),  # type: ignore[arg-type]
            report="change" if rule.mode == "change" else "all",
            heartbeat_ms=rule.heartbeat_ms if rule.mode == "change" else None,
            links=prof.links_of(t),  # type: ignore[arg-type]
        )

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
                tags=[tag_info(dev, prof, norm.rules[t.name], t) for t in prof.tags],
            )
            for dev, prof, norm in devices
        ],
    )


class Agent:
    def __init__(self, cfg: GatewayConfig, config_path: Path) -> None:
        self.cfg = cfg
        self.devices = [(dev, prof, Normalizer(dev, prof))
                        for dev, prof in load_devices(cfg, config_path)]
        buf = cfg.buffer
        # A relative buffer path is relative to the working directory, as for any daemon.
        self.buffer = DiskBuffer(buf.path, max_bytes=buf.max_bytes, full_policy=buf.full_policy,
                                 synchronous=buf.synchronous,
                                 row_max_samples=min(64, buf.batch_max_samples),
                                 row_max_bytes=max(1024, buf.batch_max_bytes // 4))
        self.state = AgentState(session=uuid.uuid4().hex, started_ms=now_ms())
        self.stop = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._pending_since: float | None = None
        # every call on self.buffer goes through this one thread (see `disk`)
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-buffer")
        self._staged: list[list[Row]] = []
        self._staged_n = 0
        self._stage_event = asyncio.Event()
        self._taken = asyncio.Event()  # the committer took what was staged
        self._lost_on_disk: dict[str, int] = {}  # touched on the buffer's thread only
        self._counters_cache: tuple[float, Counters] | None = None
        self._mids: dict[int, int] = {}          # paho message id -> batch seq
        self._unacked: dict[int, int] = {}       # batch seq -> messages not yet acknowledged
        self._handed: dict[int, int] = {}        # batch seq -> samples, given to paho and
        #                                          not yet removed from disk
        self._acked: list[int] = []              # acknowledged, not yet removed from disk
        # Live batches (sealed while connected) in seal order, bodies in memory while the
        # buffer's cache has room: the sender hands them out without waiting for the disk.
        self._ready: deque[Batch] = deque()
        self._backlog_left = True                # batches sealed before connecting remain
        self._chores: set[asyncio.Task[None]] = set()  # ack removals, counter refreshes
        self._writing = False  # a commit is under way (it takes the acks that are waiting)
        self._reconnecting: asyncio.Task[None] | None = None
        self._committing: asyncio.Future[None] | None = None
        self._seal_due = False  # the linger time is up: the next commit seals partial batches
        self._closed = False
        self._first_live_seq = self.buffer.next_seq
        self._drain_tokens = 0.0
        self._drain_last = 0.0
        self.encoder: Encoder = self._make_encoder()
        self._limits = BatchLimits(buf.batch_max_samples, buf.batch_max_bytes,
                                   one_device=self.encoder.per_device_batches)
        self.mqtt: MqttSession | None = None

    def _make_encoder(self) -> Encoder:
        ent, gw = self.cfg.gateway.enterprise.id, self.cfg.gateway.id

        def birth(next_seq: int) -> BirthMessage:
            return birth_message(self.cfg, self.devices, session=self.state.session,
                                 next_seq=next_seq)

        if self.cfg.publish.encoding == "sparkplug":
            from edge_agent.sparkplug.encoder import SparkplugEncoder

            return SparkplugEncoder(self.cfg, session=self.state.session, birth=birth,
                                    stream=self.buffer.stream)
        return JsonEncoder(enterprise=ent, gateway=gw, session=self.state.session, birth=birth,
                           stream=self.buffer.stream, compress=self.cfg.publish.compress)

    # -- sinks and callbacks ----------------------------------------------------------------

    async def disk(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` (a buffer operation) on the buffer's thread and wait for it. Calls run
        one at a time in the order made; a cancelled caller does not undo a call begun."""
        return await asyncio.get_running_loop().run_in_executor(
            self._io, functools.partial(fn, *args, **kwargs))

    async def accept(self, samples: list[Sample], normalizer: Normalizer | None = None) -> None:
        """Encode samples to their stored form and hand them to the committer, which writes
        everything staged since its last commit in one transaction (group commit: one fsync
        for many devices' reads).

        The poller goes on reading meanwhile; it waits only when more than
        ``STAGED_MAX`` samples are staged, so memory stays bounded (at most twice that: what
        is staged, and what the committer is writing).
        """
        if normalizer is not None:
            samples = normalizer.apply(samples)
        if not samples:
            return
        self._staged.append(self.buffer.encode(samples))
        self._staged_n += len(samples)
        self._stage_event.set()
        while self._staged_n > STAGED_MAX:
            await self._taken.wait()

    async def _commit_staged(self) -> None:
        staged, self._staged, self._staged_n = self._staged, [], 0
        if not staged:
            return
        self._taken.set()  # pollers may stage the next group while this one is written
        self._taken.clear()
        # acknowledged batches are removed in the same transaction: one commit, not two
        acked, self._acked = self._acked, []
        partial, self._seal_due = self._seal_due, False
        self._writing = True
        try:
            made = await self.disk(self._write, [row for rows in staged for row in rows],
                                   now_ms(), acked, partial, frozenset(self._handed))
        finally:
            self._writing = False
        if partial:
            self._pending_since = None
        for seq in acked:
            self._handed.pop(seq, None)
        self._add_ready(made)
        if self._acked:
            self._wake_sender.set()  # acks that came meanwhile: the sender removes them
        if self._pending_since is None:
            self._pending_since = asyncio.get_running_loop().time()

    def _write(self, rows: list[Row], now: int, acks: list[int], partial: bool,
               in_flight: frozenset[int]) -> list[Batch]:
        """On the buffer's thread: commit rows (and remove acknowledged batches); returns the
        batches the rows filled and sealed (with ``partial``, every row is sealed)."""
        try:
            _, made = self.buffer.write(rows, seal_full=self._limits, now_ms=now, acks=acks,
                                        seal_partial=partial, in_flight=in_flight)
            if self._lost_on_disk:
                for dev, n in self._lost_on_disk.items():
                    self.buffer.count(dev, "dropped:disk_error", n)
                self._lost_on_disk.clear()
        except sqlite3.Error as err:
            # The disk itself failed (full, read-only, I/O error): the samples cannot be kept.
            # Count them, report the count once the disk works again, and keep polling.
            log.error("buffer write failed, %d samples lost: %s", sum(r[1] for r in rows), err)
            for dev, n, _ in rows:
                self._lost_on_disk[dev] = self._lost_on_disk.get(dev, 0) + n
            if acks:  # the acknowledgements are not lost: they are retried on their own
                try:
                    self.buffer.ack(*acks)
                except sqlite3.Error:
                    log.exception("could not remove %d acknowledged batches; they will be "
                                  "sent again after a restart", len(acks))
            return []
        return made

    def _add_ready(self, made: list[Batch]) -> None:
        """Batches just sealed, for the sender. Sealed while disconnected, they are backlog
        at the next connection (read from disk then), so they are not kept here."""
        if made and self.mqtt is not None and self.mqtt.connected.is_set():
            self._ready.extend(b for b in made if b.seq >= self._first_live_seq)
            self._wake_sender.set()

    async def _poll(self, dev: DeviceConfig, prof: DeviceProfile, norm: Normalizer,
                    health: DeviceHealth) -> None:
        """One device, for ever: the supervisor reads (or follows a subscription), reconnects
        with capped backoff, and yields bad samples with the reason while the device is away."""
        sup = DeviceSupervisor(dev, prof)
        async for samples in sup.samples():
            if sup.failures > health.read_errors:
                new, health.read_errors = sup.failures - health.read_errors, sup.failures
                await self.disk(self.buffer.count, dev.id, "read_errors", new)
            health.connected, health.last_error, health.polls = (
                sup.state == "online", sup.last_error, sup.polls)
            if any(s.quality == Quality.GOOD for s in samples):
                health.last_good_ms = now_ms()
            await self.accept(samples, norm)

    async def _committer(self) -> None:
        while True:
            await self._stage_event.wait()
            self._stage_event.clear()
            # A commit under way runs to its end even when the committer is cancelled (at
            # stop): the batches it seals must reach the sender, or they would wait on disk,
            # live yet never handed out, until the next start.
            self._committing = asyncio.ensure_future(self._commit_staged())
            await asyncio.shield(self._committing)

    def _publish_all(self, messages: list[Outgoing]) -> None:
        assert self.mqtt is not None
        for m in messages:
            self.mqtt.publish(m)

    def _on_connect(self) -> None:
        self.state.connected_since_ms = now_ms()
        # Everything sealed before this moment is backlog, sent oldest first as historical.
        self._first_live_seq = self.buffer.next_seq
        self._ready.clear()
        self._backlog_left = True
        self._drain_tokens, self._drain_last = 0.0, asyncio.get_running_loop().time()
        self._publish_all(self.encoder.births(next_seq=self.buffer.next_seq))
        log.info("connected to broker %s:%s%s", self.cfg.broker.host, self.cfg.broker.port,
                 "; birth sent" if self.encoder.ready() else "; waiting for the primary host")
        self._wake_sender.set()

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            self._publish_all(self.encoder.on_message(topic, payload, next_seq=self.buffer.next_seq))
        except Exception:  # a malformed command must not stop the agent
            log.exception("could not handle message on %s", topic)
        farewell = self.encoder.take_reconnect()
        if farewell is not None:
            self._reconnecting = self._chore(self._reconnect(farewell))
        self._wake_sender.set()

    async def _reconnect(self, farewell: Outgoing, *, settle_s: float = 5.0) -> None:
        """A new MQTT session, as the encoder asked. Batches in flight are given a moment
        to be acknowledged first (the encoder hands out no new ones meanwhile), so that the
        new session starts with births, not with paho's resends."""
        assert self.mqtt is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settle_s
        while self._unacked and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await self.mqtt.reconnect(farewell=farewell)

    def _on_ack(self, mid: int) -> None:
        seq = self._mids.pop(mid, None)
        if seq is None:
            return  # birth or other non-batch message
        left = self._unacked[seq] - 1
        if left:
            self._unacked[seq] = left
            return
        del self._unacked[seq]
        self.state.published_samples += self._handed.get(seq, 0)
        self.state.published_batches += 1
        self._acked.append(seq)  # removed from disk by the sender, all together
        self._wake_sender.set()

    async def _flush_acks(self) -> None:
        """Remove acknowledged batches from disk (one transaction for all that arrived
        together); only then do they leave ``_handed``, so none is picked and sent again."""
        acked, self._acked = self._acked, []
        if acked and not self._closed:  # an ack after the final close is resent, then ignored
            await self.disk(self.buffer.ack, *acked)
        for seq in acked:
            self._handed.pop(seq, None)

    def _chore(self, work: Coroutine[None, None, None]) -> asyncio.Task[None]:
        """Work the sender does not wait for (disk work queues behind a commit)."""
        task = asyncio.create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)
        return task

    # -- tasks ------------------------------------------------------------------------------

    async def _sealer(self) -> None:
        buf = self.cfg.buffer
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            await asyncio.sleep(min(0.05, buf.linger_ms / 1000 or 0.05))
            pending = self.buffer.pending_samples
            if not pending:
                self._pending_since = None
                continue
            waited = loop.time() - (self._pending_since or loop.time())
            if pending < buf.batch_max_samples and waited * 1000 < buf.linger_ms:
                continue
            if self._writing or self._staged:
                self._seal_due = True  # a commit is coming anyway: it seals them, with bodies
                continue
            self._add_ready(await self.disk(self._seal_all))
            self._pending_since = None
            self._wake_sender.set()

    def _seal_all(self) -> list[Batch]:
        """On the buffer's thread: seal every pending row, partial batches included, 32
        batches a transaction; returns the batches made (without their bodies)."""
        made: list[Batch] = []
        while more := self.buffer.seal_batches(self._limits, now_ms=now_ms(), max_batches=32):
            made += more
        return made

    async def _send_backlog(self, room: int, counters: Counters) -> None:
        """Backlog batches, oldest first, within the drain rate (a token bucket of samples
        holding one second's worth, refilled from the moment of connecting)."""
        rate = self.cfg.publish.drain_rate_per_s
        if room <= 0:
            return
        if rate is not None:
            now = asyncio.get_running_loop().time()
            self._drain_tokens = min(float(rate),
                                     self._drain_tokens + (now - self._drain_last) * rate)
            self._drain_last = now
            if self._drain_tokens < 1:
                return
        batches = await self.disk(self.buffer.unsent, below_seq=self._first_live_seq,
                                  limit=room, skip=frozenset(self._handed))
        if not batches:
            # all handed out (paho resends its own; a reconnection sets this again)
            self._backlog_left = False
        for batch in batches:
            if rate is not None:
                # a batch larger than a second's worth goes out when the bucket is full
                if self._drain_tokens < min(batch.n, rate):
                    break
                self._drain_tokens -= batch.n
            self._hand(batch, counters, historical=True)

    def _hand(self, batch: Batch, counters: Counters, *, historical: bool) -> None:
        assert self.mqtt is not None
        messages = self.encoder.batch(batch, counters=counters, historical=historical)
        self._unacked[batch.seq] = len(messages)
        self._handed[batch.seq] = batch.n
        for m in messages:
            self._mids[self.mqtt.publish(m)] = batch.seq

    async def _counters(self) -> Counters:
        """Cumulative counters, re-read at most once a second and without waiting for it:
        they ride on every batch, and being cumulative, a second-old copy loses nothing."""
        now = asyncio.get_running_loop().time()
        if self._counters_cache is None:
            self._counters_cache = (now, await self.disk(self.buffer.counters))
        elif now - self._counters_cache[0] >= 1.0:
            self._counters_cache = (now, self._counters_cache[1])  # one refresh at a time

            async def refresh() -> None:
                self._counters_cache = (now, await self.disk(self.buffer.counters))

            self._chore(refresh())
        return self._counters_cache[1]

    async def _live(self, room: int) -> list[Batch]:
        """Up to ``room`` live batches from the ready queue, bodies read for those the
        cache did not hold (one that is gone was dropped by the full policy)."""
        take = [self._ready.popleft() for _ in range(min(room, len(self._ready)))]
        # one dropped by the full policy (oldest first) after it was sealed is not sent
        take = [b for b in take if b.seq > self.buffer.dropped_through]
        missing = [b.seq for b in take if not b.samples_json]
        if missing:
            read = {b.seq: b for b in await self.disk(self.buffer.batches, missing)}
            take = [b if b.samples_json else read[b.seq] for b in take
                    if b.samples_json or b.seq in read]
        return take

    async def _sender(self) -> None:
        assert self.mqtt is not None
        window = self.cfg.broker.max_inflight
        while True:  # until cancelled: it also serves the final flush after stop
            try:
                async with asyncio.timeout(0.5):  # unlike wait_for, never swallows a cancel
                    await self._wake_sender.wait()
            except TimeoutError:
                pass  # the drain-rate bucket refills with time
            self._wake_sender.clear()
            if self._acked and not self._writing:
                self._chore(self._flush_acks())
            if not self.mqtt.connected.is_set() or not self.encoder.ready():
                continue
            counters = await self._counters()
            # one place in the window is kept for the backlog, so it always moves
            for batch in await self._live(window - len(self._unacked) - 1):
                self._hand(batch, counters, historical=False)
            if self._backlog_left and self.mqtt.connected.is_set():
                await self._send_backlog(window - len(self._unacked), counters)

    async def buffer_health(self) -> BufferHealth:
        def read() -> BufferHealth:
            b = self.buffer
            pending, batches = b.depth()
            return BufferHealth(pending, batches, b.backlog_samples(), b.used_bytes(),
                                b.oldest_ms(), b.counters())

        return await self.disk(read)

    async def run(self) -> None:
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
        try:
            await self._run()
        finally:
            sys.setswitchinterval(switch)

    async def _run(self) -> None:
        ent, gw = self.cfg.gateway.enterprise.id, self.cfg.gateway.id
        self.mqtt = MqttSession(
            self.cfg.broker,
            client_id=self.cfg.broker.client_id or f"edge-{ent}-{gw}-{socket.gethostname()}"[:64],
            will=self.encoder.will,
            on_connect=self._on_connect,
            on_ack=self._on_ack,
            on_message=self._on_message,
            subscriptions=self.encoder.subscriptions(),
        )
        self.mqtt.start()
        pollers: list[asyncio.Task[None]] = []
        for dev, prof, norm in self.devices:
            health = self.state.health.setdefault(dev.id, DeviceHealth())
            pollers.append(asyncio.create_task(self._poll(dev, prof, norm, health),
                                               name=f"poll:{dev.id}"))
        committer = asyncio.create_task(self._committer(), name="committer")
        sealer = asyncio.create_task(self._sealer(), name="sealer")
        sender = asyncio.create_task(self._sender(), name="sender")
        extra: list[asyncio.Task[None]] = []
        if self.cfg.metrics_port:
            from edge_agent.metrics import serve_metrics

            extra.append(asyncio.create_task(serve_metrics(self, port=self.cfg.metrics_port)))
        log.info("agent running: %d devices, session %s, buffer %s",
                 len(self.devices), self.state.session, self.buffer.path)
        try:
            await self.stop.wait()
        finally:
            await _cancel([*pollers, sealer, committer])
            if self._committing is not None:
                await asyncio.gather(self._committing, return_exceptions=True)
            await self._commit_staged()  # what was read before the stop is kept
            await self._flush(sender)
            await _cancel([sender, *extra, *filter(None, [self._reconnecting])])
            await self.mqtt.stop(farewell=self.encoder.farewell())
            await asyncio.gather(*self._chores, return_exceptions=True)
            await self._flush_acks()
            self._closed = True
            await self.disk(self.buffer.close)
            self._io.shutdown(wait=True)

    async def _flush(self, sender: asyncio.Task[None]) -> None:
        """On a clean stop, seal what was read and give the broker a moment to take it all.

        Whatever is not acknowledged in time stays on disk and goes out after the next start.
        """
        buf = self.cfg.buffer
        self._add_ready(await self.disk(self._seal_all))
        if sender.done() or self.mqtt is None or not self.mqtt.connected.is_set():
            return
        # A seal the stop interrupted (the sealer is cancelled while its transaction runs on
        # the buffer's thread) leaves live batches on disk that never reached the ready
        # queue: pick them up, so that a clean stop leaves nothing unsent.
        queued = frozenset(b.seq for b in self._ready) | frozenset(self._handed)
        self._add_ready(await self.disk(self.buffer.unsent, from_seq=self._first_live_seq,
                                        limit=1 << 20, skip=queued))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + buf.shutdown_flush_s
        while loop.time() < deadline and (await self.disk(self.buffer.depth))[1] > 0:
            self._wake_sender.set()
            await asyncio.sleep(0.05)


async def _cancel(tasks: list[asyncio.Task[None]], *, timeout_s: float = 5.0) -> None:
    """Cancel and wait, bounded: on Python 3.11 ``asyncio.wait_for`` can swallow a
    cancellation that races with its inner future, so a task may need telling twice, and a stop
    must never hang on one that does not listen."""
    pending = {t for t in tasks if not t.done()}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while pending:
        for t in pending:
            t.cancel()
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            log.warning("tasks did not stop: %s", sorted(t.get_name() for t in pending))
            return
        _, pending = await asyncio.wait(pending, timeout=min(0.5, left))
