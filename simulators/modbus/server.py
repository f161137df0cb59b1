"""A Modbus server that plays one or more devices (unit ids) from their profiles, with faults.

Usable in-process from tests::

    async with ModbusSimulator([SimulatedUnit(profile, unit=1)], port=port) as sim:
        sim.faults.delay_s = 1.5          # slow device
        sim.faults.exception = 6          # every read answers "server device busy"
        sim.faults.illegal.add(("holding", 12))   # a register the device refuses
        sim.faults.silent = True          # requests swallowed: client times out
        sim.faults.garbage = True         # answers corrupted on the wire
        sim.drop_connections()            # TCP connections reset now
        await sim.stop(); await sim.start()   # device off and on again

All pymodbus calls go through `simulators.modbus.pymodbus_server`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import KW_ONLY, dataclass, field
from types import TracebackType
from typing import Literal, Self, TextIO

from collectors.modbus.standard import BIT_TABLES, GATEWAY_NO_RESPONSE, ILLEGAL_ADDRESS, SerialParams, Table
from device_profiles.modbus import ModbusProfile
from simulators.modbus.image import DeviceImage
from simulators.modbus.pymodbus_server import ServerHandle, UnitImage, start_server
from wire.sample import now_ms


@dataclass(kw_only=True)
class Faults:
    """What the device does wrong right now; tests and the control port change it live."""

    delay_s: float = 0.0
    exception: int | None = None
    illegal: set[tuple[str, int]] = field(default_factory=set)
    silent: bool = False
    garbage: bool = False
    reads: int = 0  # requests seen, to check what a collector sends

    def describe(self) -> str:
        on = [f"delay {self.delay_s}s"] if self.delay_s else []
        on += [f"exception {self.exception}"] if self.exception else []
        on += [f"illegal {sorted(self.illegal)}"] if self.illegal else []
        on += ["silent"] if self.silent else []
        on += ["garbage"] if self.garbage else []
        return ", ".join(on) or "normal"

    def clear(self) -> None:
        self.delay_s, self.exception, self.silent, self.garbage = 0.0, None, False, False
        self.illegal.clear()


@dataclass
class SimulatedUnit:
    profile: ModbusProfile
    _: KW_ONLY
    unit: int = 1
    seed: int = 0
    strict: bool = False  # answer "illegal data address" outside the profile's tags


class ModbusSimulator:
    """One listening endpoint (TCP port, or serial port) serving one or more units."""

    def __init__(
        self,
        units: list[SimulatedUnit],
        *,
        host: str = "127.0.0.1",
        port: int = 502,  # 0: any free port, read back from .port after start()
        framing: Literal["socket", "rtu"] = "socket",
        serial_port: str | None = None,
        serial: SerialParams | None = None,
        record: TextIO | None = None,
    ) -> None:
        """``record``: a text file that gets one JSON line per read that served new values,
        ``{"port": ..., "unit": ..., "ts": epoch ms, "values": {tag: value}}``, so an
        end-to-end test can check that every stored value was really served."""
        if not units:
            raise ValueError("a simulator needs at least one unit")
        self.host, self.port, self.framing = host, port, framing
        self.serial_port, self.serial = serial_port, serial
        self.faults = Faults()
        self.images = {u.unit: DeviceImage(u.profile, unit=u.unit, seed=u.seed) for u in units}
        self._strict = {u.unit: _mapped(u.profile) if u.strict else None for u in units}
        if record is not None:
            for unit, img in self.images.items():
                img.on_served = functools.partial(self._record, record, unit)
        self._handle: ServerHandle | None = None

    def image(self, unit: int | None = None) -> DeviceImage:
        return self.images[unit if unit is not None else next(iter(self.images))]

    async def start(self) -> None:
        if self._handle is not None:
            return
        self._handle = await start_server(
            [self._unit_image(u, img) for u, img in self.images.items()],
            host=self.host, port=self.port, framing=self.framing,
            serial_port=self.serial_port, serial=self.serial, packet_hook=self._packet,
        )
        if not self.serial_port and self.port == 0:
            self.port = self._handle.port  # port 0: the OS picked a free one; keep it for restarts
        for img in self.images.values():
            img.flush_served()  # values made before the first read are served too (--record)

    async def stop(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.drop_connections()
            await handle.stop()

    def drop_connections(self) -> int:
        return self._handle.drop_connections() if self._handle else 0

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def _unit_image(self, unit: int, img: DeviceImage) -> UnitImage:
        strict = self._strict[unit]

        async def hook(table: Table, address: int, count: int) -> int | None:
            f = self.faults
            f.reads += 1
            if f.delay_s:
                await asyncio.sleep(f.delay_s)
            if f.exception:
                return f.exception
            touched = range(address, address + count)
            if any((table, a) in f.illegal for a in touched):
                return ILLEGAL_ADDRESS
            if (strict is not None and table not in BIT_TABLES
                    and any((table, a) not in strict for a in touched)):
                return ILLEGAL_ADDRESS
            return None

        def fill(table: Table, first: int, count: int, registers: list[int]) -> None:
            img.fill(table, first, count, registers)

        return UnitImage(unit=unit, coils=img.size("coil"), discrete_inputs=img.size("discrete_input"),
                         holding=img.size("holding"), input=img.size("input"), fill=fill, hook=hook)

    def _record(self, out: TextIO, unit: int, values: dict[str, object]) -> None:
        where: int | str = self.serial_port or self.port
        out.write(json.dumps({"port": where, "unit": unit, "ts": now_ms(), "values": values}) + "\n")
        out.flush()

    def _packet(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        if self.faults.silent:
            return b""
        rtu = self.framing == "rtu" or bool(self.serial_port)
        if rtu and len(data) >= 3 and data[1] & 0x80 and data[2] == GATEWAY_NO_RESPONSE:
            return b""  # on an RS-485 line an absent unit is simply silent
        if self.faults.garbage:
            head = 7 if self.framing == "socket" and not self.serial_port else 1
            return data[:head] + bytes(b ^ 0x5A for b in data[head:])
        return data


def _mapped(profile: ModbusProfile) -> set[tuple[str, int]]:
    return {(t.table, t.address + i) for t in profile.tags for i in range(t.registers)}
