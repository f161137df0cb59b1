"""Pydantic models for device profiles and gateway configs.

A profile describes a device *model* (its tags and how to decode them) and knows nothing about
where a device is; a gateway config says who the gateway is and which devices it reads with
which profile. Both are data: tests and simulators load the same files as the gateway.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]

ModbusTable = Literal["coil", "discrete_input", "holding", "input"]
ModbusType = Literal[
    "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float32", "float64", "string", "bcd16", "bcd32",
]
WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]

REGISTER_WIDTH: dict[str, int] = {
    "bool": 1, "int16": 1, "uint16": 1, "bcd16": 1,
    "int32": 2, "uint32": 2, "float32": 2, "bcd32": 2,
    "int64": 4, "uint64": 4, "float64": 4,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimSpec(_Model):
    """How a simulator animates a tag (in engineering units, after scale/offset); ignored by
    the gateway.

    kinds: constant, sine, ramp, random_walk, counter, toggle, choice.
    """

    kind: Literal["constant", "sine", "ramp", "random_walk", "counter", "toggle", "choice"] = "constant"
    value: float | str | bool = 0.0
    amplitude: float = 0.0
    period_s: float = Field(60.0, gt=0)
    min: float | None = None
    max: float | None = None
    step: float = 1.0
    rate_per_s: float = 0.0
    choices: list[float | str] = Field(default_factory=list)
    noise: float = Field(0.0, ge=0)


class ModbusTag(_Model):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    table: ModbusTable = "holding"
    address: int = Field(ge=0, le=65535, description="0-based register or bit address")
    type: ModbusType = "uint16"
    order: WordOrder | None = Field(None, description="byte/word order; defaults to the profile's")
    bit: int | None = Field(None, ge=0, le=15, description="for bool in a register: bit index")
    length: int | None = Field(None, ge=1, le=125, description="registers, for strings")
    scale: float = 1.0
    offset: float = 0.0
    mask: int | None = Field(None, ge=0)
    unit: str | None = None
    description: str | None = None
    interval_ms: int | None = Field(None, ge=10)
    sim: SimSpec = Field(default_factory=SimSpec)

    @model_validator(mode="after")
    def _check(self) -> ModbusTag:
        if self.table in ("coil", "discrete_input") and self.type != "bool":
            raise ValueError(f"a {self.table} holds one bit: type must be bool, not {self.type}")
        if self.type == "string" and self.length is None:
            raise ValueError("type string needs length (number of registers, two bytes each)")
        return self

    @property
    def registers(self) -> int:
        if self.table in ("coil", "discrete_input"):
            return 1
        if self.type == "string":
            return self.length or 1
        return REGISTER_WIDTH[self.type]


class ProfileDefaults(_Model):
    order: WordOrder = "ABCD"
    interval_ms: int = Field(1000, ge=10)
    unit_id: int = Field(1, ge=0, le=255)


class DeviceProfile(_Model):
    """A device model. ``sources`` names the vendor documents the register map follows."""

    profile: Ident
    protocol: Literal["modbus"]
    manufacturer: str | None = None
    model: str | None = None
    description: str | None = None
    industry: str | None = None
    sources: list[str] = Field(default_factory=list)
    defaults: ProfileDefaults = Field(default_factory=ProfileDefaults)
    tags: list[ModbusTag] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> DeviceProfile:
        seen: set[str] = set()
        for tag in self.tags:
            if tag.name in seen:
                raise ValueError(f"tag name {tag.name!r} appears twice; tag names must be unique")
            seen.add(tag.name)
        return self

    def order_of(self, tag: ModbusTag) -> str:
        return tag.order or self.defaults.order

    def interval_of(self, tag: ModbusTag) -> int:
        return tag.interval_ms or self.defaults.interval_ms


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
