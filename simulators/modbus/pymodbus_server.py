"""The only module that imports pymodbus' server API: the simulators' Modbus server.

pymodbus rebuilt its server datastore between minor releases (``ModbusSlaveContext`` and the
``ModbusSequentialDataBlock`` family gave way to ``SimDevice``/``SimData`` in 3.12), so every
server call lives here; the simulator (`simulators.modbus.server`) speaks in plain lists and
callbacks. Tested with pymodbus 3.16 (`collectors.modbus.pymodbus_client.PYMODBUS_TESTED`,
the same distribution pin ``<3.17``); a server that cannot start is reported as OSError
naming where it tried to listen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from collectors.modbus.standard import BIT_TABLES, Framing, SerialParams, Table
from simulators.network import LISTEN_HINT

ReadHook = Callable[[Table, int, int], Awaitable[int | None]]
"""Called before every read with (table, address, count); may sleep (slow device) or return
an exception code to answer with instead of data."""

_FC_TABLE: dict[int, Table] = {1: "coil", 2: "discrete_input", 3: "holding", 4: "input",
                               5: "coil", 15: "coil", 6: "holding", 16: "holding",
                               22: "holding", 23: "holding"}


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitImage:
    """The four tables of one unit as plain lists the server reads from: registers as
    16-bit ints, bits as 0/1 ints. ``fill`` copies fresh values in before each read."""

    unit: int
    coils: int
    discrete_inputs: int
    holding: int
    input: int
    fill: Callable[[Table, int, int, list[int]], None]
    hook: ReadHook


def _bits_block(n_bits: int) -> list[SimData]:
    return [SimData(0, count=max(16, (n_bits + 15) // 16 * 16), values=False, datatype=DataType.BITS)]


def _regs_block(n: int) -> list[SimData]:
    return [SimData(0, count=max(1, n), values=0, datatype=DataType.REGISTERS)]


def _sim_device(img: UnitImage) -> SimDevice:
    async def action(fc: int, start: int, address: int, count: int, registers: list[int],
                     values: list[int] | list[bool] | None) -> ExcCodes | None:
        table = _FC_TABLE.get(fc)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        # For bit tables pymodbus passes the bit address but a count of 16-bit words.
        bits = table in BIT_TABLES
        first, span = (address // 16, count) if bits else (address, count)
        code = await img.hook(table, address, count * 16 - address % 16 if bits else count)
        if code:
            return ExcCodes(code)
        if values is None:
            img.fill(table, first, span, registers)
        return None

    return SimDevice(
        id=img.unit,
        simdata=(_bits_block(img.coils), _bits_block(img.discrete_inputs),
                 _regs_block(img.holding), _regs_block(img.input)),
        action=action,
    )


def _unknown_unit_device() -> SimDevice:
    """Unit 0 is pymodbus' catch-all: answer like a TCP gateway whose target is absent."""

    async def action(*_: object) -> ExcCodes | None:
        return ExcCodes.GATEWAY_NO_RESPONSE

    return SimDevice(id=0, simdata=[SimData(0, count=65536, values=0, datatype=DataType.REGISTERS)],
                     action=action)


PacketHook = Callable[[bool, bytes], bytes]


class ServerHandle:
    """A running pymodbus server; ``drop_connections`` closes every client socket."""

    def __init__(self, server: ModbusTcpServer | ModbusSerialServer) -> None:
        self._server = server

    @property
    def port(self) -> int:
        """The TCP port actually listened on (the one the OS chose when asked for port 0)."""
        sockets = getattr(self._server.transport, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else 0

    def drop_connections(self) -> int:
        conns = list(self._server.active_connections.values())
        for conn in conns:
            conn.close()
        return len(conns)

    async def stop(self) -> None:
        await self._server.shutdown()


async def start_server(
    units: list[UnitImage],
    *,
    host: str = "127.0.0.1",
    port: int = 502,
    framing: Framing = "socket",
    serial_port: str | None = None,
    serial: SerialParams | None = None,
    packet_hook: PacketHook | None = None,
) -> ServerHandle:
    """Serve ``units`` on a TCP port (MBAP or RTU framing) or on a serial port (RTU)."""
    devices = [_sim_device(u) for u in units]
    if all(u.unit != 0 for u in units):
        devices.append(_unknown_unit_device())
    server: ModbusTcpServer | ModbusSerialServer
    if serial_port:
        sp = serial or SerialParams()
        server = ModbusSerialServer(
            devices, framer=FramerType.RTU, port=serial_port, baudrate=sp.baudrate,
            bytesize=sp.bytesize, parity=sp.parity, stopbits=sp.stopbits, trace_packet=packet_hook,
        )
    else:
        framer = FramerType.RTU if framing == "rtu" else FramerType.SOCKET
        server = ModbusTcpServer(devices, framer=framer, address=(host, port), trace_packet=packet_hook)
    try:
        await server.serve_forever(background=True)
    except RuntimeError as err:
        raise OSError(f"cannot listen on {serial_port or f'{host}:{port}'}: {err}"
                      + LISTEN_HINT) from err
    return ServerHandle(server)
