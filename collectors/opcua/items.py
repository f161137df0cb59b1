"""Plain descriptions exchanged with the asyncua boundary module, free of library types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from device_profiles.opcua import NodeRef


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowsedVariable:
    """One variable found by browsing, as discover needs it."""

    path: list[str]
    namespace_uri: str | None
    namespace_index: int
    kind: str
    identifier: Any
    data_type: int | None  # built-in type id (namespace 0), None for vendor types
    value_rank: int | None
    array_dimensions: list[int]
    min_sampling_ms: float | None
    description: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorSpec:
    """One monitored item to create; ``handle`` is the tag's index in the profile."""

    handle: int
    node: NodeRef
    sampling_ms: float
    queue_size: int
    deadband_type: str = "none"
    deadband_value: float = 0.0
