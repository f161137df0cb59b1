"""Pydantic models for device profiles and gateway configs.

A profile describes a device *model* (its tags and how to decode them) and knows nothing about
where a device is; a gateway config says who the gateway is and which devices it reads with
which profile. Both are data: tests and simulators load the same files as the gateway.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, TypeAdapter, model_validator

from device_profiles.base import Ident, ProfileBase, TagBase
from device_profiles.base import Model as _Model
from device_profiles.modbus import ModbusProfile

# One member per protocol, told apart by ``protocol:``. Adding a protocol adds a member here
# (``ModbusProfile | OpcUaProfile``) and to the adapter's discriminated union.
DeviceProfile = ModbusProfile
PROFILE_ADAPTER: TypeAdapter[DeviceProfile] = TypeAdapter(DeviceProfile)

__all__ = ["PROFILE_ADAPTER", "DeviceProfile", "ProfileBase", "TagBase"]


class EnterpriseConfig(_Model):
    id: Ident
    name: str | None = None
    industry: Literal[
        "food", "textiles", "biopharma", "equipment", "new_materials", "metal_products", "other"
    ] | None = None
    district: str | None = None


class GatewayIdentity(_Model):
    id: Ident
    enterprise: EnterpriseConfig


class BrokerConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = None
    username: str | None = None
    password_env: str | None = Field(
        None, description="name of the environment variable holding the password"
    )
    keepalive_s: int = Field(30, ge=5, le=3600)
    connect_timeout_s: float = Field(10.0, gt=0)
    max_inflight: int = Field(20, ge=1, le=65535)


class BufferConfig(_Model):
    path: str = "var/edge-buffer.sqlite"
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024 * 1024)
    full_policy: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    batch_max_samples: int = Field(1000, ge=1, le=100_000)
    batch_max_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    linger_ms: int = Field(500, ge=0, le=60_000)
    drain_rate_per_s: int | None = Field(None, ge=1, description="cap on backlog batches per second")


class DeviceConfig(_Model):
    id: Ident
    profile: str = Field(description="profile name from the library, or a path to a YAML file")
    endpoint: str = Field(description="e.g. tcp://192.168.1.10:502")
    unit_id: int | None = Field(None, ge=0, le=255)
    interval_ms: int | None = Field(None, ge=10)
    timeout_s: float = Field(2.0, gt=0, le=120)
    workshop: str | None = None
    line: str | None = None
    key_process: bool = False
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)


class GatewayConfig(_Model):
    gateway: GatewayIdentity
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    devices: list[DeviceConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_devices(self) -> GatewayConfig:
        seen: set[str] = set()
        for dev in self.devices:
            if dev.id in seen:
                raise ValueError(f"device id {dev.id!r} appears twice; device ids must be unique")
            seen.add(dev.id)
        return self
