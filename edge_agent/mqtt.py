"""The agent's MQTT session: the only module that imports paho-mqtt.

paho runs its network loop in a thread; every callback is handed to the asyncio loop with
``call_soon_threadsafe`` so the rest of the agent is single-threaded. QoS 1 messages that were
in flight when the connection dropped are resent by paho itself after it reconnects, so the
agent never publishes a batch twice on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from common.secrets import SecretError
from edge_agent.config import BrokerConfig
from edge_agent.encoders import Outgoing

log = logging.getLogger(__name__)


class MqttError(Exception):
    """The broker refused or could not be reached; the message says which and why."""


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
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if cfg.username:
            try:
                password = cfg.password()
            except SecretError as err:
                raise MqttError(str(err)) from err
            c.username_pw_set(cfg.username, password.get_secret_value() if password else None)
        c.max_inflight_messages_set(cfg.max_inflight)
        c.max_queued_messages_set(0)
        # (first delay, cap): the gateway config's reconnect.broker_initial_s / broker_max_s
        c.reconnect_delay_set(min_delay=reconnect_s[0], max_delay=reconnect_s[1])
        c.on_connect = self._cb_connect
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
            self.last_error = f"broker refused the connection: {reason}"
            log.warning("%s", self.last_error)
            return
        for sub in self._subscriptions:
            client.subscribe(sub, qos=1)
        self._to_loop(self._connected)

    def _connected(self) -> None:
        self.last_error = None
        self.connected.set()
        self._on_connect()

    def _cb_disconnect(self, client: paho.Client, userdata: object, flags: object,
                       reason: ReasonCode, props: object) -> None:
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
