"""Serve several simulated Modbus devices from one process until cancelled.

Devices that share a port share one server (one TCP endpoint, several unit ids, like an
RS-485 line behind a gateway); each port gets its own server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TextIO

from device_profiles.loader import resolve_profile
from device_profiles.modbus import ModbusProfile
from simulators.devices import DeviceSpec
from simulators.modbus.control import start_control
from simulators.modbus.server import ModbusSimulator, SimulatedUnit

log = logging.getLogger("device_sim.modbus")


def build_simulators(specs: Sequence[DeviceSpec], *, host: str = "127.0.0.1",
                     framing: Literal["socket", "rtu"] = "socket",
                     record: TextIO | None = None) -> list[ModbusSimulator]:
    by_port: dict[int | str, list[SimulatedUnit]] = {}
    for spec in specs:
        profile = resolve_profile(spec.profile)
        if not isinstance(profile, ModbusProfile):
            raise ValueError(f"profile {spec.profile!r} is not a Modbus profile")
        unit = spec.unit if spec.unit is not None else profile.defaults.unit_id
        units = by_port.setdefault(spec.serial or spec.port, [])
        if any(u.unit == unit for u in units):
            raise ValueError(f"port {spec.serial or spec.port}: unit {unit} given twice")
        units.append(SimulatedUnit(profile, unit=unit, seed=spec.seed, strict=spec.strict))
    sims = []
    for where, units in by_port.items():
        if isinstance(where, str):
            sims.append(ModbusSimulator(units, serial_port=where, framing="rtu", record=record))
        else:
            sims.append(ModbusSimulator(units, host=host, port=where, framing=framing, record=record))
    return sims


async def serve(specs: Sequence[DeviceSpec], *, host: str = "127.0.0.1",
                framing: Literal["socket", "rtu"] = "socket", delay_s: float = 0.0,
                control_port: int | None = None, record: Path | None = None) -> None:
    """Run until cancelled (Ctrl-C). ``record``: append served values there as JSON lines."""
    out = record.open("a", encoding="utf-8") if record is not None else None
    sims = build_simulators(specs, host=host, framing=framing, record=out)
    control = None
    try:
        for sim in sims:
            sim.faults.delay_s = delay_s
            await sim.start()
            where = sim.serial_port or f"{sim.host}:{sim.port}"
            units = ", ".join(f"unit {u} = {img.profile.profile}" for u, img in sim.images.items())
            log.info("modbus %s (%s): %s", where, sim.framing, units)
            print(f"modbus {where} framing={sim.framing}: {units}", flush=True)
        if control_port is not None:
            control = await start_control(sims, host=host, port=control_port)
            print(f"fault control on {host}:{control_port}", flush=True)
        await asyncio.Event().wait()
    finally:
        if control is not None:
            control.close()
        for sim in sims:
            await sim.stop()
        if out is not None:
            out.close()
