"""The sender: the agent's MQTT side. It owns the session, answers its callbacks, and hands
batches to paho with QoS 1: live batches first, then the backlog within the drain rate.

One place of the in-flight window is always kept for the backlog, so it always moves. Batches
given to paho before a disconnection are resent by paho itself after it reconnects; the
sender never publishes a batch twice on its own (the outbox keeps them in flight). The
cumulative counters ride on every batch; being cumulative, a copy up to a second old loses
nothing, so while batches flow they are re-read at most once a second, without waiting for it.
After a pause in sending (an outage: the full policy may have dropped data meanwhile) the first
batch waits for a fresh copy, so the cloud's next report already counts what the pause did.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from collections.abc import Callable

from edge_agent.buffer import DiskBuffer, SealedBatch
from edge_agent.config import GatewayConfig
from edge_agent.disk_thread import DiskThread
from edge_agent.drain import TokenBucket
from edge_agent.encoders import Encoder, Outgoing
from edge_agent.health import AgentState
from edge_agent.mqtt import MqttSession
from edge_agent.outbox import Outbox
from edge_agent.tasks import TaskOwner
from wire.json_v1 import Counters
from wire.sample import now_ms

log = logging.getLogger(__name__)

COUNTERS_MAX_AGE_S = 1.0
COUNTERS_STALE_S = 3 * COUNTERS_MAX_AGE_S  # a copy this old is not "riding on": read it afresh
RECONNECT_SETTLE_S = 5.0


class Sender:
    def __init__(self, cfg: GatewayConfig, *, encoder: Encoder, outbox: Outbox, disk: DiskThread,
                 buffer: DiskBuffer, state: AgentState, tasks: TaskOwner,
                 on_acked: Callable[[], None]) -> None:
        self.cfg = cfg
        self._encoder, self._outbox, self._disk, self._buffer = encoder, outbox, disk, buffer
        self._state, self._tasks, self._on_acked = state, tasks, on_acked
        rate = cfg.publish.drain_rate_per_s
        self._bucket = TokenBucket(rate, now=0.0) if rate is not None else None
        self._counters: Counters | None = None
        self._counters_at = 0.0
        self._refresh: asyncio.Future[Counters | None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        ent, gw = cfg.gateway.enterprise.id, cfg.gateway.id
        self.mqtt = MqttSession(
            cfg.broker,
            client_id=cfg.broker.client_id or f"edge-{ent}-{gw}-{socket.gethostname()}"[:64],
            will=encoder.will,
            on_connect=self._on_connect,
            on_ack=self._on_ack,
            on_message=self._on_message,
            subscriptions=encoder.subscriptions(),
            reconnect_s=(cfg.reconnect.broker_initial_s, cfg.reconnect.broker_max_s),
        )

    def connected(self) -> bool:
        return self.mqtt.connected.is_set()

    def idle(self) -> bool:
        """Nothing to send (no live batch waiting, no backlog) and room in the in-flight
        window: a partial batch sealed now leaves at once instead of lingering."""
        return (self.connected() and self._encoder.ready() and not self._outbox.has_ready()
                and not self._outbox.backlog_left
                and self._outbox.awaiting_ack < self.cfg.broker.max_inflight - 1)

    # -- MQTT callbacks (on the loop) -------------------------------------------------------

    def _publish_all(self, messages: list[Outgoing]) -> None:
        for m in messages:
            self.mqtt.publish(m)

    def _on_connect(self) -> None:
        self._state.connected_since_ms = now_ms()
        # Everything sealed before this moment is backlog, sent oldest first as historical.
        self._outbox.connected(next_seq=self._buffer.next_seq)
        if self._bucket is not None:
            self._bucket.reset(asyncio.get_running_loop().time())
        self._publish_all(self._encoder.births(next_seq=self._buffer.next_seq))
        log.info("connected to broker %s:%s%s", self.cfg.broker.host, self.cfg.broker.port,
                 "; birth sent" if self._encoder.ready() else "; waiting for the primary host")

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            self._publish_all(self._encoder.on_message(topic, payload,
                                                       next_seq=self._buffer.next_seq))
        except Exception:  # a malformed command must not stop the agent
            log.exception("could not handle message on %s", topic)
        farewell = self._encoder.take_reconnect()
        if farewell is not None:
            self._reconnecting = self._tasks.spawn(self._reconnect(farewell), name="reconnect")
        self._outbox.nudge()

    async def _reconnect(self, farewell: Outgoing) -> None:
        """A new MQTT session, as the encoder asked. Batches in flight are given a moment
        to be acknowledged first (the encoder hands out no new ones meanwhile), so that the
        new session starts with births, not with paho's resends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECONNECT_SETTLE_S
        while self._outbox.awaiting_ack and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await self.mqtt.reconnect(farewell=farewell)

    def _on_ack(self, mid: int) -> None:
        samples = self._outbox.acknowledged(mid)
        if samples is None:
            return  # another message of the batch is due, or not a batch
        self._state.published_samples += samples
        self._state.published_batches += 1
        self._on_acked()  # the committer removes it from disk

    # -- the task -----------------------------------------------------------------------------

    def start(self) -> None:
        self.mqtt.start()

    async def run(self) -> None:
        window = self.cfg.broker.max_inflight
        while True:  # until cancelled: it also serves the final flush after stop
            await self._outbox.wait(0.5)
            if not self.connected() or not self._encoder.ready():
                continue
            live = await self._live(window - self._outbox.awaiting_ack - 1)
            if live:
                counters = await self._current_counters()
                for batch in live:
                    self._hand(batch, counters, historical=False)
            if self._outbox.backlog_left and self.connected():
                await self._send_backlog(window - self._outbox.awaiting_ack)

    async def _live(self, room: int) -> list[SealedBatch]:
        """Up to ``room`` live batches, bodies read for those the cache did not hold (one
        that is gone was dropped by the full policy)."""
        take = self._outbox.take_live(room, dropped_through=self._buffer.dropped_through)
        missing = [b.seq for b in take if not b.samples_json]
        if missing:
            read = {b.seq: b for b in await self._disk(self._buffer.batches, missing)}
            take = [b if b.samples_json else read[b.seq] for b in take
                    if b.samples_json or b.seq in read]
        return take

    async def _send_backlog(self, room: int) -> None:
        """Backlog batches, oldest first, within the drain rate."""
        if room <= 0:
            return
        bucket = self._bucket
        if bucket is not None:
            bucket.refill(asyncio.get_running_loop().time())
            if not bucket.has_tokens():
                return
        batches = await self._disk(_claim_unsent, self._buffer, self._outbox.claimed,
                                   below_seq=self._outbox.first_live_seq, limit=room)
        if not batches:
            self._outbox.backlog_done()  # paho resends its own; a reconnection makes more
            return
        counters = await self._current_counters()
        for i, batch in enumerate(batches):
            if bucket is not None and not bucket.take(batch.n):
                self._outbox.unclaim(b.seq for b in batches[i:])
                break
            self._hand(batch, counters, historical=True)

    def _hand(self, batch: SealedBatch, counters: Counters, *, historical: bool) -> None:
        messages = self._encoder.batch(batch, counters=counters, historical=historical)
        self._outbox.handed(batch, [self.mqtt.publish(m) for m in messages])

    async def _current_counters(self) -> Counters:
        """Read when there is a batch to send, so the first copy already counts it."""
        now = asyncio.get_running_loop().time()
        if self._refresh is not None and self._refresh.done():
            fresh, self._refresh = self._refresh.result(), None
            if fresh is not None:
                self._counters = fresh
        if self._counters is None:
            self._counters, self._counters_at = await self._disk(self._buffer.counters), now
        elif now - self._counters_at >= COUNTERS_STALE_S:  # nothing sent for a while
            self._counters_at = now
            fresh = await self._disk(_read_counters, self._buffer)
            self._refresh = None  # one still pending read before this one (the thread is FIFO)
            if fresh is not None:
                self._counters = fresh
        elif now - self._counters_at >= COUNTERS_MAX_AGE_S and self._refresh is None:
            self._counters_at = now  # one refresh at a time
            self._refresh = self._disk.submit(_read_counters, self._buffer)
        return self._counters

    # -- the stop -------------------------------------------------------------------------------

    async def flush(self, *, timeout_s: float) -> None:
        """Give the broker up to ``timeout_s`` to take every sealed batch. Whatever is not
        acknowledged in time stays on disk and goes out after the next start."""
        if not self.connected():
            return
        # The store is the truth: any live batch on disk the sender does not have yet is
        # queued too (the committer hands out all it seals, so normally there is none).
        self._outbox.sealed(await self._disk(_claim_unsent, self._buffer, self._outbox.claimed,
                                             from_seq=self._outbox.first_live_seq, limit=1 << 20))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline and (await self._disk(self._buffer.depth))[1] > 0:
            self._outbox.nudge()
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """End the session: say goodbye (a clean death, so no last will) and disconnect."""
        if self._reconnecting is not None:
            await self._tasks.cancel([self._reconnecting])
        await self.mqtt.stop(farewell=self._encoder.farewell())


def _claim_unsent(buffer: DiskBuffer, claimed: set[int], *, from_seq: int = 0,
                  below_seq: int | None = None, limit: int) -> list[SealedBatch]:
    """On the buffer's thread: unsent batches nobody has claimed, claimed in the same step, so
    the full policy cannot drop one between this read and its publishing (outbox.py)."""
    batches = buffer.unsent(from_seq=from_seq, below_seq=below_seq, limit=limit, skip=claimed)
    claimed.update(b.seq for b in batches)
    return batches


def _read_counters(buffer: DiskBuffer) -> Counters | None:
    try:
        return buffer.counters()
    except sqlite3.Error as err:
        log.warning("could not re-read the counters (the last ones ride on): %s", err)
        return None
