"""The agent's MQTT session: the only module that imports paho-mqtt.

paho runs its network loop in a thread; every callback is handed to the asyncio loop with
``call_soon_threadsafe`` so the rest of the agent is single-threaded. QoS 1 messages that were
in flight when the connection dropped are resent by paho itself after it reconnects, so the
agent never publishes a batch twice on its own.

With ``broker.tls`` the session is MQTT over TLS, its context built by `common.tls` (the same
code and messages as the cloud's ingest). TLS trouble never stops the agent: it keeps reading
and buffering, says once what is wrong and how to fix it (naming the file), and

- a context that cannot be built (an expired or unreadable certificate, a key others may
  read) is tried again every ``TLS_RETRY_S``, so replacing the files is enough;
- a handshake that fails (a broker certificate from another CA, an expired one, one for
  another host name, a broker refusing ours) is retried by paho; `common.tls.diagnose` opens
  one probe connection to say why, at once and then at most every ``DIAGNOSE_EVERY_S``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from common.secrets import SecretError
from common.tls import TlsError, client_context, describe_handshake_error, diagnose
from edge_agent.config import BrokerConfig
from edge_agent.encoders import Outgoing

log = logging.getLogger(__name__)

TLS_RETRY_S = 10.0
DIAGNOSE_EVERY_S = 60.0
BUFFERING = "数据继续缓存在本地 (the agent keeps buffering: nothing read is lost)"


class MqttError(Exception):
    """The broker refused or could not be reached; the message says which and why."""


def make_client(cfg: BrokerConfig, *, client_id: str) -> paho.Client:
    """A paho client with the config's credentials: the one place a connection is set up, for
    the session and for `edge-agent check`'s probe alike (TLS is added by each: the session
    retries an unusable certificate, the probe reports it)."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    if cfg.username:
        try:
            password = cfg.password()
        except SecretError as err:
            raise MqttError(str(err)) from err
        c.username_pw_set(cfg.username, password.get_secret_value() if password else None)
    return c


def refusal(cfg: BrokerConfig, reason: ReasonCode) -> str:
    """What a refused CONNECT means for this config, and what to check."""
    where = f"{cfg.host}:{cfg.port}"
    if reason.value in (0x86, 0x87, 4, 5):  # bad user name or password / not authorized
        if cfg.username or cfg.tls is None or not cfg.tls.mutual:
            source = (f"broker.password_env ({cfg.password_env})" if cfg.password_env else
                      f"broker.password_file ({cfg.password_file})" if cfg.password_file else
                      "broker.password_env / broker.password_file (neither is set)")
            return (f"代理拒绝登录 the broker at {where} refused the login ({reason}) for user "
                    f"{cfg.username or '(none)'}: 检查 broker.username 和密码 check broker.username "
                    f"and the password in {source}, and the broker's ACL for this gateway")
        return (f"代理拒绝登录 the broker at {where} refused the login ({reason}) for the identity (CN) "
                f"of broker.tls.cert_file ({cfg.tls.cert_file}): 检查证书与代理 ACL check that the "
                "certificate's CN is this gateway's id and that the broker's ACL lists it")
    return f"代理拒绝连接 the broker at {where} refused the connection: {reason}"


def probe(cfg: BrokerConfig, *, client_id: str, timeout_s: float = 10.0) -> str | None:
    """Connect once as the agent would, without a last will, and disconnect: None when the
    broker accepts this gateway's connection, else what is wrong and what to do, for a
    technician (an unreadable or unsafe secret, a certificate, the handshake, the login).
    ``client_id`` must not be the running agent's, or the broker would drop that session."""
    where = f"{cfg.host}:{cfg.port}"
    try:
        c = make_client(cfg, client_id=client_id)
    except MqttError as err:
        return f"代理凭据不可读 cannot read the broker password: {err}"
    ctx: ssl.SSLContext | None = None
    if cfg.tls is not None:
        try:
            ctx = client_context(cfg.tls, field="broker.tls")
        except TlsError as err:
            return str(err)
        c.tls_set_context(ctx)
    answer: list[ReasonCode] = []
    done = threading.Event()

    def connected(_c: paho.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        answer.append(reason)
        done.set()

    c.on_connect = connected
    c.on_disconnect = lambda *_a: done.set()  # TLS 1.3: a refused certificate drops us here
    c.connect_timeout = timeout_s
    try:
        c.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
    except OSError as err:
        explained = (describe_handshake_error(err, settings=cfg.tls, field="broker.tls", host=cfg.host,
                                              port=cfg.port, timeout=timeout_s) if cfg.tls else None)
        return explained or (
            f"代理不可达 cannot reach the broker at {where}: {err.strerror or err}; "
            "检查代理是否运行、broker.host/port 是否正确、防火墙 check that the broker runs, "
            "broker.host and broker.port, and the firewall")
    c.loop_start()
    try:
        done.wait(timeout_s)
        if answer:
            return refusal(cfg, answer[0]) if answer[0].is_failure else None
        problem = (diagnose(cfg.host, cfg.port, ctx, settings=cfg.tls, field="broker.tls", timeout=timeout_s)
                   if ctx is not None and cfg.tls is not None else None)
        return problem or (
            f"代理无应答 the broker at {where} accepted the TCP connection but did not answer "
            f"within {timeout_s:.0f} s; 检查端口是否是 MQTT 端口 check that it is an MQTT port")
    finally:
        c.disconnect()
        c.loop_stop()


class MqttSession:
    def __init__(
        self,
        cfg: BrokerConfig,
        *,
        client_id: str,
        will: Callable[[], Outgoing],
        on_connect: Callable[[], None],
        on_ack: Callable[[int], None],
        on_message: Callable[[str, bytes], None] | None = None,
        subscriptions: list[str] | None = None,
        reconnect_s: tuple[int, int] = (1, 5),
    ) -> None:
        self.cfg = cfg
        self._loop: asyncio.AbstractEventLoop | None = None  # the agent's, from `start`
        self._will = will
        self._on_connect = on_connect
        self._on_ack = on_ack
        self._on_message = on_message
        self._subscriptions = subscriptions or []
        self._stopping = False
        self.connected = asyncio.Event()
        self.last_error: str | None = None
        self._tls: ssl.SSLContext | None = None
        self._tls_retry: asyncio.Task[None] | None = None
        self._diagnosed_at: float | None = None
        self._up = False  # CONNACK received on the current connection (paho's thread)
        c = make_client(cfg, client_id=client_id)
        c.max_inflight_messages_set(cfg.max_inflight)
        c.max_queued_messages_set(0)
        # (first delay, cap): the gateway config's reconnect.broker_initial_s / broker_max_s
        c.reconnect_delay_set(min_delay=reconnect_s[0], max_delay=reconnect_s[1])
        c.on_connect = self._cb_connect
        c.on_connect_fail = self._cb_connect_fail
        c.on_disconnect = self._cb_disconnect
        c.on_publish = self._cb_publish
        c.on_message = self._cb_message
        self.client = c
        self._set_will()

    def _set_will(self) -> None:
        w = self._will()
        self.client.will_set(w.topic, w.payload, qos=w.qos, retain=w.retain)

    # paho thread -> asyncio loop -------------------------------------------------------------

    def _to_loop(self, callback: Callable[..., object], *args: object) -> None:
        if self._loop is not None:  # paho calls back only after `start`
            self._loop.call_soon_threadsafe(callback, *args)

    def _cb_connect(self, client: paho.Client, userdata: object, flags: object,
                    reason: ReasonCode, props: object) -> None:
        if reason.is_failure:
            self._report(f"{refusal(self.cfg, reason)}; {BUFFERING}")
            return
        self._up = True
        self._diagnosed_at = None  # a later problem is explained at once
        for sub in self._subscriptions:
            client.subscribe(sub, qos=1)
        self._to_loop(self._connected)

    def _report(self, problem: str) -> None:
        """Say a problem once (until it changes), as an error; it stays in ``last_error``."""
        if problem != self.last_error:
            log.error("%s", problem)
        self.last_error = problem

    def _cb_connect_fail(self, client: paho.Client, userdata: object) -> None:
        self._explain_tls()

    def _explain_tls(self) -> None:
        """On paho's thread, after a failed connection: why TLS fails, by one probe."""
        if self._tls is None or self.cfg.tls is None:
            return
        now = time.monotonic()
        if self._diagnosed_at is not None and now - self._diagnosed_at < DIAGNOSE_EVERY_S:
            return
        self._diagnosed_at = now
        problem = diagnose(self.cfg.host, self.cfg.port, self._tls, settings=self.cfg.tls,
                           field="broker.tls", timeout=min(self.cfg.connect_timeout_s, 5.0))
        if problem:
            self._report(f"{problem}; {BUFFERING}")

    def _connected(self) -> None:
        self.last_error = None
        self.connected.set()
        self._on_connect()

    def _cb_disconnect(self, client: paho.Client, userdata: object, flags: object,
                       reason: ReasonCode, props: object) -> None:
        was_up, self._up = self._up, False
        if not was_up and not self._stopping:
            self._explain_tls()  # TLS 1.3: a broker refuses our certificate after the handshake
        else:
            self.last_error = f"disconnected from broker: {reason}"
        if not self._stopping:
            self._set_will()  # paho reconnects with whatever will is set now
        self._to_loop(self.connected.clear)

    def _cb_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        if self._on_message is not None:
            self._to_loop(self._on_message, msg.topic, bytes(msg.payload))

    def _cb_publish(self, client: paho.Client, userdata: object, mid: int,
                    reason: ReasonCode, props: object) -> None:
        self._to_loop(self._on_ack, mid)

    # agent-facing verbs ---------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho keeps retrying with capped backoff when it fails.
        Callbacks are handed to the loop this is called from."""
        self._loop = asyncio.get_running_loop()
        if self.cfg.tls is not None and self._tls is None and not self._build_tls():
            self._tls_retry = self._loop.create_task(self._retry_tls(), name="mqtt-tls-retry")
            return
        self._connect()

    def _build_tls(self) -> bool:
        assert self.cfg.tls is not None
        warnings: list[str] = []
        try:
            ctx = client_context(self.cfg.tls, field="broker.tls", warnings=warnings)
        except TlsError as err:
            self._report(f"{err}; {BUFFERING}; retrying every {TLS_RETRY_S:.0f} s")
            return False
        for warning in warnings:
            log.warning("%s", warning)
        self.client.tls_set_context(ctx)
        self._tls = ctx
        return True

    async def _retry_tls(self) -> None:
        while True:
            await asyncio.sleep(TLS_RETRY_S)
            if self._build_tls():
                break
        log.info("broker.tls: certificates usable now; connecting")
        self._connect()

    def _connect(self) -> None:
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()

    def publish(self, msg: Outgoing) -> int:
        info = self.client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise MqttError(f"publish to {msg.topic} failed: {paho.error_string(info.rc)}")
        return int(info.mid)

    async def reconnect(self, *, farewell: Outgoing, timeout_s: float = 3.0) -> None:
        """End the session cleanly (``farewell`` first, so no last will is sent) and open a
        new one with the will as it is now. What paho holds unacknowledged it sends again
        on the new session."""
        await self.stop(farewell=farewell, timeout_s=timeout_s)
        self._stopping = False
        self._set_will()
        log.info("reconnecting to broker %s:%s", self.cfg.host, self.cfg.port)
        self.start()

    async def stop(self, *, farewell: Outgoing | None = None, timeout_s: float = 3.0) -> None:
        """Say goodbye (a clean death message) and disconnect, so no last will is sent."""
        self._stopping = True
        if self._tls_retry is not None:
            self._tls_retry.cancel()
            self._tls_retry = None
        if farewell and self.connected.is_set():
            info = self.client.publish(farewell.topic, farewell.payload, qos=farewell.qos)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while not info.is_published() and loop.time() < deadline:
                await asyncio.sleep(0.02)
        self.client.disconnect()
        # paho's network thread ends within a second or so; never let a stuck one hold the stop
        try:
            await asyncio.wait_for(asyncio.to_thread(self.client.loop_stop), timeout_s)
        except TimeoutError:
            log.warning("MQTT network thread did not stop within %.0f s; leaving it", timeout_s)
