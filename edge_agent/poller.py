"""One device, for ever: the supervisor reads it (or follows its subscription), reconnects
with capped backoff, and yields bad samples with the reason while the device is away; the
poller normalizes what comes, keeps the device's health, and hands the samples on.
"""

from __future__ import annotations

from collectors.supervisor import DeviceSupervisor
from device_profiles.device import DeviceConfig
from device_profiles.models import DeviceProfile
from edge_agent.committer import Committer
from edge_agent.health import DeviceHealth
from edge_agent.normalize import Normalizer
from wire.sample import Quality, now_ms


async def poll_device(dev: DeviceConfig, prof: DeviceProfile, norm: Normalizer, *,
                      health: DeviceHealth, sink: Committer) -> None:
    sup = DeviceSupervisor(dev, prof)
    async for samples in sup.samples():
        if sup.failures > health.read_errors:
            # counted on disk with the next commit: the bad samples of this failure
            sink.count(dev.id, "read_errors", sup.failures - health.read_errors)
            health.read_errors = sup.failures
        health.connected, health.last_error, health.polls = (
            sup.state == "online", sup.last_error, sup.polls)
        if any(s.quality == Quality.GOOD for s in samples):
            health.last_good_ms = now_ms()
        await sink.accept(norm.apply(samples))
