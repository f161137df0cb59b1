"""Keep a subscribing collector running across server restarts, dropped networks and session
timeouts: reconnect with capped exponential backoff, recreate the subscription, and record the
gap as device offline. Protocol-neutral: works for any collector with the three abilities
below, so the edge agent can run every push-style device through it.

Usage::

    async for batch in supervise(collector):   # never raises DeviceUnreachable
        buffer.add(batch)
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol, Self

from collectors.base import DeviceUnreachable
from collectors.sample import Sample

log = logging.getLogger(__name__)


class Supervisable(Protocol):
    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    def subscribe(self) -> AsyncIterator[list[Sample]]: ...
    def offline_samples(self, reason: str, *, ts: int | None = None) -> list[Sample]: ...


@dataclass
class Backoff:
    """Exponential backoff with a cap and ±jitter, so many gateways do not reconnect in step."""

    initial_s: float = 1.0
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    _next: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._next = self.initial_s

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.max_s)
        return max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))


async def supervise(
    collector: Supervisable,
    *,
    backoff: Backoff | None = None,
    on_event: Callable[[str, str], None] | None = None,
) -> AsyncIterator[list[Sample]]:
    """Yield the collector's batches forever; on DeviceUnreachable yield one offline batch
    (once per gap), wait, and re-enter the collector. ``on_event(kind, detail)`` is told of
    "connected", "lost" and "retry" for logs and metrics. Other errors (bad options) propagate."""
    backoff = backoff or Backoff()
    offline = False
    note = on_event or (lambda kind, detail: None)
    while True:
        try:
            async with collector:
                backoff.reset()
                offline = False
                note("connected", "")
                async for batch in collector.subscribe():
                    yield batch
        except DeviceUnreachable as err:
            note("lost", str(err))
            log.warning("%s", err)
            if not offline:
                offline = True
                yield collector.offline_samples(str(err))
        delay = backoff.next()
        note("retry", f"{delay:.2f}")
        await asyncio.sleep(delay)
