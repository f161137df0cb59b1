"""Shared by the Modbus tests: a simulator on a free port and a device config pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from device_profiles.device import DeviceConfig
from device_profiles.loader import resolve_profile
from device_profiles.modbus import ModbusProfile
from simulators.modbus.server import ModbusSimulator, SimulatedUnit


def profile(name: str = "energy_meter_3ph") -> ModbusProfile:
    p = resolve_profile(name)
    assert isinstance(p, ModbusProfile)
    return p


def make_profile(tags: list[dict[str, Any]], **extra: Any) -> ModbusProfile:
    return ModbusProfile.model_validate({"profile": "t", "protocol": "modbus", "tags": tags, **extra})


def device(port: int, *, id: str = "dev1", scheme: str = "tcp", timeout_s: float = 1.0,
           **extra: Any) -> DeviceConfig:
    return DeviceConfig(id=id, profile="test", endpoint=f"{scheme}://127.0.0.1:{port}",
                        timeout_s=timeout_s, **extra)


@asynccontextmanager
async def running_sim(prof: ModbusProfile, *, unit: int = 1, seed: int = 0, strict: bool = False,
                      framing: str = "socket") -> AsyncIterator[ModbusSimulator]:
    sim = ModbusSimulator([SimulatedUnit(prof, unit=unit, seed=seed, strict=strict)],
                          port=0, framing=framing)  # type: ignore[arg-type]
    async with sim:
        yield sim
