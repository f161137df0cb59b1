"""Which gateway speaks for which enterprise: the gateway bindings, checked on every message.

A gateway id is one box (its certificate's CN at the broker) and belongs to one enterprise
(migration 016). The binding is made by an admin (``cloud-ingest gateways register``) or, with
``ingest.gateway_binding: first_message`` (the default), by the first message that names the
gateway; after that it is fixed, and only ``cloud-ingest gateways move`` changes it. A message
is checked before anything of it is stored or registered:

- ``identity_mismatch``: topic and payload agree (``inbound`` checked that) but name another
  enterprise than the gateway's binding: a gateway speaking for another enterprise, or its
  devices moved silently to another enterprise;
- ``unregistered_gateway``: with ``gateway_binding: registered``, a gateway no admin bound;
- ``publisher_mismatch``: with ``mqtt.publisher_property``, the broker names the publishing
  client in that MQTT 5 user property (Mosquitto's add-properties plugin appends
  ``$client_username``) and it is not the gateway's identity (the binding's, or the gateway id).
  Every value of the property must match: a client may add its own, the broker's comes last.

Such a message goes to the dead letters with the reason and the enterprise its topic names,
where the evidence counts it as rejected. Bindings are cached per worker for 30 s; a mismatch
is read again from the database before it is rejected, so a ``move`` takes effect at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg

from cloud_ingest.inbound import Rejected

Mode = Literal["first_message", "registered"]
CACHE_S = 30.0


@dataclass(frozen=True, slots=True)
class Binding:
    gateway: str
    enterprise: str
    identity: str | None
    bound_by: str
    bound_at: datetime

    @property
    def expected_identity(self) -> str:
        return self.identity or self.gateway


def read_binding(conn: psycopg.Connection, gateway: str) -> Binding | None:
    row = conn.execute("SELECT gateway, enterprise, identity, bound_by, bound_at FROM gateway_bindings"
                       " WHERE gateway = %s", (gateway,)).fetchone()
    return None if row is None else Binding(*row)


class GatewayBindings:
    def __init__(self, *, mode: Mode, publisher_property: str | None, cache_s: float = CACHE_S) -> None:
        self.mode = mode
        self.publisher_property = publisher_property
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, Binding]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def check(self, conn: psycopg.Connection, *, enterprise: str, gateway: str,
              publisher: Sequence[str] = (), devices: Sequence[str] = ()) -> Rejected | None:
        """None when the message may be stored; otherwise why not (a dead letter)."""
        binding = self._binding(conn, enterprise, gateway)
        if binding is None:
            return Rejected("unregistered_gateway",
                            f"gateway {gateway} is not registered (ingest.gateway_binding: registered); "
                            f"an admin binds it: cloud-ingest gateways register --gateway {gateway} "
                            f"--enterprise {enterprise}", enterprise, gateway)
        if binding.enterprise != enterprise:
            fresh = self._binding(conn, enterprise, gateway, fresh=True)
            if fresh is None or fresh.enterprise != enterprise:
                binding = fresh or binding
                moved = f"; its devices {', '.join(sorted(devices))} would move from {binding.enterprise}" \
                    if devices else ""
                return Rejected(
                    "identity_mismatch",
                    f"gateway {gateway} belongs to enterprise {binding.enterprise} (bound by "
                    f"{binding.bound_by} at {binding.bound_at:%Y-%m-%d %H:%M:%S%z}) but this message speaks "
                    f"for {enterprise}{moved}; if the gateway really moved: cloud-ingest gateways move "
                    f"{gateway} --to {enterprise}", enterprise, gateway)
            binding = fresh
        if self.publisher_property is not None:
            expected = binding.expected_identity
            if not publisher:
                return Rejected("publisher_mismatch",
                                f"the broker named no publisher in user property {self.publisher_property!r} "
                                "(mqtt.publisher_property): is its plugin loaded?", enterprise, gateway)
            others = sorted({p for p in publisher if p != expected})
            if others:
                return Rejected("publisher_mismatch",
                                f"published by {', '.join(others)}, but gateway {gateway} has identity "
                                f"{expected}", enterprise, gateway)
        return None

    def _binding(self, conn: psycopg.Connection, enterprise: str, gateway: str, *,
                 fresh: bool = False) -> Binding | None:
        now = time.monotonic()
        if not fresh:
            with self._lock:
                hit = self._cache.get(gateway)
            if hit is not None and now - hit[0] < self.cache_s:
                return hit[1]
        binding = read_binding(conn, gateway)
        if binding is None and self.mode == "first_message":
            # first sight binds; of two workers racing with different claims one wins, the
            # other reads the winner below and rejects its message
            conn.execute("INSERT INTO gateway_bindings (gateway, enterprise, bound_by)"
                         " VALUES (%s, %s, 'first_message') ON CONFLICT (gateway) DO NOTHING",
                         (gateway, enterprise))
            binding = read_binding(conn, gateway)
        if binding is not None:
            with self._lock:
                self._cache[gateway] = (now, binding)
        return binding
