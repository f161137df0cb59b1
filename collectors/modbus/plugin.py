"""Modbus in the protocol registry (`collectors.plugin`)."""

from __future__ import annotations

from typing import Any

from collectors.base import Collector, CollectorError
from collectors.modbus.collector import ModbusCollector
from collectors.modbus.config import parse_options
from collectors.modbus.discover import discover
from collectors.plugin import CollectorPlugin, DiscoverRequest
from device_profiles.device import DeviceConfig
from device_profiles.modbus import ModbusProfile
from device_profiles.models import DeviceProfile


def _collector(device: DeviceConfig, profile: DeviceProfile) -> Collector:
    if not isinstance(profile, ModbusProfile):
        raise CollectorError(f"device {device.id}: profile {profile.profile} is not a Modbus profile")
    return ModbusCollector(device, profile)


async def _discover(request: DiscoverRequest) -> dict[str, Any]:
    return await discover(request.url, start=request.start, count=request.count, table=request.table)


PLUGIN = CollectorPlugin(
    collector=_collector,
    parse_options=parse_options,
    discover=_discover,
    discover_schemes=("modbus",),
    discover_example="modbus://host:port?unit=N",
)
