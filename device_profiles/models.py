"""Pydantic models for device profiles and gateway configs.

A profile describes a device *model* (its tags and how to decode them) and knows nothing about
where a device is; a gateway config says who the gateway is and which devices it reads with
which profile. Both are data: tests and simulators load the same files as the gateway.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, field_validator

from device_profiles.base import Ident, ProfileBase, TagBase
from device_profiles.base import Model as _Model
from device_profiles.modbus import ModbusProfile
from device_profiles.opcua import OpcUaProfile

# One member per protocol, told apart by ``protocol:``. Adding a protocol adds a member here
# (``ModbusProfile | OpcUaProfile``) and to the adapter's discriminated union.
DeviceProfile = ModbusProfile | OpcUaProfile
PROFILE_ADAPTER: TypeAdapter[DeviceProfile] = TypeAdapter(
    Annotated[ModbusProfile | OpcUaProfile, Field(discriminator="protocol")]
)

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
    max_bytes: int = Field(512 * 1024 * 1024, ge=64 * 1024)
    full_policy: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    batch_max_samples: int = Field(1000, ge=1, le=100_000)
    batch_max_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    linger_ms: int = Field(500, ge=0, le=60_000)
    shutdown_flush_s: float = Field(5.0, ge=0, le=300, description="on stop, wait for acks this long")
    synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL", description="FULL survives power cuts; NORMAL only process crashes, but is faster"
    )


class SparkplugConfig(_Model):
    group_id: Ident = "shopfloor"
    primary_host_id: Ident | None = Field(
        None, description="wait for this host application's STATE online before publishing"
    )


class PublishConfig(_Model):
    encoding: Literal["json", "sparkplug"] = "json"
    compress: bool = Field(False, description="gzip JSON payloads (the cloud detects the magic)")
    drain_rate_per_s: int | None = Field(
        None, ge=1, description="cap on backlog samples per second after an outage; live data first"
    )
    sparkplug: SparkplugConfig = Field(default_factory=SparkplugConfig)


class TagReport(_Model):
    """How a tag's readings become reported samples (between collector and buffer)."""

    mode: Literal["all", "change"] | None = Field(
        None, description="all: every reading; change: report by exception"
    )
    deadband_abs: float | None = Field(None, ge=0)
    deadband_pct: float | None = Field(None, ge=0, le=100)
    heartbeat_ms: int | None = Field(
        None, ge=100, description="in change mode, report at least this often (max silence)"
    )
    scale: float | None = None
    offset: float | None = None
    unit: str | None = None


class ReportConfig(TagReport):
    tags: dict[str, TagReport] = Field(default_factory=dict, description="per-tag overrides")


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
    report: ReportConfig = Field(default_factory=ReportConfig)
    options: dict[str, Any] = Field(default_factory=dict)


class GatewayConfig(_Model):
    gateway: GatewayIdentity
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    devices: list[DeviceConfig] = Field(min_length=1)

    @field_validator("devices")
    @classmethod
    def _unique_devices(cls, devices: list[DeviceConfig]) -> list[DeviceConfig]:
        seen: set[str] = set()
        for dev in devices:
            if dev.id in seen:
                raise ValueError(f"device id {dev.id!r} appears twice; device ids must be unique")
            seen.add(dev.id)
        return devices
