"""The OPC UA collector: subscriptions with monitored items by default, batched Read polling
as a per-device option; both deliver through ``subscribe()``, and ``read()`` is one poll.

Lifecycle as every collector: ``async with OpcUaCollector(device, profile) as c`` opens one
session (raising DeviceUnreachable, or its subclasses SecurityRejected /
UntrustedServerCertificate); ``subscribe()`` yields lists of samples until the session is
lost, then raises DeviceUnreachable. The collector can be entered again after that, which is
how `collectors.supervisor.DeviceSupervisor` reconnects and recreates the subscription.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

from collectors.base import CollectorError, ReadFailed
from collectors.opcua.config import OpcUaOptions, parse_options
from collectors.opcua.convert import BAD_NO_COMMUNICATION, BAD_NOT_CONNECTED, RawValue, to_sample
from collectors.opcua.items import MonitorSpec
from collectors.opcua.uaclient.nodes import read_values
from collectors.opcua.uaclient.session import UaSession
from collectors.opcua.uaclient.subscription import Subscription
from device_profiles.device import DeviceConfig
from device_profiles.models import DeviceProfile
from device_profiles.opcua import OpcUaProfile, OpcUaTag
from wire.sample import Sample, now_ms

log = logging.getLogger(__name__)


class OpcUaCollector:
    def __init__(self, device: DeviceConfig, profile: DeviceProfile) -> None:
        if not isinstance(profile, OpcUaProfile):
            raise CollectorError(f"device {device.id}: profile {profile.profile} is not an OPC UA profile")
        self.device = device
        self.profile: OpcUaProfile = profile
        self.options: OpcUaOptions = parse_options(device)
        self.mode = self.options.mode or profile.defaults.mode
        self._tags: list[OpcUaTag] = list(profile.tags)
        self._refs = [t.ref for t in self._tags]
        self._session: UaSession | None = None

    @property
    def poll_interval_ms(self) -> int:
        return self.options.poll_interval_ms or self.device.interval_ms or self.profile.default_interval_ms

    @property
    def publishing_interval_ms(self) -> int:
        return self.options.publishing_interval_ms or self.profile.defaults.publishing_interval_ms

    async def __aenter__(self) -> Self:
        session = UaSession(
            self.device.endpoint, device=self.device.id, options=self.options, timeout_s=self.device.timeout_s
        )
        await session.open()
        self._session = session
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open_session(self) -> UaSession:
        if self._session is None:
            raise CollectorError(f"device {self.device.id}: collector used outside 'async with'")
        return self._session

    async def read(self) -> list[Sample]:
        """One batched Read of every tag; a failed request makes bad samples, not silence."""
        session = self._open_session()
        read_ts = now_ms()
        try:
            raws = await read_values(session, self._refs, batch=self.profile.defaults.read_batch_size)
        except ReadFailed as err:
            return [
                Sample.bad(self.device.id, t.name, ts=read_ts, reason=str(err), code=BAD_NO_COMMUNICATION)
                for t in self._tags
            ]
        return [
            to_sample(self.device.id, t.name, r, read_ts=read_ts)
            for t, r in zip(self._tags, raws, strict=True)
        ]

    async def subscribe(self) -> AsyncIterator[list[Sample]]:
        """Samples as the server reports them (or as polled, in poll mode) until the session
        is lost, when DeviceUnreachable is raised."""
        if self.mode == "poll":
            async for batch in self._polled_batches():
                yield batch
            return
        subscription = Subscription(self._open_session())
        specs = [
            MonitorSpec(
                handle=i,
                node=t.ref,
                sampling_ms=float(self.profile.sampling_of(t)),
                queue_size=self.profile.queue_of(t),
                deadband_type=t.deadband_type,
                deadband_value=t.deadband_value,
            )
            for i, t in enumerate(self._tags)
        ]
        failed = await subscription.create(specs, publishing_ms=float(self.publishing_interval_ms))
        if subscription.filter_fallbacks:
            names = ", ".join(self._tags[h].name for h in subscription.filter_fallbacks)
            log.warning("device %s: server refused the deadband of %s; they report every change",
                        self.device.id, names)
        if failed:
            yield self._samples(list(failed.items()))
        # Wake at least every few publishing intervals so a lost session is noticed promptly.
        wait_s = max(1.0, 3 * self.publishing_interval_ms / 1000)
        while True:
            changes = await subscription.changes(timeout=wait_s)
            if changes:
                yield self._samples(changes)

    def _samples(self, changes: list[tuple[int, RawValue]]) -> list[Sample]:
        read_ts = now_ms()
        dev, tags = self.device.id, self._tags
        return [
            to_sample(dev, tags[h].name, raw, read_ts=read_ts) for h, raw in changes if 0 <= h < len(tags)
        ]

    async def _polled_batches(self) -> AsyncIterator[list[Sample]]:
        period = self.poll_interval_ms / 1000
        next_at = time.monotonic()
        while True:
            yield await self.read()
            next_at += period
            delay = next_at - time.monotonic()
            if delay < 0:  # overran: skip missed cycles instead of bursting to catch up
                next_at = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)

    def offline_samples(self, reason: str, *, ts: int | None = None) -> list[Sample]:
        """One bad sample per tag marking the start of a gap: evidence sees 'device offline',
        not silence. The next good notification after reconnecting ends the gap."""
        at = ts or now_ms()
        return [
            Sample.bad(
                self.device.id, t.name, ts=at, reason=f"device offline: {reason}", code=BAD_NOT_CONNECTED
            )
            for t in self._tags
        ]
