"""The MQTT side of the service: subscribe at QoS 1, hand messages over, acknowledge only later.

This is the only module that imports paho-mqtt (API version 2, MQTT 5). Acknowledgements are
manual: the service acks a message only after its transaction committed or it reached the dead
letters. While the database is away nothing is acked, so the broker stops sending once our
receive-maximum window is full and keeps the rest queued for us; with a persistent session
(fixed client id) it also keeps them across a crash of this process.

A PUBACK names a packet id that is only meaningful on the connection that delivered it, so
each message carries the connection generation it came on and is never acked on a later one
(the broker redelivers it there instead, and the ledger drops the copy).

With ``mqtt.tls`` the connection is MQTT over TLS (``common.tls`` builds the context and
explains failures): a broker certificate that our CA did not issue, that expired or that names
another host, and a broker that refuses our certificate, fail ``start`` with the reason and the
fix; later, while paho reconnects by itself, the same reason is logged once a minute.

Sparkplug B goes through ``sparkplug_gate`` in the network thread (births before data); what it
holds for births is counted by ``held()`` and never pins us: expired held messages come out of
``take`` as dead letters, and a persistent session is only forgotten when nothing is held.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud_ingest.config import MqttConfig, SparkplugHostConfig
from cloud_ingest.delivery import Delivery
from cloud_ingest.sparkplug_gate import HeldStatus, SparkplugGate, is_sparkplug
from common.secrets import SecretError
from common.tls import TlsError, client_context, describe_handshake_error, diagnose

log = logging.getLogger(__name__)


class BrokerError(Exception):
    """The broker could not be reached or refused us."""


DIAGNOSE_EVERY_S = 60.0


class MqttSource:
    def __init__(self, cfg: MqttConfig, *, queue_max: int,
                 sparkplug: SparkplugHostConfig | None = None) -> None:
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
        self._refused: str | None = None  # why the broker refused our CONNECT or SUBSCRIBE
        self._diagnosed_at = -DIAGNOSE_EVERY_S
        self._dropped = threading.Event()  # a connection was lost (or never completed)
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
        self._tls: ssl.SSLContext | None = None
        if cfg.tls is not None:
            warnings: list[str] = []
            try:
                self._tls = client_context(cfg.tls, field="mqtt.tls", warnings=warnings)
            except TlsError as err:
                raise BrokerError(str(err)) from None
            for warning in warnings:
                log.warning("%s", warning)
            self._client.tls_set_context(self._tls)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = lambda *_a: self.unsubscribed.set()
        self._client.reconnect_delay_set(1, 10)
        self._gate = (SparkplugGate(sparkplug or SparkplugHostConfig(),
                                    publish=lambda t, p, q, r: self._client.publish(t, p, qos=q, retain=r),
                                    max_held=max(1, cfg.max_inflight // 2), persistent=self.persistent)
                      if cfg.sparkplug_group else None)
        self._client.on_pre_connect = lambda *_a: self._set_will()

    def _set_will(self) -> None:
        will = self._gate.will() if self._gate is not None else None
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)

    def subscriptions(self) -> list[str]:
        return self.cfg.subscriptions() + (self._gate.subscriptions() if self._gate else [])

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
            explained = self._explain(err)
            if explained:
                raise BrokerError(explained) from None
            raise BrokerError(
                f"代理不可达 cannot reach the broker at {self.cfg.host}:{self.cfg.port}: "
                f"{err.strerror or err}; 检查 check that the broker runs, mqtt.host and mqtt.port in "
                "the config, and the firewall"
            ) from err
        self._client.loop_start()
        wait = timeout or self.cfg.connect_timeout_s
        deadline = time.monotonic() + wait
        diagnosed = False
        for step in (self.connected, self.subscribed):
            while not step.wait(0.05) and self._refused is None and time.monotonic() < deadline:
                if self._dropped.is_set() and not diagnosed and not self.connected.is_set():
                    diagnosed = True  # dropped before CONNACK: with TLS, likely our certificate
                    self._refused = self._tls_problem()
            if not step.is_set():
                self.stop()
                raise BrokerError(self._refused or (None if diagnosed else self._tls_problem()) or
                                  f"broker {self.cfg.host}:{self.cfg.port} did not accept our "
                                  "subscription in time")

    def _explain(self, err: BaseException) -> str | None:
        if self.cfg.tls is None:
            return None
        return describe_handshake_error(err, settings=self.cfg.tls, field="mqtt.tls",
                                        host=self.cfg.host, port=self.cfg.port,
                                        timeout=self.cfg.connect_timeout_s)

    def _tls_problem(self) -> str | None:
        """Why TLS fails, found by one probe connection (TLS 1.3 brokers refuse a client's
        certificate after the handshake, which paho only sees as a lost connection)."""
        if self._tls is None or self.cfg.tls is None:
            return None
        return diagnose(self.cfg.host, self.cfg.port, self._tls, settings=self.cfg.tls, field="mqtt.tls",
                        timeout=min(self.cfg.connect_timeout_s, 5.0))

    def leave(self, *, timeout: float) -> bool:
        """Unsubscribe, so the broker stops giving this worker a share (what was already queued
        for us still arrives and must be drained before ``stop(forget=True)``)."""
        self.unsubscribed.clear()
        self._client.unsubscribe(self.subscriptions())
        left = self.unsubscribed.wait(timeout)
        for d in self._gate.release() if self._gate is not None else []:
            self.queue.put(d)  # clean session: held messages become dead letters, not lost
        return left

    def stop(self, *, forget: bool = False) -> None:
        """Disconnect. ``forget`` ends a persistent session at the broker (MQTT 5 session expiry 0):
        only after a complete drain, otherwise unacknowledged messages must wait for our return."""
        props = None
        if forget and self.persistent and self.held():
            log.info("%d Sparkplug messages wait for births: the broker keeps our session for them",
                     self.held())
        elif forget and self.persistent:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        farewell = self._gate.farewell() if self._gate is not None and self.connected.is_set() else None
        try:
            if farewell is not None:  # Sparkplug 3.0: a host going away cleanly says so itself
                try:
                    self._client.publish(*farewell, qos=1, retain=True).wait_for_publish(2.0)
                except (ValueError, RuntimeError) as err:
                    log.warning("could not publish our offline STATE: %s", err)
            self._client.disconnect(properties=props)
        finally:
            self._client.loop_stop()

    def idle(self) -> bool:
        """Nothing left for the writers. Held Sparkplug messages do not count: they wait for
        births or their time limit, not for us, and must not delay a stop."""
        return self.queue.empty()

    def held(self) -> int:
        return self._gate.held() if self._gate is not None else 0

    def sparkplug_status(self) -> HeldStatus | None:
        return self._gate.status() if self._gate is not None else None

    # -- paho callbacks (network thread) -------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any = None) -> None:
        if rc.is_failure:
            self._refused = self._refusal(rc)
            log.error("%s", self._refused)
            return
        self._refused = None
        with self._lock:
            self._generation += 1
        if self._gate is not None:
            for d in self._gate.reset():
                self.queue.put(d)
            self._gate.on_connect()
        subs = self.subscriptions()
        client.subscribe([(t, 1) for t in subs])
        log.info("connected as %s (session present: %s), subscribing to %s",
                 self.client_id, getattr(flags, "session_present", None), ", ".join(subs))
        self.connected.set()

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[Any], _p: Any = None) -> None:
        if any(c.is_failure for c in codes):
            who = f"user {self.cfg.username!r}" if self.cfg.username else "this client's identity"
            self._refused = (f"代理拒绝订阅 (subscription refused): broker {self.cfg.host}:{self.cfg.port} "
                             f"refused {', '.join(self.cfg.subscriptions())} ({', '.join(map(str, codes))}); "
                             f"its ACL must let {who} read them (examples/mosquitto/shopfloor.acl: "
                             "user cloud-ingest, topic read shopfloor/v1/#)")
            log.error("%s", self._refused)
            return
        log.info("subscribed to %s", ", ".join(self.cfg.subscriptions()))  # after the SUBACK
        self.subscribed.set()

    def _refusal(self, rc: Any) -> str:
        where = f"broker {self.cfg.host}:{self.cfg.port}"
        value = getattr(rc, "value", None)
        # Mosquitto answers "not authorized" for a wrong password too: both mean the same here
        if value in (0x86, 0x87, 4, 5) and self.cfg.username:
            source = (f"mqtt.password_env ({self.cfg.password_env})" if self.cfg.password_env else
                      f"mqtt.password_file ({self.cfg.password_file})" if self.cfg.password_file else
                      "mqtt.password_env or mqtt.password_file (none is set)")
            return (f"代理拒绝登录 (bad user name or password, or not authorized): {where} refused user "
                    f"{self.cfg.username!r} ({rc}); check mqtt.username and the password in {source}, "
                    "and that the broker's password file holds this user")
        if value in (0x86, 0x87, 4, 5):
            who = ("the identity (CN) of mqtt.tls.cert_file" if self.cfg.tls and self.cfg.tls.mutual
                   else "anonymous clients")
            return (f"代理拒绝连接 (not authorized): {where} does not let {who} connect ({rc}); set "
                    "mqtt.username and a password, or a client certificate the broker accepts")
        return f"代理拒绝连接 (broker refused the connection): {where}: {rc}"

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        """paho's reconnect failed; say why (once a minute, the probe opens a connection)."""
        now = time.monotonic()
        if self._tls is None or now - self._diagnosed_at < DIAGNOSE_EVERY_S:
            return
        self._diagnosed_at = now
        problem = self._tls_problem()
        if problem:
            log.error("reconnecting: %s", problem)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        self.connected.clear()
        self._dropped.set()
        log.warning("disconnected from broker: %s", rc)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # Blocks the network thread when full; the receive-maximum window normally keeps the
        # queue from filling, and blocking is the right backpressure if it does.
        d = Delivery(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._generation,
                     time.time_ns() // 1_000_000, publisher=self._publisher(msg))
        if self._gate is not None and is_sparkplug(d.topic):
            for ready in self._gate.feed(d):
                self.queue.put(ready)
            return
        self.queue.put(d)

    def _publisher(self, msg: mqtt.MQTTMessage) -> tuple[str, ...]:
        """Every value of ``mqtt.publisher_property`` (a client may forge one; the broker's
        plugin appends its own, and the ingest demands that all agree)."""
        name = self.cfg.publisher_property
        if name is None:
            return ()
        pairs = getattr(msg.properties, "UserProperty", None) or []
        return tuple(v for k, v in pairs if k == name)

    # -- used by the service -------------------------------------------------------------

    def take(
        self, *, max_messages: int, max_samples_bytes: int, linger_s: float, wait_s: float
    ) -> list[Delivery]:
        """Up to ``max_messages`` (or about ``max_samples_bytes`` of payload); waits ``wait_s`` for the
        first and then at most ``linger_s`` for more. Held Sparkplug messages past their time
        limit come first, as dead letters."""
        expired = self._gate.expire() if self._gate is not None else []
        if expired:
            return expired
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
