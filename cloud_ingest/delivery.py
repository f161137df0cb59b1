"""One MQTT message as the consumer received it, until it is acknowledged.

A PUBACK names a packet id that is only meaningful on the connection that delivered it, so a
delivery keeps the connection generation it came on (see ``mqtt_source``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_ms: int
    decoded: tuple[Any, ...] | None = None  # Sparkplug: decoded in arrival order by the gate
    publisher: tuple[str, ...] = ()  # who the broker says published it (mqtt.publisher_property)
