"""Links shared by the devices of one RS-485 line.

Several devices (unit ids) on one serial port, or behind one serial-to-Ethernet converter
(``rtu+tcp``), must share one connection: a serial port opens only once, and converters
usually accept one TCP client. Collectors of such devices ``acquire`` the same ModbusLink
(reference-counted, keyed by the endpoint) and its lock makes their requests take turns on
the line. Modbus TCP devices keep a connection each: a TCP gateway serves clients in parallel.
The line's timeout is that of the first device that opened it.
"""

from __future__ import annotations

import asyncio

from collectors.modbus.config import Endpoint
from collectors.modbus.pymodbus_client import ModbusLink
from collectors.modbus.standard import SerialParams

_shared: dict[str, tuple[ModbusLink, int]] = {}
_connect_locks: dict[str, asyncio.Lock] = {}


def _key(endpoint: Endpoint) -> str | None:
    if endpoint.kind == "rtu":
        return f"rtu:{endpoint.serial_port}"
    if endpoint.kind == "rtu_tcp":
        return f"rtu_tcp:{endpoint.host}:{endpoint.port}"
    return None


def acquire(endpoint: Endpoint, *, serial: SerialParams, timeout_s: float) -> ModbusLink:
    """The link for ``endpoint``: a new one for TCP, the line's shared one for RTU."""
    key = _key(endpoint)
    if key is not None and key in _shared:
        link, refs = _shared[key]
        _shared[key] = (link, refs + 1)
        return link
    link = ModbusLink(kind=endpoint.kind, host=endpoint.host, port=endpoint.port,
                      serial_port=endpoint.serial_port, serial=serial, timeout_s=timeout_s)
    if key is not None:
        _shared[key] = (link, 1)
    return link


async def connect(endpoint: Endpoint, link: ModbusLink) -> None:
    """Connect unless another device of the line already did."""
    key = _key(endpoint)
    if key is None:
        await link.connect()
        return
    lock = _connect_locks.setdefault(key, asyncio.Lock())
    async with lock:
        if not link.connected:
            await link.connect()


def release(endpoint: Endpoint, link: ModbusLink) -> None:
    """Drop one user; the last one closes the link."""
    key = _key(endpoint)
    if key is None or key not in _shared:
        link.close()
        return
    shared, refs = _shared[key]
    if shared is not link:  # a stale link from before a line reset: just close it
        link.close()
        return
    if refs <= 1:
        del _shared[key]
        link.close()
    else:
        _shared[key] = (shared, refs - 1)


def shared_users(endpoint: Endpoint) -> int:
    key = _key(endpoint)
    return _shared[key][1] if key is not None and key in _shared else 0
