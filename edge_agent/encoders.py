"""How batches, births and deaths become MQTT messages: one encoder per wire encoding.

The agent speaks to an encoder only through this protocol, so JSON v1 (default, documented in
docs/wire-format.md) and Sparkplug B share the buffer, the sender and the acknowledgement
bookkeeping. A batch may become several messages (Sparkplug sends one DDATA per device); the
agent deletes a batch only when every message of it was acknowledged.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from edge_agent.buffer import SealedBatch
from wire.json_v1 import BirthMessage, Counters, DeathMessage, topic
from wire.sample import now_ms

BirthFactory = Callable[[int], BirthMessage]
BirthJsonFactory = Callable[[int], bytes]  # next_seq -> the JSON v1 birth (edge_agent.birth.birth_json)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class Encoder(Protocol):
    per_device_batches: bool

    def will(self) -> Outgoing:
        """The last will for the next CONNECT (Sparkplug bumps bdSeq each time)."""
        ...

    def births(self, *, next_seq: int) -> list[Outgoing]: ...

    def batch(self, batch: SealedBatch, *, counters: Counters, historical: bool) -> list[Outgoing]: ...

    def farewell(self) -> Outgoing: ...

    def subscriptions(self) -> list[str]: ...

    def on_message(self, topic: str, payload: bytes, *, next_seq: int) -> list[Outgoing]:
        """A command from the cloud (e.g. Sparkplug rebirth); returns what to publish."""
        ...

    def ready(self) -> bool:
        """False while publishing must wait (Sparkplug: primary host not online)."""
        ...

    def take_reconnect(self) -> Outgoing | None:
        """When the encoder wants the MQTT session ended and opened again (Sparkplug: the
        primary host went offline), the message to say goodbye with; asked after every
        `on_message`. None otherwise."""
        ...


class JsonEncoder:
    per_device_batches = False

    def __init__(self, *, enterprise: str, gateway: str, session: str, birth: BirthJsonFactory,
                 stream: str | None = None, compress: bool = False) -> None:
        self.enterprise, self.gateway, self.session = enterprise, gateway, session
        self.stream = stream
        self._birth = birth
        self.compress = compress
        self.t_data = topic(enterprise, gateway, "data")
        self.t_birth = topic(enterprise, gateway, "birth")
        self.t_death = topic(enterprise, gateway, "death")
        self._connect_ms = now_ms()
        self._counters_json: tuple[Counters | None, str] = (None, "{}")

    def _death(self, reason: Literal["lost", "shutdown"], ts: int) -> Outgoing:
        msg = DeathMessage(enterprise=self.enterprise, gateway=self.gateway,
                           session=self.session, ts=ts, reason=reason)
        return Outgoing(self.t_death, msg.model_dump_json().encode())

    def will(self) -> Outgoing:
        self._connect_ms = now_ms()
        return self._death("lost", self._connect_ms)

    def births(self, *, next_seq: int) -> list[Outgoing]:
        return [Outgoing(self.t_birth, self._birth(next_seq))]

    def batch(self, batch: SealedBatch, *, counters: Counters, historical: bool) -> list[Outgoing]:
        head = json.dumps({"v": 1, "type": "data", "enterprise": self.enterprise,
                           "gateway": self.gateway, "session": self.session,
                           "stream": self.stream, "seq": batch.seq,
                           "sent": now_ms(), "historical": historical})
        if self._counters_json[0] is not counters:  # the agent hands the same object for a while
            self._counters_json = (counters, counters.model_dump_json())
        body = (head[:-1] + ',"samples":' + batch.samples_json + ',"counters":'
                + self._counters_json[1] + "}").encode()
        if self.compress:
            body = gzip.compress(body, compresslevel=6, mtime=0)
        return [Outgoing(self.t_data, body)]

    def farewell(self) -> Outgoing:
        return self._death("shutdown", now_ms())

    def subscriptions(self) -> list[str]:
        return []

    def on_message(self, topic: str, payload: bytes, *, next_seq: int) -> list[Outgoing]:
        return []

    def ready(self) -> bool:
        return True

    def take_reconnect(self) -> Outgoing | None:
        return None
