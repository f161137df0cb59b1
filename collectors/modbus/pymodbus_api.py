"""The only module that imports pymodbus: client reads, server start/stop, error conversion.

pymodbus changes its API between minor releases (``slave=`` became ``device_id=`` in 3.10,
the server datastore became SimDevice/SimData in 3.12+), so every call lives here and the
rest of the package speaks in our own small types:

    LinkError                 anything this module reports instead of a pymodbus exception
    ├── LinkDown              no connection, or it dropped (reconnect needed)
    ├── LinkTimeout           connected, but no answer within the timeout
    ├── ExceptionReply        the device answered with a Modbus exception code
    └── BadReply              an answer arrived but cannot be used (garbage, wrong length)

Tested with pymodbus 3.16 (see ``PYMODBUS_TESTED``); the distribution pins ``<3.17``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import pymodbus
from pymodbus import FramerType, ModbusException
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

PYMODBUS_TESTED = "3.16"
Table = Literal["coil", "discrete_input", "holding", "input"]
Framing = Literal["socket", "rtu"]

# The ones a reader needs to name; any other code is reported by number.
EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function", 2: "illegal data address", 3: "illegal data value",
    4: "server device failure", 5: "acknowledge", 6: "server device busy",
    8: "memory parity error", 10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
ILLEGAL_ADDRESS = 2
GATEWAY_NO_RESPONSE = 11
MAX_REGISTERS = 125  # per read request, by the protocol (FC 3/4)
MAX_BITS = 2000  # per read request, by the protocol (FC 1/2)

# pymodbus logs every timeout and exception response at ERROR; the collector reports them
# as sample quality instead, so keep its logger quiet unless asked.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)


class LinkError(Exception):
    """A Modbus link failure, already stripped of pymodbus types."""


class LinkDown(LinkError):
    pass


class LinkTimeout(LinkError):
    pass


class ExceptionReply(LinkError):
    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"exception {code} ({EXCEPTION_NAMES.get(code, 'unknown code')})")


class BadReply(LinkError):
    pass


@dataclass(frozen=True, slots=True)
class SerialParams:
    baudrate: int = 19200
    bytesize: int = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1


class ModbusLink:
    """One client connection (TCP, RTU over TCP, or RTU on a serial port).

    pymodbus' own retries and auto-reconnect are switched off: the collector decides what a
    timeout means and the supervisor owns reconnection, so there is one policy, not two.
    """

    def __init__(
        self,
        *,
        kind: Literal["tcp", "rtu_tcp", "rtu"],
        host: str = "",
        port: int = 502,
        serial_port: str = "",
        serial: SerialParams | None = None,
        timeout_s: float,
    ) -> None:
        self.timeout_s = timeout_s
        self._mbap = kind == "tcp"
        self._lost: asyncio.Event | None = None
        self._garbled: str | None = None
        self._turn: asyncio.Lock | None = None  # devices sharing a line take turns
        hooks: dict[str, Any] = {"trace_packet": self._on_packet, "trace_connect": self._on_connect}
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient
        if kind == "rtu":
            sp = serial or SerialParams()
            self._client = AsyncModbusSerialClient(
                serial_port, framer=FramerType.RTU, baudrate=sp.baudrate, bytesize=sp.bytesize,
                parity=sp.parity, stopbits=sp.stopbits, timeout=timeout_s, retries=0,
                reconnect_delay=0, **hooks,
            )
        else:
            framer = FramerType.RTU if kind == "rtu_tcp" else FramerType.SOCKET
            self._client = AsyncModbusTcpClient(
                host, port=port, framer=framer, timeout=timeout_s, retries=0, reconnect_delay=0, **hooks,
            )
        # Never let pymodbus close the link on its own after N silent requests.
        self._client.set_max_no_responses(1 << 30)

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    def _on_connect(self, up: bool) -> None:
        if not up and self._lost is not None:
            self._lost.set()

    def _on_packet(self, sending: bool, data: bytes) -> bytes:
        """Spot garbage before pymodbus' framer raises inside asyncio's data_received (which
        only logs it and leaves the request waiting for its timeout): drop the link at once."""
        if sending or not data or self._garbled:
            return data
        why = _garbage(data, mbap=self._mbap)
        if why is None:
            return data
        self._garbled = why
        asyncio.get_running_loop().call_soon(self._client.close)
        if self._lost is not None:
            self._lost.set()
        return b""

    async def connect(self) -> None:
        self._lost, self._garbled = asyncio.Event(), None
        try:
            ok = await asyncio.wait_for(self._client.connect(), self.timeout_s + 0.5)
        except (TimeoutError, OSError, ModbusException) as err:
            self._client.close()
            raise LinkDown(f"cannot connect: {err or type(err).__name__}") from err
        if not ok:
            self._client.close()
            raise LinkDown("connection refused or timed out")

    def close(self) -> None:
        self._client.close()

    async def read(self, table: Table, address: int, count: int, *, unit: int) -> list[int] | list[bool]:
        """Read ``count`` registers or bits; raises a LinkError subclass on any failure.

        The timeout starts when it is this request's turn on the link, not while it waits."""
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:
            return await self._read(table, address, count, unit=unit)

    async def _read(self, table: Table, address: int, count: int, *, unit: int) -> list[int] | list[bool]:
        if not self._client.connected:
            raise LinkDown("not connected")
        c = self._client
        call: Callable[..., Awaitable[Any]] = {
            "coil": c.read_coils, "discrete_input": c.read_discrete_inputs,
            "holding": c.read_holding_registers, "input": c.read_input_registers,
        }[table]
        try:
            rr = await self._until_lost(call(address, count=count, device_id=unit))
        except TimeoutError as err:
            raise self._lost_or(LinkTimeout(f"no answer within {self.timeout_s}s")) from err
        except ConnectionException as err:
            raise LinkDown(f"connection lost: {err}") from err
        except ModbusException as err:
            # pymodbus reports its own timeout as ModbusIOException("No response received ...")
            text = str(err)
            if "No response" in text:
                raise self._lost_or(LinkTimeout(f"no answer within {self.timeout_s}s")) from err
            raise self._lost_or(BadReply(f"unusable answer: {text}")) from err
        if rr.isError():
            code = int(getattr(rr, "exception_code", 0) or 0)
            raise ExceptionReply(code)
        bits = table in ("coil", "discrete_input")
        values: list[int] | list[bool] = list(rr.bits[:count]) if bits else list(rr.registers)
        if len(values) < count:
            raise BadReply(f"asked for {count} values at {address}, got {len(values)}")
        return values

    async def _until_lost(self, request: Awaitable[Any]) -> Any:
        """Await the answer, but give up as soon as the connection drops, not at the timeout."""
        answer = asyncio.ensure_future(request)
        lost = asyncio.ensure_future(self._lost.wait()) if self._lost else None
        try:
            done, _ = await asyncio.wait([f for f in (answer, lost) if f], timeout=self.timeout_s + 0.5,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            if lost is not None:
                lost.cancel()
        if answer in done:
            return answer.result()
        answer.cancel()
        if lost is not None and lost in done:
            raise LinkDown(f"connection lost ({self._garbled})" if self._garbled else "connection lost")
        raise TimeoutError

    def _lost_or(self, err: LinkError) -> LinkError:
        if self._garbled:
            return LinkDown(f"connection reset after {self._garbled}")
        return err if self._client.connected else LinkDown(f"connection lost ({err})")


_READ_CODES = {1, 2, 3, 4, 0x81, 0x82, 0x83, 0x84}


def _garbage(data: bytes, *, mbap: bool) -> str | None:
    """Why ``data`` (the start of an answer to a read) cannot be Modbus, or None."""
    if mbap:
        if len(data) < 8:
            return None  # wait for the rest
        length = int.from_bytes(data[4:6], "big")
        if data[2:4] != b"\x00\x00" or not 2 <= length <= 254:
            return f"garbled answer (MBAP header {data[:6].hex()})"
        fc = data[7]
    else:
        if len(data) < 2:
            return None
        fc = data[1]
    if fc not in _READ_CODES:
        return f"garbled answer (function code 0x{fc:02X})"
    return None


# --------------------------------------------------------------------------- server side

ReadHook = Callable[[Table, int, int], Awaitable[int | None]]
"""Called before every read with (table, address, count); may sleep (slow device) or return
an exception code to answer with instead of data."""

_FC_TABLE: dict[int, Table] = {1: "coil", 2: "discrete_input", 3: "holding", 4: "input",
                               5: "coil", 15: "coil", 6: "holding", 16: "holding",
                               22: "holding", 23: "holding"}


@dataclass(slots=True)
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
        bits = table in ("coil", "discrete_input")
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


def bits_of_word(word: int) -> list[bool]:
    """Server bit tables are stored 16 to a register, least significant bit first."""
    return [bool(word >> i & 1) for i in range(16)]


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
        raise OSError(f"cannot listen on {serial_port or f'{host}:{port}'}: {err}") from err
    return ServerHandle(server)


__all__ = [
    "GATEWAY_NO_RESPONSE", "ILLEGAL_ADDRESS", "MAX_BITS", "MAX_REGISTERS", "BadReply",
    "ExceptionReply", "LinkDown", "LinkError", "LinkTimeout", "ModbusLink", "SerialParams",
    "ServerHandle", "UnitImage", "start_server",
]
_ = pymodbus.__version__
