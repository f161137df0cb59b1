"""The MQTT side of the service: subscribe at QoS 1, hand messages over, acknowledge only later.

This is the only module that imports paho-mqtt (API version 2, MQTT 5). Acknowledgements are
manual: the service acks a message only after its transaction committed or it reached the dead
letters. While the database is away nothing is acked, so the broker stops sending once our
receive-maximum window is full and keeps the rest queued for us; with a persistent session
(fixed client id) it also keeps them across a crash of this process.

A PUBACK names a packet id that is only meaningful on the connection that delivered it, so
each message carries the connection generation it came on and is never acked on a later one
(the broker redelivers it there instead, and the ledger drops the copy).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud_ingest.config import MqttConfig
from cloud_ingest.delivery import Delivery
from cloud_ingest.sparkplug_gate import SparkplugGate, is_sparkplug
from common.secrets import SecretError

log = logging.getLogger(__name__)


class BrokerError(Exception):
    """The broker could not be reached or refused us."""


class MqttSource:
    def __init__(self, cfg: MqttConfig, *, queue_max: int) -> None:
        self.cfg = cfg
        self.client_id = cfg.client_id or f"cloud-ingest-{uuid.uuid4().hex[:12]}"
        # A persistent session under a random id would outlive this process and, in a shared
        # group on Mosquitto, keep collecting its share of messages for nobody: only with a
        # fixed id, which a restarted worker reuses.
        self.persistent = cfg.persistent_session and cfg.client_id is not None
        if cfg.persistent_session and not self.persistent:
            log.warning("mqtt.client_id is not set: using a clean session (unacked messages of a crashed"
                        " worker are then lost by the broker)")
        self.queue: queue.Queue[Delivery] = queue.Queue(maxsize=max(queue_max, cfg.max_inflight))
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.unsubscribed = threading.Event()
        self._generation = 0
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if cfg.username:
            try:
                password = cfg.password()
            except SecretError as err:
                raise BrokerError(str(err)) from err
            self._client.username_pw_set(cfg.username, password.get_secret_value() if password else None)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = lambda *_a: self.unsubscribed.set()
        self._client.reconnect_delay_set(1, 10)
        self._gate = (SparkplugGate(publish=lambda t, p: self._client.publish(t, p, qos=0),
                                    max_pending=max(1, cfg.max_inflight // 2))
                      if cfg.sparkplug_group else None)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, *, timeout: float | None = None) -> None:
        """Connect and subscribe; raises BrokerError if the broker is not there within the timeout."""
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = self.cfg.max_inflight
        if self.persistent:
            props.SessionExpiryInterval = self.cfg.session_expiry_s
        self._client.connect_timeout = self.cfg.connect_timeout_s
        try:
            self._client.connect(
                self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s,
                clean_start=not self.persistent, properties=props,
            )
        except OSError as err:
            raise BrokerError(f"cannot reach broker {self.cfg.host}:{self.cfg.port}: {err}") from err
        self._client.loop_start()
        wait = timeout or self.cfg.connect_timeout_s
        if not (self.connected.wait(wait) and self.subscribed.wait(wait)):
            self.stop()
            raise BrokerError(
                f"broker {self.cfg.host}:{self.cfg.port} did not accept our subscription in time")

    def leave(self, *, timeout: float) -> bool:
        """Unsubscribe, so the broker stops giving this worker a share (what was already queued
        for us still arrives and must be drained before ``stop(forget=True)``)."""
        self.unsubscribed.clear()
        self._client.unsubscribe(self.cfg.subscriptions())
        return self.unsubscribed.wait(timeout)

    def stop(self, *, forget: bool = False) -> None:
        """Disconnect. ``forget`` ends a persistent session at the broker (MQTT 5 session expiry 0):
        only after a complete drain, otherwise unacknowledged messages must wait for our return."""
        props = None
        if forget and self.persistent:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        try:
            self._client.disconnect(properties=props)
        finally:
            self._client.loop_stop()

    def idle(self) -> bool:
        return self.queue.empty() and (self._gate is None or self._gate.pending() == 0)

    # -- paho callbacks (network thread) -------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any = None) -> None:
        if rc.is_failure:
            log.error("broker refused connection: %s", rc)
            return
        with self._lock:
            self._generation += 1
        if self._gate is not None:
            self._gate.reset()
        subs = self.cfg.subscriptions()
        client.subscribe([(t, 1) for t in subs])
        log.info("connected as %s (session present: %s), subscribing to %s",
                 self.client_id, getattr(flags, "session_present", None), ", ".join(subs))
        self.connected.set()

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[Any], _p: Any = None) -> None:
        if any(c.is_failure for c in codes):
            log.error("broker refused subscription %s: %s", self.cfg.subscriptions(), codes)
            return
        log.info("subscribed to %s", ", ".join(self.cfg.subscriptions()))  # after the SUBACK
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        self.connected.clear()
        log.warning("disconnected from broker: %s", rc)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # Blocks the network thread when full; the receive-maximum window normally keeps the
        # queue from filling, and blocking is the right backpressure if it does.
        d = Delivery(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._generation,
                     time.time_ns() // 1_000_000)
        if self._gate is not None and is_sparkplug(d.topic):
            for ready in self._gate.feed(d):
                self.queue.put(ready)
            return
        self.queue.put(d)

    # -- used by the service -------------------------------------------------------------

    def take(
        self, *, max_messages: int, max_samples_bytes: int, linger_s: float, wait_s: float
    ) -> list[Delivery]:
        """Up to ``max_messages`` (or about ``max_samples_bytes`` of payload); waits ``wait_s`` for the
        first and then at most ``linger_s`` for more."""
        try:
            first = self.queue.get(timeout=wait_s)
        except queue.Empty:
            return []
        out = [first]
        size = len(first.payload)
        deadline = time.monotonic() + linger_s
        while len(out) < max_messages and size < max_samples_bytes:
            remaining = deadline - time.monotonic()
            try:
                item = self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            out.append(item)
            size += len(item.payload)
        return out

    def ack(self, deliveries: Iterable[Delivery]) -> int:
        """PUBACK what was stored; returns how many were stale (from an earlier connection)."""
        stale = 0
        with self._lock:
            gen = self._generation
        for d in deliveries:
            if d.qos == 0:
                continue
            if d.generation != gen or not self.connected.is_set():
                stale += 1
                continue
            self._client.ack(d.mid, d.qos)
        return stale
