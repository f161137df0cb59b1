"""One supervisor loop per device: connect, read on schedule, back off when the device is gone.

A device that cannot be read produces bad-quality samples for every tag with the reason, so
the cloud can tell "device offline" from "no change". One device's trouble never touches the
others: each has its own task, and every read is bounded by the device's timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from collectors import CollectorError, make_collector
from collectors.sample import Sample, now_ms
from device_profiles.models import DeviceConfig, DeviceProfile

log = logging.getLogger(__name__)

Sink = Callable[[list[Sample]], Awaitable[None]]


@dataclass
class Backoff:
    """Capped exponential backoff: 1 s, 2 s, 4 s … up to ``cap``."""

    initial: float = 1.0
    cap: float = 30.0
    _next: float = field(default=0.0, init=False)

    def reset(self) -> None:
        self._next = 0.0

    def next(self) -> float:
        self._next = self.initial if self._next == 0 else min(self.cap, self._next * 2)
        return self._next


@dataclass
class DeviceHealth:
    """What `/metrics` and `edge-agent status` report per device."""

    connected: bool = False
    last_good_ms: int | None = None
    read_errors: int = 0
    last_error: str | None = None
    cycles: int = 0
    overruns: int = 0


def offline_samples(device: DeviceConfig, profile: DeviceProfile, reason: str) -> list[Sample]:
    ts = now_ms()
    return [Sample.bad(device.id, tag.name, ts=ts, reason=reason) for tag in profile.tags]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early when asked to stop; True means stop."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        return False
    return True


async def poll_device(
    device: DeviceConfig,
    profile: DeviceProfile,
    *,
    sink: Sink,
    stop: asyncio.Event,
    health: DeviceHealth,
    on_error: Callable[[str], None] | None = None,
    backoff: Backoff | None = None,
) -> None:
    interval = (device.interval_ms or profile.default_interval_ms) / 1000
    backoff = backoff or Backoff()
    while not stop.is_set():
        try:
            async with make_collector(device, profile) as collector:
                health.connected = True
                backoff.reset()
                subscribe = getattr(collector, "subscribe", None)
                if subscribe is not None:
                    async for samples in subscribe():
                        await _deliver(samples, sink, health)
                        if stop.is_set():
                            break
                    continue
                next_t = time.monotonic()
                while not stop.is_set():
                    samples = await collector.read()
                    await _deliver(samples, sink, health)
                    next_t += interval
                    late = time.monotonic() - next_t
                    if late > 0:  # the read took longer than the interval: skip, don't pile up
                        skipped = int(late // interval) + 1
                        health.overruns += skipped
                        next_t += skipped * interval
                    if await _sleep_or_stop(stop, next_t - time.monotonic()):
                        return
        except CollectorError as err:
            reason = f"device offline: {err}"
        except (OSError, TimeoutError) as err:
            reason = f"device offline: {type(err).__name__}: {err}"
        except Exception as err:  # a collector bug must not end this device's supervision
            log.exception("device %s: collector failed", device.id)
            reason = f"collector failed: {type(err).__name__}: {err}"
        health.connected = False
        health.read_errors += 1
        health.last_error = reason
        log.warning("device %s: %s", device.id, reason)
        if on_error is not None:
            on_error(device.id)
        await sink(offline_samples(device, profile, reason))
        if await _sleep_or_stop(stop, backoff.next()):
            return


async def _deliver(samples: list[Sample], sink: Sink, health: DeviceHealth) -> None:
    health.cycles += 1
    if any(s.quality == 0 for s in samples):
        health.last_good_ms = now_ms()
    await sink(samples)
