"""Keep one device polled forever: connect, read at its interval, reconnect with capped backoff.

Any collector (Modbus, OPC UA, ...) plugs in through a factory; polled collectors are read
once per interval, subscribing ones (``subscribe()``) followed as they push. While the device is offline
the supervisor still yields, once per interval, a BAD sample for every tag with the reason
("no data" must be told apart from "no change"), and tries to reconnect no more often than
the backoff allows (0.5 s, 1 s, 2 s ... capped at ``max_s``, with jitter so fifty meters
behind one switch do not reconnect in lockstep; a protocol whose options set the delays —
OPC UA's ``backoff_initial_s`` / ``backoff_max_s`` — has them applied here). One supervisor
per device, each in its own task, so a slow or dead device never delays the others.

Polls are spread over the interval: each device has a phase, fixed by its id (a hash), and
polls on the wall-clock grid ``phase + k * interval``, so thirty devices do not all ask at the
same instant and a device keeps its phase across restarts. The first poll comes within the
first second (spread by the same phase); the device then settles on its phase. A poll that
overruns skips the ticks it missed (never catching up in a burst, so the interval stays
exact on average) and counts them in ``skipped``: a skipped poll is data never collected,
which the cloud's evidence names ``gateway_overrun``. A burst of skips is logged once, with
its cause, and once more when the polls are on time again. Devices on one RS-485 line keep
taking turns request by request on the line's shared link (collectors.modbus.links),
whatever their phases.

"Online" means the device answered (a poll returned, or a subscribing collector set up its
session), not that a connection opened: a Modbus TCP gateway accepts the connection for a
unit that is gone and then answers exception 11, which the collector raises as
DeviceUnreachable; such a device stays offline, and its reconnects back off like refusals::

    sup = DeviceSupervisor(device, profile)            # factory defaults to make_collector
    async for samples in sup.samples():                # runs until cancelled
        buffer.add(samples)
    sup.state  # "online" / "offline", sup.last_error, sup.reconnects, sup.polls
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

from collectors.base import Collector, CollectorError, Subscriber
from collectors.registry import make_collector, reconnect_backoff
from common.backoff import Backoff
from device_profiles.device import DeviceConfig
from device_profiles.models import DeviceProfile
from wire.sample import Reading, Sample, expand, now_ms

log = logging.getLogger("collectors.supervisor")

Factory = Callable[[DeviceConfig, DeviceProfile], Collector]
OFFLINE = "device offline:"


def phase_of(device_id: str, interval_s: float) -> float:
    """The device's offset within its interval, in seconds: the same on every run and every
    gateway (CRC-32 of the id, not Python's per-process salted hash)."""
    return zlib.crc32(device_id.encode()) / 2**32 * interval_s


class DeviceSupervisor:
    """Owns the connection of one device and yields one sample list per poll interval."""

    def __init__(
        self,
        device: DeviceConfig,
        profile: DeviceProfile,
        *,
        factory: Factory = make_collector,
        backoff: Backoff | None = None,
        interval_s: float | None = None,
        poll_timeout_s: float | None = None,
        phase_s: float | None = None,
    ) -> None:
        self.device = device
        self.profile = profile
        self.factory = factory
        self.backoff = backoff or reconnect_backoff(device, profile)
        self.interval_s = interval_s or (device.interval_ms or profile.default_interval_ms) / 1000
        # A poll is many requests, each with its own timeout; this is only the last guard.
        self.poll_timeout_s = poll_timeout_s or max(10 * device.timeout_s, 2 * self.interval_s)
        self.state: Literal["starting", "online", "offline"] = "starting"
        self.last_error: str | None = None
        self.reconnects = 0  # times back online after the first
        self.attempts = 0  # failed connects since the last success
        self.failures = 0  # every failed connect or poll since start, for the read-error counter
        self.polls = 0
        self.skipped = 0  # poll ticks missed because a poll (or the gateway) overran
        self.requests = 0  # protocol requests sent, when the collector counts them
        self.planned_requests: int | None = None  # requests one poll takes (Modbus planner)
        self.last_poll_s: float | None = None  # how long the last poll took
        self.phase_s = (phase_of(device.id, self.interval_s) if phase_s is None
                        else phase_s % self.interval_s)
        self._burst = 0  # ticks skipped in the current burst
        self._connecting = False  # this tick tried to connect
        self._answered = False  # the device has answered at least once since start
        self._tags = [t.name for t in profile.tags]

    def offline_samples(self, reason: str) -> list[Sample]:
        """BAD samples for every tag; the reason starts with "device offline:" so the cloud can
        tell the cause of a gap from the reason alone."""
        if not reason.startswith(OFFLINE):
            reason = f"{OFFLINE} {reason}"
        ts = now_ms()
        return [Sample.bad(self.device.id, tag, ts=ts, reason=reason) for tag in self._tags]

    async def samples(self) -> AsyncIterator[list[Sample]]:
        """Yield forever (until cancelled): real samples when online, BAD ones when not.

        A polled collector is read once per interval; one with ``subscribe()`` (see
        collectors.base.Subscriber) is followed instead, its batches passed on as they come."""
        async for reading in self.readings():
            yield expand(reading)

    async def readings(self) -> AsyncIterator[Reading]:
        """`samples`, with the blocks of good samples of a collector that reads them
        (collectors.base.BlockReader) kept as blocks: the gateway's own loop."""
        start = time.monotonic()
        # the monotonic time of one tick of this device's wall-clock phase
        grid = start + (self.phase_s - time.time()) % self.interval_s
        # the first poll within the first second (at the device's phase fraction of it), so
        # an agent starting with many devices does not read them all in one burst either
        next_tick = start + self.phase_s / self.interval_s * min(1.0, self.interval_s)
        next_attempt = start
        await asyncio.sleep(next_tick - start)
        collector: Collector | None = None
        subscriber = False  # asked once a connection: a protocol isinstance is slow
        try:
            while True:
                started = time.monotonic()
                self._connecting = collector is None and started >= next_attempt
                if self._connecting:
                    collector, err = await self._connect()
                    subscriber = isinstance(collector, Subscriber)
                    if collector is None:
                        self.attempts += 1
                        next_attempt = time.monotonic() + self.backoff.delay(self.attempts)
                        self._offline(err)
                    elif subscriber:
                        # a session was set up with the device itself: it answered
                        self._online()
                if subscriber and isinstance(collector, Subscriber):
                    # a device that pushes (OPC UA subscription): pass its batches on as they
                    # come; when the stream ends or fails, the device is offline
                    err = "subscription ended"
                    try:
                        async for pushed in collector.subscribe():
                            self.polls += 1
                            _cancelled_meanwhile()
                            yield pushed
                    except CollectorError as exc:
                        err = str(exc)
                    except Exception as exc:
                        log.exception("device %s: unexpected error in subscription", self.device.id)
                        err = f"device {self.device.id}: {type(exc).__name__}: {exc}"
                    batch: Reading | None = None
                elif collector is not None:
                    sent = getattr(collector, "requests_sent", None)
                    batch, err = await self._read_once(collector)
                    self._count_requests(collector, sent)
                    if batch is not None:
                        # online once the device answered a poll, not when a socket opened:
                        # a Modbus TCP gateway accepts the connection for a device that is gone
                        self._online()
                if collector is not None:
                    if batch is None:
                        await self._close(collector)
                        collector = None
                        # a device that was online gets a quick first retry; one that never
                        # answered on this connection keeps backing off as if it had refused
                        self.attempts = 1 if self.state == "online" else self.attempts + 1
                        next_attempt = time.monotonic() + self.backoff.delay(self.attempts)
                        self._offline(err)
                        batch = self.offline_samples(self.last_error or "device offline")
                else:
                    batch = self.offline_samples(self.last_error or "device offline")
                self.polls += 1
                ended = time.monotonic()
                self.last_poll_s = ended - started
                _cancelled_meanwhile()
                yield batch
                due = next_tick
                nominal, next_tick = self._next_tick(due, grid=grid, first=self.polls == 1)
                self._account(missed=round((next_tick - nominal) / self.interval_s), due=due,
                              started=started, ended=ended)
                await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        finally:
            if collector is not None:
                await self._close(collector)

    def _next_tick(self, due: float, *, grid: float, first: bool) -> tuple[float, float]:
        """(the tick that follows the one ``due`` on the phase grid, the first tick not yet
        passed): equal unless the poll overran, and the ticks between them are skipped, never
        made up for. The first poll is made within the first second, off the grid; the device
        then settles on the next point of its phase (so no gap is longer than an interval and a poll, and the
        start counts no skip)."""
        iv = self.interval_s
        now = time.monotonic()
        if first:
            nxt = grid + math.ceil((now - grid) / iv) * iv
            return nxt, nxt
        nominal = grid + math.ceil((due + iv / 2 - grid) / iv) * iv
        actual = nominal if nominal >= now else nominal + ((now - nominal) // iv + 1) * iv
        return nominal, actual

    def _account(self, *, missed: int, due: float, started: float, ended: float) -> None:
        """Count ``missed`` ticks, and log a burst of them once, with what made it late."""
        if missed == 0:
            if self._burst:
                log.info("device %s: polls on time again after %d skipped; 轮询恢复准时",
                         self.device.id, self._burst)
                self._burst = 0
            return
        self.skipped += missed
        if self._burst == 0:
            late, took, after = started - due, ended - started, time.monotonic() - ended
            if took >= max(late, after) and self._connecting:
                cause = f"connecting took {took:.3f} s (the device is not answering)"
            elif took >= max(late, after):
                cause = (f"a poll took {took:.3f} s (slow device or network, or more requests "
                         "than fit in the interval)")
            elif late >= after:
                cause = f"the poll started {late:.3f} s late (the gateway's CPU is busy)"
            else:
                cause = (f"its samples waited {after:.3f} s to be taken on (the gateway's buffer, "
                         "disk or CPU is busy)")
            log.warning("device %s: 跳过轮询 %d 次 / %d poll(s) skipped at interval %.3f s: %s",
                        self.device.id, missed, missed, self.interval_s, cause)
        self._burst += missed

    def _count_requests(self, collector: Collector, before: object) -> None:
        """Requests of the poll just made, for a collector that counts them (Modbus)."""
        after = getattr(collector, "requests_sent", None)
        if isinstance(before, int) and isinstance(after, int):
            self.requests += after - before
        plan = getattr(collector, "plan", None)
        planned = getattr(plan, "requests", None)
        if isinstance(planned, list):
            self.planned_requests = len(planned)

    def _online(self) -> None:
        if self.state != "online":
            self.reconnects += int(self._answered)
            self._answered = True
            self.attempts = 0
            self.state = "online"
            log.info("device %s: connected", self.device.id)

    def _offline(self, err: str) -> None:
        self.failures += 1
        if self.state != "offline" or err != self.last_error:
            log.warning("device %s offline: %s", self.device.id, err)
        self.state = "offline"
        self.last_error = err

    async def _connect(self) -> tuple[Collector | None, str]:
        try:
            collector = self.factory(self.device, self.profile)
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a racing cancellation
            async with asyncio.timeout(self.device.timeout_s * 2 + 1):
                await collector.__aenter__()
        except TimeoutError:
            return None, f"device {self.device.id}: connect timed out"
        except CollectorError as err:
            return None, str(err)
        except Exception as err:  # a broken device must not stop the gateway
            log.exception("device %s: unexpected error while connecting", self.device.id)
            return None, f"device {self.device.id}: {type(err).__name__}: {err}"
        return collector, ""

    async def _read_once(self, collector: Collector) -> tuple[Reading | None, str]:
        read: Callable[[], Awaitable[Reading]] = getattr(collector, "read_blocks", collector.read)
        try:
            async with asyncio.timeout(self.poll_timeout_s):
                return await read(), ""
        except TimeoutError:
            return None, f"device {self.device.id}: poll took longer than {self.poll_timeout_s}s"
        except CollectorError as err:
            return None, str(err)
        except Exception as err:
            log.exception("device %s: unexpected error while reading", self.device.id)
            return None, f"device {self.device.id}: {type(err).__name__}: {err}"

    async def _close(self, collector: Collector) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.device.timeout_s):
                await collector.__aexit__(None, None, None)


def _cancelled_meanwhile() -> None:
    """Raise the cancellation of this task that a library awaited away. Python 3.11's
    ``asyncio.wait_for`` (pymodbus awaits every answer with it) returns the answer, and drops
    the cancellation, when both arrive in the same turn of the loop: the poller then polled on
    for ever and the agent's stop waited for it. The task still counts the request
    (``Task.cancelling``), so it is honoured here, once a poll."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
