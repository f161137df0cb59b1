"""Turn a generator's engineering value into the OPC UA type a tag declares.

Kept free of asyncua so the conversions are unit-testable: integers are rounded and clamped
to their width (a ramp past 255 on a Byte saturates instead of crashing the server), strings
and booleans take the obvious form, DateTime nodes serve the current time unless the
generator gives a number of epoch seconds, and ByteString nodes serve the value's big-endian
bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from device_profiles.opcua import OpcUaTag
from simulators.generators import Generator, make_generator

INT_RANGE: dict[str, tuple[int, int]] = {
    "SByte": (-(2**7), 2**7 - 1),
    "Byte": (0, 2**8 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "UInt16": (0, 2**16 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt32": (0, 2**32 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt64": (0, 2**64 - 1),
}


def coerce(type_: str, v: float | int | bool | str, *, now: dt.datetime) -> Any:
    if type_ == "Boolean":
        return (
            v if isinstance(v, bool) else (v.lower() in ("1", "true", "on") if isinstance(v, str) else v != 0)
        )
    if type_ in INT_RANGE:
        lo, hi = INT_RANGE[type_]
        try:
            n = round(float(v))
        except ValueError:
            n = 0
        return min(hi, max(lo, n))
    if type_ in ("Float", "Double"):
        try:
            return float(v)
        except ValueError:
            return 0.0
    if type_ == "String":
        return v if isinstance(v, str) else (f"{v:g}" if isinstance(v, float) else str(v))
    if type_ == "DateTime":
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
            return dt.datetime.fromtimestamp(float(v), dt.UTC)
        return now
    if type_ == "ByteString":
        if isinstance(v, str):
            return v.encode()
        n = round(float(v)) & 0xFFFFFFFF
        return n.to_bytes(4, "big")
    raise ValueError(f"unknown OPC UA type {type_}")


def tag_source(tag: OpcUaTag, *, seed: int) -> Callable[[float, dt.datetime], Any]:
    """f(elapsed seconds, now) -> typed value (a list for array tags; each element its own
    generator stream, so arrays are not n copies of one number)."""
    n = tag.array_length
    gens: list[Generator] = [make_generator(tag.sim, seed=seed + i) for i in range(n or 1)]
    if n is None:
        g = gens[0]
        return lambda t, now: coerce(tag.type, g(t), now=now)
    return lambda t, now: [coerce(tag.type, g(t), now=now) for g in gens]
