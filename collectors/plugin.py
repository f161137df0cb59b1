"""What a protocol's collector package hands the registry: ``collectors/<name>/plugin.py``
defines ``PLUGIN = CollectorPlugin(...)``.

The fields are plain callables so that they keep their types, and the ones that need the
protocol's library (the collector, the discoverer) import it when first called: a plugin
module itself must stay cheap to import, because `edge-agent check` and `discover` read every
protocol's plugin, and a gateway without OPC UA devices must never load asyncua.

This module is separate from `collectors.registry` on purpose: plugins import this one, the
registry imports the plugins (by name), and neither imports the other's importer.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from collectors.base import CollectorFactory
from common.backoff import Backoff
from device_profiles.device import DeviceConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoverRequest:
    """What `edge-agent discover` was asked for; each protocol reads the fields it has."""

    url: str
    depth: int = 3  # OPC UA: browse depth
    name_filter: str | None = None  # OPC UA: only names containing this (or matching a glob)
    start: int = 0  # Modbus: first address
    count: int = 100  # Modbus: addresses to probe
    table: str = "holding"  # Modbus: register table
    options: Mapping[str, Any] = field(default_factory=dict)
    """Device options (as under ``options:`` in the gateway config) the discoverer needs to
    reach the device, such as OPC UA security and user authentication; only names from the
    plugin's ``discover_options``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoverOptions:
    """Which device options `edge-agent discover` offers for a protocol, as flags named after
    them (``security_policy`` is ``--security-policy``). ``model`` is the protocol's device
    options model: it stays the one definition of each option's type, allowed values, default
    and description, and validates what was given before anything connects."""

    model: type[BaseModel]
    names: tuple[str, ...]


Discoverer = Callable[[DiscoverRequest], Coroutine[Any, Any, dict[str, Any]]]
"""Browse or scan a live device and return a profile skeleton (a dict that validates as the
protocol's profile model); raises CollectorError (DeviceUnreachable when it cannot connect)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectorPlugin:
    """The gateway side of one protocol."""

    collector: CollectorFactory
    parse_options: Callable[[DeviceConfig], object]
    """Validate a device's ``options:`` before anything connects; raises CollectorError naming
    the device and the field."""
    reconnect_backoff: Callable[[DeviceConfig, Backoff], Backoff] | None = None
    """The supervisor's reconnect delays for a device, when its options can set them (the
    second argument is the gateway's default, for what the options leave unset)."""
    discover: Discoverer | None = None
    discover_options: DiscoverOptions | None = None  # device options the discoverer takes
    discover_schemes: tuple[str, ...] = ()  # URL schemes `edge-agent discover` routes here
    discover_example: str = ""  # a URL of that form, for help and error messages
