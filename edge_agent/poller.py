"""One device, for ever: the supervisor reads it (or follows its subscription), reconnects
with capped backoff, and yields bad samples with the reason while the device is away; the
poller normalizes what comes, keeps the device's health, and hands the samples on.
"""

from __future__ import annotations

from collectors.registry import DEFAULT_BACKOFF, reconnect_backoff
from collectors.supervisor import DeviceSupervisor
from common.backoff import Backoff
from device_profiles.device import DeviceConfig
from device_profiles.models import DeviceProfile
from edge_agent.committer import Committer
from edge_agent.health import DeviceHealth
from edge_agent.normalize import Normalizer
from wire.sample import any_good, now_ms


async def poll_device(dev: DeviceConfig, prof: DeviceProfile, norm: Normalizer, *,
                      health: DeviceHealth, sink: Committer,
                      backoff: Backoff = DEFAULT_BACKOFF) -> None:
    sup = DeviceSupervisor(dev, prof, backoff=reconnect_backoff(dev, prof, default=backoff))
    async for samples in sup.readings():
        if sup.failures > health.read_errors:
            # counted on disk with the next commit: the bad samples of this failure
            sink.count(dev.id, "read_errors", sup.failures - health.read_errors)
            health.read_errors = sup.failures
        if sup.skipped > health.skipped_polls:
            # ticks with no poll at all: their own counter, the cloud's gateway_overrun
            sink.count(dev.id, "skipped_polls", sup.skipped - health.skipped_polls)
            health.skipped_polls = sup.skipped
        health.requests, health.planned_requests = sup.requests, sup.planned_requests
        if sup.last_poll_s is not None:
            health.poll_times.observe(sup.last_poll_s)
        health.connected, health.last_error, health.polls = (
            sup.state == "online", sup.last_error, sup.polls)
        if any_good(samples):
            health.last_good_ms = now_ms()
        await sink.accept(norm.apply(samples))
