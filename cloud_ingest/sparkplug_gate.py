"""Sparkplug B deliveries → the same wire messages as JSON, decoded in arrival order: the cloud
as a Sparkplug B 3.0 host application for any edge node (docs/sparkplug.md, "In the cloud").

Sparkplug data only make sense against the births of their edge node (metric aliases and
datatypes), so decoding is stateful and order matters. The gate therefore runs in the MQTT
network thread, where messages arrive in order, and hands the writers deliveries that already
carry their decoded messages (``wire.sparkplug.decoder``). From there on storage, idempotency and
acks are those of JSON batches.

Data from a node whose births this worker has not seen (after our restart: births are QoS 0
and not kept for us) is *held*, unacknowledged, while a rebirth request (NCMD) goes to the node
every ``sparkplug.rebirth_every_s``, and is decoded again when the births arrive. Held messages
occupy our receive-maximum window, so they are bounded three ways, each ending in a dead letter
``sparkplug_needs_birth`` with the payload and the reason (then acknowledged): older than
``sparkplug.hold_s``; beyond ``sparkplug.hold_per_node`` of one node; beyond half the window
(``mqtt.max_inflight``) over all nodes, so one silent node cannot stall every other.

With ``sparkplug.host_id`` the service is the nodes' primary host: its MQTT will is the
retained STATE ``{"online": false}``, it publishes ``{"online": true}`` with the same timestamp
after every CONNECT, and if it ever sees its own STATE offline while connected (a stale will, or
another worker with the same host id that died) it publishes online again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from cloud_ingest.config import SparkplugHostConfig
from cloud_ingest.delivery import Delivery
from cloud_ingest.inbound import Rejected
from wire.sample import now_ms
from wire.sparkplug import convention as sp
from wire.sparkplug.decoder import (
    NeedsBirth,
    SparkplugDecoder,
    SparkplugError,
    Unstored,
    host_state,
    rebirth_request,
)

log = logging.getLogger(__name__)

NAMESPACE = sp.NAMESPACE
NEEDS_BIRTH = "sparkplug_needs_birth"
Publish = Callable[[str, bytes, int, bool], object]  # topic, payload, qos, retain
Node = tuple[str, str]  # (group id, edge node id)


def is_sparkplug(topic: str) -> bool:
    return topic.startswith(NAMESPACE + "/")


@dataclass(frozen=True, slots=True)
class HeldStatus:
    """What waits for births now, and what the limits turned into dead letters so far."""

    messages: int
    nodes: int
    oldest_s: float
    expired: int
    overflowed: int
    rebirth_requests: int


class SparkplugGate:
    def __init__(self, cfg: SparkplugHostConfig, *, publish: Publish, max_held: int,
                 persistent: bool) -> None:
        self._cfg = cfg
        self._publish = publish
        self._max_held = max_held
        self._persistent = persistent
        self._decoder = SparkplugDecoder(identity=cfg.identity)
        self._lock = threading.Lock()  # feed runs in the network thread, expire in the writers'
        self._held: dict[Node, deque[tuple[float, Delivery]]] = {}
        self._asked: dict[Node, tuple[float, int]] = {}  # last request, requests since held
        self._expired = self._overflowed = self._requests = 0
        self._state_ts = 0

    # -- primary host STATE ------------------------------------------------------------------

    def will(self) -> tuple[str, bytes] | None:
        """The will to register before a CONNECT: a fresh timestamp for each connection."""
        if self._cfg.host_id is None:
            return None
        self._state_ts = max(now_ms(), self._state_ts + 1)
        return host_state(self._cfg.host_id, online=False, timestamp=self._state_ts)

    def subscriptions(self) -> list[str]:
        return [sp.state_topic(self._cfg.host_id)] if self._cfg.host_id else []

    def on_connect(self) -> None:
        if self._cfg.host_id is not None:
            self._publish(*host_state(self._cfg.host_id, online=True, timestamp=self._state_ts), 1, True)

    def farewell(self) -> tuple[str, bytes] | None:
        """The STATE to publish before a clean disconnect (the broker sends no will then)."""
        if self._cfg.host_id is None:
            return None
        return host_state(self._cfg.host_id, online=False, timestamp=self._state_ts)

    def _own_state(self, d: Delivery) -> None:
        try:
            online = json.loads(d.payload).get("online")
        except (ValueError, AttributeError):
            online = None
        if online is False and self._cfg.host_id is not None:
            log.warning("our STATE %s reads offline while we are connected; publishing online again",
                        d.topic)
            self._state_ts = max(now_ms(), self._state_ts + 1)
            self._publish(*host_state(self._cfg.host_id, online=True, timestamp=self._state_ts), 1, True)

    # -- data --------------------------------------------------------------------------------

    def feed(self, d: Delivery) -> list[Delivery]:
        """Deliveries ready for the writers (each with ``decoded`` set); [] while held back."""
        if self._cfg.host_id is not None and d.topic == sp.state_topic(self._cfg.host_id):
            self._own_state(d)
            return [replace(d, decoded=())]  # nothing to store; acknowledged like any message
        with self._lock:
            return self._feed(d)

    def _feed(self, d: Delivery) -> list[Delivery]:
        t = sp.parse_topic(d.topic)
        try:
            msgs = self._decoder.decode(d.topic, d.payload, received_ms=d.received_ms)
        except NeedsBirth as err:
            assert t is not None
            return self._hold(d, (t.group, t.node), err)
        except SparkplugError as err:
            return [replace(d, decoded=(self._rejected(d, "sparkplug", str(err)[:1000]),))]
        decoded = tuple(self._rejected(d, "sparkplug_value", m.detail[:1000]) if isinstance(m, Unstored)
                        else m for m in msgs)
        out = [replace(d, decoded=decoded)]
        if t is not None and t.kind in ("NBIRTH", "DBIRTH"):
            node = (t.group, t.node)
            if node in self._asked:  # the rate limit stays: a node whose births we refuse must
                self._asked[node] = (self._asked[node][0], 0)  # not be asked again at once
            for _, held in self._held.pop(node, deque()):
                out += self._feed(held)
        return out

    def _rejected(self, d: Delivery, reason: str, detail: str) -> Rejected:
        t = sp.parse_topic(d.topic)
        if t is None:
            return Rejected(reason, detail)
        who = self._decoder.identity(t.group, t.node)
        return Rejected(reason, detail, who.enterprise, who.gateway)

    def _hold(self, d: Delivery, node: Node, err: NeedsBirth) -> list[Delivery]:
        now = time.monotonic()
        last, _ = self._asked.get(node, (-self._cfg.rebirth_every_s, 0))
        if now - last >= self._cfg.rebirth_every_s:
            self._ask(node, now, str(err))
        queue = self._held.setdefault(node, deque())
        total = sum(len(q) for q in self._held.values())
        if len(queue) >= self._cfg.hold_per_node or total >= self._max_held:
            self._overflowed += 1
            limit = (f"sparkplug.hold_per_node={self._cfg.hold_per_node} messages of this node"
                     if len(queue) >= self._cfg.hold_per_node else
                     f"{self._max_held} messages of all nodes (half of mqtt.max_inflight)")
            if not queue:
                del self._held[node]
            detail = f"{err}; {limit} already wait for births"
            return [replace(d, decoded=(self._rejected(d, NEEDS_BIRTH, detail),))]
        queue.append((now, d))
        return []

    def _ask(self, node: Node, now: float, why: str) -> None:
        """An NCMD rebirth request (QoS 0, not retained, as Sparkplug says)."""
        self._asked[node] = (now, self._asked.get(node, (0.0, 0))[1] + 1)
        self._requests += 1
        log.info("%s; asking %s/%s for a rebirth", why, *node)
        self._publish(*rebirth_request(*node), 0, False)

    def expire(self, *, now: float | None = None) -> list[Delivery]:
        """Held messages older than ``sparkplug.hold_s``, as dead letters for the writers."""
        now = time.monotonic() if now is None else now
        out: list[Delivery] = []
        with self._lock:
            for node in list(self._held):
                queue = self._held[node]
                while queue and now - queue[0][0] >= self._cfg.hold_s:
                    since, d = queue.popleft()
                    asked = self._asked.get(node, (0.0, 0))[1]
                    detail = (f"{node[0]}/{node[1]} sent no births within sparkplug.hold_s="
                              f"{self._cfg.hold_s:g} s ({asked} rebirth request(s)); "
                              f"held {now - since:.1f} s")
                    out.append(replace(d, decoded=(self._rejected(d, NEEDS_BIRTH, detail),)))
                if not queue:
                    del self._held[node]
                elif now - self._asked.get(node, (now, 0))[0] >= self._cfg.rebirth_every_s:
                    self._ask(node, now, "its data still wait for births")
            self._expired += len(out)
        return out

    def reset(self) -> list[Delivery]:
        """On (re)connect: with a persistent session the broker redelivers what we held, so it is
        forgotten here; with a clean session the broker forgot it, so it becomes dead letters."""
        with self._lock:
            held = [d for q in self._held.values() for _, d in q]
            self._held.clear()
            self._asked.clear()
        if self._persistent or not held:
            return []
        detail = "the connection to the broker was lost while it waited for births (clean session)"
        return [replace(d, decoded=(self._rejected(d, NEEDS_BIRTH, detail),)) for d in held]

    def release(self) -> list[Delivery]:
        """At shutdown with a clean session: what is held becomes dead letters (the broker would
        forget it); with a persistent session it stays unacknowledged for our return."""
        if self._persistent:
            return []
        with self._lock:
            held = [d for q in self._held.values() for _, d in q]
            self._held.clear()
        detail = "the service stopped while it waited for births (clean session)"
        return [replace(d, decoded=(self._rejected(d, NEEDS_BIRTH, detail),)) for d in held]

    def status(self) -> HeldStatus:
        with self._lock:
            now = time.monotonic()
            oldest = min((q[0][0] for q in self._held.values() if q), default=now)
            return HeldStatus(messages=sum(len(q) for q in self._held.values()), nodes=len(self._held),
                              oldest_s=round(now - oldest, 1), expired=self._expired,
                              overflowed=self._overflowed, rebirth_requests=self._requests)

    def held(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._held.values())
