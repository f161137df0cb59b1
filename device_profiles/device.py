"""One device as a gateway config declares it: which profile, where it is (endpoint, unit),
where it stands (workshop, line, key process) and how its readings are reported.

Collectors read a device from this and its profile; the edge agent's normalizer applies its
``report`` rules. It holds no gateway settings (broker, buffer, publishing): those are the edge
agent's (`edge_agent.config`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from common.model import Frozen as _Model
from device_profiles.base import Ident


class TagReport(_Model):
    """How a tag's readings become reported samples (between collector and buffer)."""

    mode: Literal["all", "change"] | None = Field(
        None, description="all: every reading; change: report by exception"
    )
    deadband_abs: float | None = Field(None, ge=0, allow_inf_nan=False)
    deadband_pct: float | None = Field(None, ge=0, le=100)
    heartbeat_ms: int | None = Field(
        None, ge=100, description="in change mode, report at least this often (max silence)"
    )
    scale: float | None = Field(None, allow_inf_nan=False)
    offset: float | None = Field(None, allow_inf_nan=False)
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
