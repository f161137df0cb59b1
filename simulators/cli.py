"""``device-sim``: serve device profiles as simulated devices, one or many per process.

    device-sim modbus --profile energy_meter_3ph --port 15020 [--unit 1] [--seed 7]
    device-sim modbus --device energy_meter_3ph@15020 --device energy_meter_3ph@15020:2 \\
                      --device temp_controller@15021
    device-sim serve --device energy_meter_3ph@15020 ...   (protocol taken from each profile)
    device-sim profiles

Protocols plug in through ``SERVERS``: protocol name -> "module:function", where the function
is ``async def serve(specs: Sequence[DeviceSpec], *, host: str) -> None`` and runs until
cancelled. Adding a protocol adds one line there.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import click

SERVERS: dict[str, str] = {
    "modbus": "simulators.modbus.serve:serve",
    "opcua": "simulators.opcua.serve:serve",
}

_DEVICE = re.compile(r"^(?P<profile>[^@]+)@(?P<port>\d+)(?::(?P<unit>\d+))?$")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device to simulate: profile (library name or YAML path) and where to serve it."""

    profile: str
    port: int = 0
    unit: int | None = None
    seed: int = 0
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


def server_for(protocol: str) -> Callable[..., Awaitable[None]]:
    target = SERVERS.get(protocol)
    if target is None:
        raise click.ClickException(f"no simulator for protocol {protocol!r}; known: {', '.join(SERVERS)}")
    module, name = target.split(":")
    fn: Callable[..., Awaitable[None]] = getattr(import_module(module), name)
    return fn


def _run(coro: Awaitable[Any]) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(coro)  # type: ignore[arg-type]


@click.group()
def main() -> None:
    """Simulated shop-floor devices for development, tests and demos."""


@main.command()
@click.option("--profile", help="profile name from the library, or a path to a YAML profile")
@click.option("--port", type=int, help="TCP port for --profile")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--unit", type=int, default=None, help="unit id (default: the profile's)")
@click.option("--seed", type=int, default=0, show_default=True, help="generator seed")
@click.option("--device", "devices", multiple=True, metavar="PROFILE@PORT[:UNIT]",
              help="repeatable; devices on the same port share it as separate unit ids")
@click.option("--serial", default=None, help="serve --profile as RTU on this serial device instead")
@click.option("--framing", type=click.Choice(["socket", "rtu"]), default="socket", show_default=True,
              help="rtu = RTU frames over TCP (serial-to-Ethernet converter)")
@click.option("--strict", is_flag=True, help="answer 'illegal data address' outside mapped registers")
@click.option("--delay-ms", type=float, default=0.0, show_default=True, help="wait before every answer")
@click.option("--control-port", type=int, default=None,
              help="TCP port for fault commands (see simulators/README.md)")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="append every served value as JSON lines (port, unit, ts, values) to this file")
def modbus(profile: str | None, port: int | None, host: str, unit: int | None, seed: int,
           devices: tuple[str, ...], serial: str | None, framing: str, strict: bool, delay_ms: float,
           control_port: int | None, record: Path | None) -> None:
    """Serve Modbus devices (TCP, RTU over TCP, or RTU on a serial port)."""
    specs = [parse_device(d, seed=seed + i, strict=strict) for i, d in enumerate(devices)]
    if profile:
        if port is None and serial is None:
            raise click.UsageError("--profile needs --port (or --serial)")
        specs.append(DeviceSpec(profile, port or 0, unit, seed, serial=serial, strict=strict))
    if not specs:
        raise click.UsageError("give --profile with --port, or at least one --device")
    _run(server_for("modbus")(specs, host=host, framing=framing, delay_s=delay_ms / 1000,
                              control_port=control_port, record=record))


@main.command()
@click.option("--device", "devices", multiple=True, required=True, metavar="PROFILE@PORT[:UNIT]")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def serve(devices: tuple[str, ...], host: str, seed: int) -> None:
    """Serve devices of any protocol; each profile says which."""
    from device_profiles.loader import resolve_profile

    by_proto: dict[str, list[DeviceSpec]] = {}
    for i, text in enumerate(devices):
        spec = parse_device(text, seed=seed + i)
        by_proto.setdefault(resolve_profile(spec.profile).protocol, []).append(spec)

    async def all_of() -> None:
        await asyncio.gather(*(server_for(p)(s, host=host) for p, s in by_proto.items()))

    _run(all_of())


@main.command()
def profiles() -> None:
    """List the profiles shipped in the library."""
    from device_profiles.loader import library_profiles

    for name, path in library_profiles().items():
        click.echo(f"{name}\t{path.parent.name}")


def run_specs(specs: Sequence[DeviceSpec], *, host: str = "127.0.0.1") -> None:
    """Programmatic entry (scripts): serve ``specs`` until interrupted."""
    by_proto: dict[str, list[DeviceSpec]] = {}
    from device_profiles.loader import resolve_profile

    for spec in specs:
        by_proto.setdefault(resolve_profile(spec.profile).protocol, []).append(spec)

    async def all_of() -> None:
        await asyncio.gather(*(server_for(p)(s, host=host) for p, s in by_proto.items()))

    _run(all_of())
if __name__ == "__main__":
    main()
