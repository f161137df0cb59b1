"""The gateway config: who the gateway is, where the broker is, where the buffer lives and its
limits, how batches are published, and which devices it reads (examples/gateway.yaml).

Secrets never live in the YAML: the broker password comes from the environment variable named
in ``broker.password_env`` or the file named in ``broker.password_file`` (`common.secrets`).
``broker.tls`` turns on MQTT over TLS (`common.tls`, the same settings and checks as the cloud's
``mqtt.tls``): the broker's CA, and this gateway's certificate and key for mutual TLS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from common.backoff import Backoff
from common.config_files import load
from common.event_loop import EventLoop
from common.model import Frozen as _Model
from common.secrets import read_secret
from common.tls import TlsSettings
from device_profiles.base import Ident
from device_profiles.device import DeviceConfig


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
    port: int = Field(1883, ge=1, le=65535, description="1883; 8883 by default with tls")
    client_id: str | None = None
    username: str | None = None
    password_env: str | None = Field(
        None, description="name of the environment variable holding the password"
    )
    password_file: str | None = Field(None, description="file holding the password (mode 0600)")
    keepalive_s: int = Field(30, ge=5, le=3600)
    connect_timeout_s: float = Field(10.0, gt=0)
    max_inflight: int = Field(20, ge=1, le=65535)
    tls: TlsSettings | None = Field(
        None, description="MQTT over TLS: the broker's CA, and this gateway's certificate for mutual TLS")

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: object) -> object:
        """The registered MQTT-over-TLS port when TLS is on and no port is given."""
        if isinstance(data, dict) and data.get("tls") is not None and "port" not in data:
            return {**data, "port": 8883}
        return data

    def password(self) -> SecretStr | None:
        """Raises common.secrets.SecretError naming the field when it cannot be read."""
        return read_secret(env=self.password_env, file=self.password_file, field="broker.password")


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
    blocks: bool = Field(True, description="JSON: a clean Modbus request's values as one block "
                         "(wire.json_v1.WireBlock); off for a cloud-ingest from before blocks, "
                         "which refuses them (docs/wire-format.md, Upgrading)")
    drain_rate_per_s: int | None = Field(
        None, ge=1, description="cap on backlog samples per second after an outage; live data first"
    )
    sparkplug: SparkplugConfig = Field(default_factory=SparkplugConfig)


class ReconnectConfig(_Model):
    """How soon the agent tries again after losing a device or the broker: the delay starts at
    ``*_initial_s`` and doubles up to ``*_max_s``. The caps are short because a reconnect
    attempt is cheap (one TCP connect) and every second a returned device stays unread is a
    gap it never had; a protocol whose options set their own delays (OPC UA's
    ``backoff_initial_s`` / ``backoff_max_s``) keeps them."""

    device_initial_s: float = Field(0.5, gt=0, le=3600, description="first device reconnect delay")
    device_max_s: float = Field(5.0, gt=0, le=3600, description="cap on the device reconnect delay")
    broker_initial_s: int = Field(1, ge=1, le=3600, description="first broker reconnect delay")
    broker_max_s: int = Field(5, ge=1, le=3600, description="cap on the broker reconnect delay")

    @model_validator(mode="after")
    def _first_within_cap(self) -> ReconnectConfig:
        for who in ("device", "broker"):
            first, cap = getattr(self, f"{who}_initial_s"), getattr(self, f"{who}_max_s")
            if first > cap:
                raise ValueError(f"reconnect.{who}_initial_s ({first}) is above "
                                 f"reconnect.{who}_max_s ({cap}): the first delay cannot exceed the cap")
        return self

    def device_backoff(self) -> Backoff:
        return Backoff(initial_s=self.device_initial_s, max_s=self.device_max_s)


class GatewayConfig(_Model):
    gateway: GatewayIdentity
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig)
    event_loop: EventLoop = Field(
        "auto", description="auto: uvloop where installed (less CPU), else asyncio's own loop")
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


def load_gateway_config(path: Path | str) -> GatewayConfig:
    return load(GatewayConfig, path)
