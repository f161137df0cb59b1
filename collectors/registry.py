"""The gateway side of the protocol registry: from a protocol name (`device_profiles.protocols`)
to its collector package's ``PLUGIN``, imported on first use.

Only the plugins of protocols a gateway uses are imported (a Modbus-only gateway never loads
asyncua); `discover` and `edge-agent check` read the plugins of every registered protocol,
which are cheap by contract (`collectors.plugin`).
"""

from __future__ import annotations

import importlib
from functools import cache

from collectors.base import Collector, CollectorError
from collectors.plugin import CollectorPlugin
from common.backoff import Backoff
from device_profiles.device import DeviceConfig
from device_profiles.models import DeviceProfile
from device_profiles.protocols import PROTOCOLS

DEFAULT_BACKOFF = Backoff()


@cache
def plugin(protocol: str) -> CollectorPlugin:
    """The plugin of a registered protocol; CollectorError when there is none."""
    if protocol not in PROTOCOLS:
        raise CollectorError(f"no collector for protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    module = importlib.import_module(f"collectors.{protocol}.plugin")
    found = getattr(module, "PLUGIN", None)
    if not isinstance(found, CollectorPlugin):
        raise CollectorError(f"collectors/{protocol}/plugin.py defines no PLUGIN (a CollectorPlugin)")
    return found


def make_collector(device: DeviceConfig, profile: DeviceProfile) -> Collector:
    """The collector for one device, by its profile's protocol."""
    spec = PROTOCOLS.get(profile.protocol)
    if spec is None or not isinstance(profile, spec.profile):
        raise CollectorError(f"device {device.id}: no collector for protocol {profile.protocol!r}")
    return plugin(spec.name).collector(device, profile)


def reconnect_backoff(device: DeviceConfig, profile: DeviceProfile, *,
                      default: Backoff = DEFAULT_BACKOFF) -> Backoff:
    """The reconnect delays for a device: what its options set, when its protocol has such
    options, else ``default`` (the gateway's ``reconnect:`` settings). Invalid options give
    the default here; connecting reports them."""
    try:
        hook = plugin(profile.protocol).reconnect_backoff
        return hook(device, default) if hook is not None else default
    except CollectorError:
        return default


def discoverer_for(url: str) -> CollectorPlugin | None:
    """The plugin whose discoverer handles ``url``'s scheme, or None."""
    scheme = url.split("://", 1)[0].lower()
    for name in PROTOCOLS:
        found = plugin(name)
        if found.discover is not None and scheme in found.discover_schemes:
            return found
    return None


def discover_examples() -> list[str]:
    """One example URL per protocol that can discover, for help and error messages."""
    return [p.discover_example for p in map(plugin, PROTOCOLS) if p.discover is not None]
