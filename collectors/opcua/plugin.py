"""OPC UA in the protocol registry (`collectors.plugin`). Importing this module does not import
asyncua: the collector and discover are loaded when first used."""

from __future__ import annotations

from typing import Any

from collectors.base import Collector
from collectors.opcua.config import OpcUaOptions, parse_options
from collectors.plugin import CollectorPlugin, DiscoverOptions, DiscoverRequest
from common.backoff import Backoff
from device_profiles.device import DeviceConfig
from device_profiles.models import DeviceProfile


def _collector(device: DeviceConfig, profile: DeviceProfile) -> Collector:
    from collectors.opcua.collector import OpcUaCollector  # imports asyncua

    return OpcUaCollector(device, profile)


async def _discover(request: DiscoverRequest) -> dict[str, Any]:
    from collectors.opcua.discover import discover  # imports asyncua

    return await discover(request.url, depth=request.depth, filter=request.name_filter, **request.options)


def _backoff(device: DeviceConfig, default: Backoff) -> Backoff:
    return parse_options(device).reconnect_backoff(default)


PLUGIN = CollectorPlugin(
    collector=_collector,
    parse_options=parse_options,
    reconnect_backoff=_backoff,
    discover=_discover,
    # what it takes to reach a secured server, exactly as in a device's options:
    discover_options=DiscoverOptions(model=OpcUaOptions, names=(
        "security_policy", "security_mode", "auth", "username", "password_env", "password_file",
        "user_cert", "user_key", "pki_dir", "connect_timeout_s",
    )),
    discover_schemes=("opc.tcp",),
    discover_example="opc.tcp://host:port",
)
