"""What the Modbus specification fixes, whichever library speaks it: the four tables, the
exception codes a device answers with, the largest read, the serial line's parameters.

Shared by the client (`pymodbus_client`), the planner and discover, and the simulators'
server (`simulators.modbus.pymodbus_server`), so neither side redefines the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from device_profiles.modbus import ModbusTable

Table = ModbusTable
BIT_TABLES = ("coil", "discrete_input")
Framing = Literal["socket", "rtu"]  # MBAP (Modbus TCP) or RTU frames on a byte stream

# The ones a reader needs to name; any other code is reported by number.
EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function", 2: "illegal data address", 3: "illegal data value",
    4: "server device failure", 5: "acknowledge", 6: "server device busy",
    8: "memory parity error", 10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
ILLEGAL_ADDRESS = 2
GATEWAY_PATH_UNAVAILABLE = 10
GATEWAY_NO_RESPONSE = 11
# A Modbus TCP gateway answers these on behalf of a device it cannot reach: the TCP link is
# fine, the device is not there. They mean "unreachable" (as a timeout does), not "refused".
UNREACHABLE_CODES: dict[int, str] = {
    GATEWAY_PATH_UNAVAILABLE: "the gateway has no path to unit {unit}: check the unit id and the "
                              "gateway's routing and serial port settings",
    GATEWAY_NO_RESPONSE: "the gateway got no answer from unit {unit}: check the unit id, the "
                         "device's power and its serial line",
}
MAX_REGISTERS = 125  # per read request, by the protocol (FC 3/4)
MAX_BITS = 2000  # per read request, by the protocol (FC 1/2)


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialParams:
    baudrate: int = 19200
    bytesize: int = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1
