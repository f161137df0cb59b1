"""Which devices to simulate: ``PROFILE@PORT[:UNIT]`` as ``device-sim`` takes it, parsed into a
`DeviceSpec` every protocol's ``serve`` accepts."""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass

import click

_DEVICE = re.compile(r"^(?P<profile>[^@]+)@(?P<port>\d+)(?::(?P<unit>\d+))?$")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device to simulate: profile (library name or YAML path) and where to serve it."""

    profile: str
    port: int = 0
    unit: int | None = None
    seed: int = 0
    _: KW_ONLY
    serial: str | None = None  # serve on this serial device instead of a TCP port (Modbus RTU)
    strict: bool = False  # refuse addresses the profile does not map, like many real devices


def parse_device(text: str, *, seed: int = 0, strict: bool = False) -> DeviceSpec:
    """``PROFILE@PORT[:UNIT]`` as given to ``--device``."""
    m = _DEVICE.match(text.strip())
    if not m:
        raise click.BadParameter(f"{text!r}: expected PROFILE@PORT or PROFILE@PORT:UNIT")
    unit = m.group("unit")
    return DeviceSpec(m.group("profile"), int(m.group("port")), int(unit) if unit else None, seed,
                      strict=strict)
