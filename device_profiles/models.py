"""Device profiles: one pydantic model per protocol, told apart by ``protocol:``.

A profile describes a device *model* (its tags and how to decode them) and knows nothing about
where a device is: that is a `device_profiles.device.DeviceConfig`, in a gateway config.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from device_profiles.base import ProfileBase, TagBase
from device_profiles.modbus import ModbusProfile
from device_profiles.opcua import OpcUaProfile

# One member per protocol, told apart by ``protocol:``.
DeviceProfile = ModbusProfile | OpcUaProfile
PROFILE_ADAPTER: TypeAdapter[DeviceProfile] = TypeAdapter(
    Annotated[ModbusProfile | OpcUaProfile, Field(discriminator="protocol")]
)

__all__ = ["PROFILE_ADAPTER", "DeviceProfile", "ProfileBase", "TagBase"]
