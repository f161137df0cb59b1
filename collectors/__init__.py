"""Protocol collectors: one subpackage per protocol behind the interface in ``base``.

Adding a protocol adds a folder and one line in ``_FACTORIES``.
"""

from __future__ import annotations

from importlib import import_module

from collectors.base import Collector, CollectorError, DeviceUnreachable, ReadFailed
from device_profiles.device import DeviceConfig

# protocol name -> "module:factory"; imported lazily so a gateway without OPC UA devices never
from device_profiles.models import DeviceProfile
from wire.sample import Quality, Sample

# protocol name -> "module:factory"; imported lazily so a gateway without OPC UA devices never
# pays for importing asyncua.
_FACTORIES: dict[str, str] = {
    "modbus": "collectors.modbus.collector:ModbusCollector",
    "opcua": "collectors.opcua.collector:OpcUaCollector",
}


def make_collector(device: DeviceConfig, profile: DeviceProfile) -> Collector:
    target = _FACTORIES.get(profile.protocol)
    if target is None:
        raise CollectorError(f"device {device.id}: no collector for protocol {profile.protocol!r}")
    module, name = target.split(":")
    factory = getattr(import_module(module), name)
    return factory(device, profile)  # type: ignore[no-any-return,unused-ignore]


__all__ = [
    "Collector",
    "CollectorError",
    "DeviceUnreachable",
    "Quality",
    "ReadFailed",
    "Sample",
    "make_collector",
]
