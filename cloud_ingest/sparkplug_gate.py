"""Sparkplug B deliveries → the same wire messages as JSON, decoded in arrival order.

Sparkplug data only makes sense against the births of its edge node (metric aliases, the
enterprise id), so decoding is stateful and order matters. The gate therefore runs in the MQTT
network thread, where messages arrive in order, and hands the writers deliveries that already
carry their decoded messages (``wire.sparkplug.decoder`` does the decoding). From there on,
storage, idempotency (the DDATA's ``Gateway/Batch Seq`` is the batch seq) and acks are those of
JSON batches.

Data from a node whose births this worker has not seen (after our restart: births are QoS 0
and not kept for us) is held back, unacknowledged, while a rebirth request (NCMD) goes to the
node, and is decoded again when its births arrive. Held messages occupy our receive-maximum
window, so at most ``max_pending`` are held; beyond that they go to the dead letters
(``sparkplug_needs_birth``, payload kept) rather than stall every gateway behind one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from cloud_ingest.delivery import Delivery
from cloud_ingest.inbound import Rejected
from wire.sparkplug import convention as sp
from wire.sparkplug.decoder import NeedsBirth, SparkplugDecoder, SparkplugError

log = logging.getLogger(__name__)

REBIRTH_EVERY_S = 5.0
NAMESPACE = sp.NAMESPACE


def is_sparkplug(topic: str) -> bool:
    return topic.startswith(NAMESPACE + "/")


class SparkplugGate:
    def __init__(self, *, publish: Callable[[str, bytes], object], max_pending: int) -> None:
        self._publish = publish
        self._max_pending = max_pending
        self._decoder = SparkplugDecoder()
        self._pending: dict[tuple[str, str], list[Delivery]] = {}
        self._asked: dict[tuple[str, str], float] = {}

    def reset(self) -> None:
        """On (re)connect: held messages of the old connection will be redelivered by the broker."""
        self._pending.clear()

    def pending(self) -> int:
        return sum(len(v) for v in self._pending.values())

    def feed(self, d: Delivery) -> list[Delivery]:
        """Deliveries ready for the writers (each with ``decoded`` set); [] while held back."""
        t = sp.parse_topic(d.topic)
        try:
            msgs = self._decoder.decode(d.topic, d.payload, received_ms=d.received_ms)
        except NeedsBirth as err:
            assert t is not None
            return self._hold(d, (t.group, t.node), err)
        except SparkplugError as err:
            gateway = t.node if t else None
            return [replace(d, decoded=(Rejected("sparkplug", str(err)[:500], None, gateway),))]
        out = [replace(d, decoded=tuple(msgs))]
        if t is not None and t.kind in ("NBIRTH", "DBIRTH"):
            for held in self._pending.pop((t.group, t.node), []):
                out += self.feed(held)
        return out

    def _hold(self, d: Delivery, node: tuple[str, str], err: NeedsBirth) -> list[Delivery]:
        now = time.monotonic()
        if now - self._asked.get(node, -REBIRTH_EVERY_S) >= REBIRTH_EVERY_S:
            self._asked[node] = now
            log.info("%s; asking %s/%s for a rebirth", err, *node)
            self._publish(*err.rebirth)
        if self.pending() >= self._max_pending:
            detail = f"{err}; {self._max_pending} messages already waiting for births"
            return [replace(d, decoded=(Rejected("sparkplug_needs_birth", detail, None, node[1]),))]
        self._pending.setdefault(node, []).append(d)
        return []
