"""``device-sim modbus``: Modbus devices with every option of the Modbus simulator (framing,
serial line, strict addressing, delay, the fault control port, recording)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from simulators.devices import DeviceSpec, parse_device
from simulators.modbus.serve import serve
from simulators.run import run_until_interrupted


@click.command("modbus")
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
def command(profile: str | None, port: int | None, host: str, unit: int | None, seed: int,
            devices: tuple[str, ...], serial: str | None, framing: Literal["socket", "rtu"],
            strict: bool, delay_ms: float, control_port: int | None, record: Path | None) -> None:
    """Serve Modbus devices (TCP, RTU over TCP, or RTU on a serial port)."""
    specs = [parse_device(d, seed=seed + i, strict=strict) for i, d in enumerate(devices)]
    if profile:
        if port is None and serial is None:
            raise click.UsageError("--profile needs --port (or --serial)")
        specs.append(DeviceSpec(profile, port or 0, unit, seed, serial=serial, strict=strict))
    if not specs:
        raise click.UsageError("give --profile with --port, or at least one --device")
    run_until_interrupted(serve(specs, host=host, framing=framing, delay_s=delay_ms / 1000,
                                control_port=control_port, record=record))
