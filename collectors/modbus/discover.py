"""Scan a register range of a live device and write a profile skeleton a technician can edit.

    edge-agent discover modbus://192.168.1.10:502?unit=3   (the CLI calls ``discover``)

The scan reads the range in blocks of up to 125 registers (2000 bits); a block the device
refuses with "illegal data address" is bisected, so a device that implements only scattered
registers still yields every readable one. Each readable register becomes a tag, named by its
address, with a guessed type: a register pair that reads as a plausible IEEE-754 float
(high word first, or low word first) becomes one float32 tag; everything else uint16 (int16
when the top bit suggests a small negative number). The description of every tag says what
was read and why the type was guessed, and ``sim`` replays the value read, so the skeleton
also runs in ``device-sim`` as a first stand-in for the device.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collectors.base import CollectorError, DeviceUnreachable
from collectors.modbus.config import parse_endpoint
from collectors.modbus.pymodbus_client import ExceptionReply, LinkError, ModbusLink
from collectors.modbus.standard import (
    BIT_TABLES,
    ILLEGAL_ADDRESS,
    MAX_BITS,
    MAX_REGISTERS,
    UNREACHABLE_CODES,
    Table,
)
from device_profiles.modbus import ModbusProfile

TABLES: dict[str, Table] = {"holding": "holding", "input": "input", "coil": "coil",
                            "discrete_input": "discrete_input", "coils": "coil",
                            "discrete_inputs": "discrete_input"}


async def discover(url: str, *, start: int = 0, count: int = 100, table: str = "holding",
                   timeout_s: float = 2.0) -> dict[str, Any]:
    """Probe ``count`` addresses of ``table`` from ``start``; return a ModbusProfile as a dict.

    Raises DeviceUnreachable when the device cannot be reached and CollectorError when the
    arguments are wrong or nothing in the range is readable.
    """
    tbl = TABLES.get(table)
    if tbl is None:
        raise CollectorError(
            f"discover {url}: table {table!r} is not one of holding, input, coil, discrete_input")
    if not (0 <= start <= 65535 and 1 <= count <= 65536 - start):
        raise CollectorError(f"discover {url}: range start={start} count={count} is outside 0..65535")
    parts = urlsplit(url)
    unit = int(parse_qs(parts.query).get("unit", ["1"])[0])
    endpoint = parse_endpoint(url.split("?", 1)[0], device="discover")
    link = ModbusLink(kind=endpoint.kind, host=endpoint.host, port=endpoint.port,
                      serial_port=endpoint.serial_port, timeout_s=timeout_s)
    try:
        await link.connect()
    except LinkError as err:
        raise DeviceUnreachable(f"discover {url}: {err}") from err
    try:
        found = await _scan(link, tbl, start, count, unit=unit, url=url)
    finally:
        link.close()
    if not found:
        raise CollectorError(f"discover {url}: no readable {table} address in {start}..{start + count - 1}")
    tags = _bit_tags(tbl, found) if tbl in BIT_TABLES else _register_tags(tbl, found)
    host = (endpoint.host or endpoint.serial_port).replace(".", "_").replace("/", "_").strip("_")
    profile = {
        "profile": f"discovered_{host}_{endpoint.port}_u{unit}"[:64],
        "protocol": "modbus",
        "manufacturer": "FILL IN",
        "model": "FILL IN",
        "description": f"Skeleton from a scan of {table} {start}..{start + count - 1}; rename tags, "
                       "check types against the device manual, delete what is not needed.",
        "sources": [f"edge-agent discover {url} on {dt.date.today().isoformat()}",
                    "FILL IN: the vendor manual and section of the register map"],
        "default_interval_ms": 1000,
        "defaults": {"order": "ABCD", "unit_id": unit},
        "tags": tags,
    }
    ModbusProfile.model_validate(profile)  # the skeleton must load as it is
    return profile


async def _scan(link: ModbusLink, table: Table, start: int, count: int, *, unit: int,
                url: str) -> dict[int, int | bool]:
    """Readable address -> value, bisecting refused blocks down to single addresses."""
    block = MAX_BITS if table in BIT_TABLES else MAX_REGISTERS
    todo = [(a, min(block, start + count - a)) for a in range(start, start + count, block)]
    found: dict[int, int | bool] = {}
    while todo:
        addr, n = todo.pop(0)
        try:
            values = await link.read(table, addr, n, unit=unit)
        except ExceptionReply as err:
            if err.code in UNREACHABLE_CODES:
                raise DeviceUnreachable(f"discover {url}: {table} {addr}..{addr + n - 1}: {err}; "
                                        + UNREACHABLE_CODES[err.code].format(unit=unit)) from err
            if err.code == ILLEGAL_ADDRESS and n > 1:
                half = n // 2
                todo[:0] = [(addr, half), (addr + half, n - half)]
            elif err.code != ILLEGAL_ADDRESS:
                raise CollectorError(f"discover {url}: {table} {addr}..{addr + n - 1}: {err}") from err
            continue
        except LinkError as err:
            raise DeviceUnreachable(f"discover {url}: {table} {addr}..{addr + n - 1}: {err}") from err
        found.update({addr + i: v for i, v in enumerate(values)})
    return found


def _plausible_float(hi: int, lo: int) -> float | None:
    value = struct.unpack(">f", struct.pack(">HH", hi, lo))[0]
    if not math.isfinite(value) or value == 0.0 or not 1e-4 <= abs(value) <= 1e9:
        return None
    # a zero high word is a small integer in a 32-bit register, not a float
    if hi == 0 or (lo == 0 and hi < 0x0100):
        return None
    return float(f"{value:.7g}")


def _register_tags(table: Table, found: dict[int, int | bool]) -> list[dict[str, Any]]:
    tags: list[dict[str, Any]] = []
    addr_list = sorted(found)
    i = 0
    while i < len(addr_list):
        a = addr_list[i]
        w = int(found[a])
        nxt = found.get(a + 1)
        if nxt is not None:
            for order, (hi, lo) in (("ABCD", (w, int(nxt))), ("CDAB", (int(nxt), w))):
                f = _plausible_float(hi, lo)
                if f is not None:
                    tags.append({
                        "name": f"{table}_{a}", "table": table, "address": a, "type": "float32",
                        "order": order,
                        "description": f"words 0x{w:04X} 0x{int(nxt):04X} read as float32 {order} = {f}; "
                                       "guessed: check the manual",
                        "sim": {"kind": "constant", "value": f}})
                    break
            else:
                f = None
            if f is not None:
                i += 2
                continue
        signed = w - 0x10000 if w >= 0xFF00 else None
        typ = "int16" if signed is not None else "uint16"
        value = signed if signed is not None else w
        tags.append({"name": f"{table}_{a}", "table": table, "address": a, "type": typ,
                     "description": f"raw 0x{w:04X} = {value} ({typ}, guessed)",
                     "sim": {"kind": "constant", "value": value}})
        i += 1
    return tags


def _bit_tags(table: Table, found: dict[int, int | bool]) -> list[dict[str, Any]]:
    return [{"name": f"{table}_{a}", "table": table, "address": a, "type": "bool",
             "description": f"read {bool(v)}", "sim": {"kind": "constant", "value": bool(v)}}
            for a, v in sorted(found.items())]
