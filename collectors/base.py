"""The small interface every protocol collector implements, and the errors it raises.

Error tree::

    CollectorError            anything a collector reports instead of a library exception
    ├── DeviceUnreachable     no connection (refused, timeout, dropped): all tags bad
    └── ReadFailed            connected, but a request failed (exception response, garbage)

A collector is an async context manager: ``async with make_collector(dev, profile) as c``
connects (or raises DeviceUnreachable), ``await c.read()`` performs one poll and returns one
sample per tag — bad-quality samples with a reason for tags that could not be read, never
silence. Reconnection is the caller's supervisor loop, not the collector's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from device_profiles.device import DeviceConfig
from device_profiles.models import DeviceProfile
from wire.sample import Reading, Sample


class CollectorError(Exception):
    """Base of collector failures; the message names device (and tag where known)."""


class DeviceUnreachable(CollectorError):
    pass


class ReadFailed(CollectorError):
    pass


class Collector(Protocol):
    @property
    def device(self) -> DeviceConfig: ...

    @property
    def profile(self) -> DeviceProfile:
        """The device's profile; each collector holds its own protocol's model."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def read(self) -> list[Sample]:
        """One poll of every tag; raises DeviceUnreachable when the connection is gone."""
        ...


class BlockReader(Protocol):
    """Optional ability of a polled collector: ``read_blocks()`` is `Collector.read` with the
    good samples of each request that decoded cleanly kept together as one
    `wire.sample.SampleBlock` (the same samples, without an object a point). The gateway polls
    with it where a collector has it; ``read()`` stays the reference."""

    async def read_blocks(self) -> Reading: ...


class CollectorFactory(Protocol):
    def __call__(self, device: DeviceConfig, profile: DeviceProfile) -> Collector: ...


@runtime_checkable
class Subscriber(Protocol):
    """Optional ability of a collector whose device pushes changes (OPC UA subscriptions).

    ``subscribe()`` yields lists of samples as the device reports them until the connection
    is lost, when it raises DeviceUnreachable. A collector without it is polled with read().
    """

    def subscribe(self) -> AsyncIterator[list[Sample]]: ...
