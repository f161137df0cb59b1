"""From what an OPC UA server reports to our one Sample type: values, quality, timestamps.

How OPC UA types are stored (``Sample.value`` is a number, bool or string):
  Boolean -> bool; SByte..UInt64 -> int; Float, Double -> float (NaN/Inf -> None, uncertain);
  String -> str; DateTime -> ISO 8601 UTC string with milliseconds ("2025-03-01T08:00:00.000Z");
  ByteString -> lowercase hex string; LocalizedText -> its text; NodeId/QualifiedName -> string
  notation; arrays (one or more dimensions) -> a JSON array string of the converted elements,
  e.g. "[1.5,2.0,null]", so one tag stays one sample and the array stays intact.
Quality comes from the top two bits of the StatusCode (Part 4, 7.39): 00 good, 01 uncertain,
1x bad; the full 32-bit code is kept in ``Sample.code`` and its name in ``Sample.reason``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from wire.json_v1 import EPOCH_MS_LIMIT
from wire.sample import Quality, Sample, Value

# Codes we emit ourselves (OPC UA Part 4 / Opc.Ua.StatusCodes.csv).
BAD_NOT_CONNECTED = 0x808A0000
BAD_NODE_ID_UNKNOWN = 0x80340000
BAD_NO_COMMUNICATION = 0x80310000


@dataclass(frozen=True, slots=True, kw_only=True)
class RawValue:
    """One DataValue as the boundary module hands it over, free of library types."""

    value: Any
    code: int
    code_name: str
    source_ts: int | None
    server_ts: int | None


def quality_of(code: int) -> Quality:
    severity = (code >> 30) & 0b11
    if severity == 0:
        return Quality.GOOD
    if severity == 1:
        return Quality.UNCERTAIN
    return Quality.BAD


def epoch_ms(t: dt.datetime | None) -> int | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    ms = int(t.timestamp() * 1000)
    # DateTime.MinValue means "not given", and so do MaxValue and the far future a server with
    # a broken clock reports: a timestamp the wire cannot carry would cost the whole batch
    return ms if 0 < ms < EPOCH_MS_LIMIT else None


def _scalar(v: Any) -> Any:
    """JSON-able form of one element; types the library hands us beyond the built-ins are
    turned into their string notation so an unusual server never crashes the cycle."""
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dt.datetime):
        t = v if v.tzinfo else v.replace(tzinfo=dt.UTC)
        return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(v, bytes | bytearray):
        return bytes(v).hex()
    text = getattr(v, "Text", None)  # LocalizedText
    if isinstance(text, str) or (text is None and hasattr(v, "Locale")):
        return text
    to_string = getattr(v, "to_string", None)
    if callable(to_string):
        return str(to_string())
    return str(v)


def to_value(v: Any) -> tuple[Value, bool]:
    """(stored value, lossless) — lossless is False when a float was NaN/Inf."""
    if isinstance(v, list | tuple):
        return json.dumps([_nested(x) for x in v], separators=(",", ":")), True
    out = _scalar(v)
    return out, not (isinstance(v, float) and out is None)


def _nested(v: Any) -> Any:
    return [_nested(x) for x in v] if isinstance(v, list | tuple) else _scalar(v)


def to_sample(device: str, tag: str, raw: RawValue, *, read_ts: int) -> Sample:
    """The sample for one notification or read result; the server's source timestamp wins."""
    ts = raw.source_ts or raw.server_ts or read_ts
    quality = quality_of(raw.code)
    if quality is Quality.BAD:
        return Sample(device, tag, ts, None, quality, read_ts, raw.code, raw.code_name)
    value, lossless = to_value(raw.value)
    reason = None if quality is Quality.GOOD else raw.code_name
    if not lossless:
        quality, reason = Quality.UNCERTAIN, "non-finite float (NaN or Inf) stored as null"
    return Sample(device, tag, ts, value, quality, read_ts, raw.code, reason)
