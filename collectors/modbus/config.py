"""Where a Modbus device is and how to talk to it: endpoint URL plus per-device options.

Endpoints::

    tcp://192.168.1.10:502            Modbus TCP (MBAP framing)
    rtu+tcp://192.168.1.20:4001       RTU frames through a serial-to-Ethernet converter
    rtu:///dev/ttyUSB0?baudrate=9600&parity=E     RTU on a local RS-485 port

``DeviceConfig.options`` may tune request planning and the serial line; they are validated
here so a typo fails at start-up with the device id and the field named, not at 3 a.m.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collectors.base import CollectorError
from collectors.modbus.planner import Limits
from collectors.modbus.standard import MAX_BITS, MAX_REGISTERS, SerialParams
from common.config_files import describe_errors
from device_profiles.device import DeviceConfig


class ModbusOptions(BaseModel):
    """Per-device options (``options:`` of a device in the gateway config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_gap_registers: int | None = Field(None, ge=0, le=MAX_REGISTERS)
    max_block_registers: int | None = Field(None, ge=1, le=MAX_REGISTERS)
    max_gap_bits: int | None = Field(None, ge=0, le=MAX_BITS)
    max_block_bits: int | None = Field(None, ge=1, le=MAX_BITS)
    reprobe_polls: int = Field(
        600, ge=1, description="re-try addresses the device refused after this many polls")
    baudrate: int = Field(19200, ge=300, le=921600)
    bytesize: int = Field(8, ge=7, le=8)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = Field(1, ge=1, le=2)


@dataclass(frozen=True, slots=True)
class Endpoint:
    kind: Literal["tcp", "rtu_tcp", "rtu"]
    _: KW_ONLY
    host: str = ""
    port: int = 502
    serial_port: str = ""
    query: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return self.serial_port if self.kind == "rtu" else f"{self.host}:{self.port}"


_SCHEMES = {"tcp": "tcp", "modbus": "tcp", "modbus+tcp": "tcp", "rtu+tcp": "rtu_tcp",
            "rtu-over-tcp": "rtu_tcp", "rtu": "rtu", "serial": "rtu"}


def parse_endpoint(url: str, *, device: str) -> Endpoint:
    parts = urlsplit(url)
    kind = _SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise CollectorError(
            f"device {device}: endpoint {url!r} has scheme {parts.scheme!r}; "
            "use tcp://host:port, rtu+tcp://host:port or rtu:///dev/ttyUSB0"
        )
    query = tuple(parse_qsl(parts.query))
    if kind == "rtu":
        path = parts.path or parts.netloc
        if not path:
            raise CollectorError(f"device {device}: endpoint {url!r} names no serial port")
        return Endpoint("rtu", serial_port=path, query=query)
    try:
        port = parts.port or 502
    except ValueError as err:
        raise CollectorError(f"device {device}: endpoint {url!r}: bad port ({err})") from err
    if not parts.hostname:
        raise CollectorError(f"device {device}: endpoint {url!r} names no host")
    return Endpoint(kind, host=parts.hostname, port=port, query=query)  # type: ignore[arg-type]


def parse_options(device: DeviceConfig, *, extra: dict[str, Any] | None = None) -> ModbusOptions:
    data = {**device.options, **(extra or {})}
    try:
        return ModbusOptions.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(describe_errors(err, prefix="options", noun="option",
                                             fields=list(ModbusOptions.model_fields)))
        raise CollectorError(f"device {device.id}: invalid Modbus options: {problems}") from err


def limits_of(opts: ModbusOptions, *, defaults: Limits | None = None) -> Limits:
    b = defaults or Limits()
    o = opts
    return Limits(
        max_gap_registers=b.max_gap_registers if o.max_gap_registers is None else o.max_gap_registers,
        max_block_registers=o.max_block_registers or b.max_block_registers,
        max_gap_bits=b.max_gap_bits if o.max_gap_bits is None else o.max_gap_bits,
        max_block_bits=o.max_block_bits or b.max_block_bits,
    )


def serial_of(opts: ModbusOptions) -> SerialParams:
    return SerialParams(baudrate=opts.baudrate, bytesize=opts.bytesize, parity=opts.parity,
                        stopbits=opts.stopbits)
