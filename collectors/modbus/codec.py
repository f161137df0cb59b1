"""Register words <-> engineering values, for every type and byte/word order in a profile.

Order names follow the vendor manuals: for a 32-bit value with bytes A (most significant)
to D, ``ABCD`` is big-endian on the wire, ``CDAB`` swaps the two words (common on meters),
``BADC`` swaps bytes inside each word, ``DCBA`` is fully little-endian. 64-bit types extend
the same rule (word order reversed and/or bytes swapped inside words); 16-bit types only
care about the byte swap. Strings are bytes in register order, byte-swapped for BADC/DCBA;
the text ends at the first NUL (the padding of the register block) and keeps its spaces,
unless the tag's ``trim_spaces`` says to remove leading, trailing or both.

``mask`` extracts a bit field from the unsigned raw integer and shifts it down to bit 0
(``0x00F0`` on ``0x1234`` gives ``3``), so a status word can feed several tags.
Engineering value = raw * scale + offset; integers stay integers when scale is 1 and
offset 0, so counters keep their exact value.

The decoder is used by the collector, the encoder by the simulator; tests check both
against hand-computed register words, never one against the other.
"""

from __future__ import annotations

import math
import struct

from device_profiles.modbus import ModbusTag

Value = float | int | bool | str


class DecodeError(ValueError):
    """Register contents that cannot be a value of the tag's type (for example bad BCD)."""


_INT_BITS = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}
_FLOAT_FMT = {"float32": ">f", "float64": ">d"}


def words_to_bytes(words: list[int], order: str) -> bytes:
    """Wire register words -> bytes, most significant first."""
    swap_bytes = order in ("BADC", "DCBA")
    swap_words = order in ("CDAB", "DCBA") and len(words) > 1
    seq = reversed(words) if swap_words else words
    out = bytearray()
    for w in seq:
        hi, lo = (w >> 8) & 0xFF, w & 0xFF
        out += bytes((lo, hi)) if swap_bytes else bytes((hi, lo))
    return bytes(out)


def bytes_to_words(data: bytes, order: str) -> list[int]:
    """Inverse of words_to_bytes: canonical bytes -> wire register words."""
    swap_bytes = order in ("BADC", "DCBA")
    words = []
    for i in range(0, len(data), 2):
        hi, lo = data[i], data[i + 1]
        words.append((lo << 8 | hi) if swap_bytes else (hi << 8 | lo))
    if order in ("CDAB", "DCBA") and len(words) > 1:
        words.reverse()
    return words


def _trim(text: str, how: str) -> str:
    """Spaces are data unless the profile says otherwise: a device holding ``"LINE-01 "``
    means the space (a fixed-width code, a key another system matches on)."""
    if how == "trailing":
        return text.rstrip(" ")
    if how == "leading":
        return text.lstrip(" ")
    if how == "both":
        return text.strip(" ")
    return text


def _mask_shift(mask: int) -> int:
    return (mask & -mask).bit_length() - 1 if mask else 0


def _bcd_to_int(raw: int, digits: int) -> int:
    out = 0
    for i in reversed(range(digits)):
        nib = (raw >> (4 * i)) & 0xF
        if nib > 9:
            raise DecodeError(f"0x{raw:0{digits}X} is not BCD (digit {nib:X})")
        out = out * 10 + nib
    return out


def _int_to_bcd(value: int, digits: int) -> int:
    value = max(0, min(int(value), 10**digits - 1))
    out = 0
    for i, ch in enumerate(reversed(f"{value:0{digits}d}")):
        out |= int(ch) << (4 * i)
    return out


def _decimals(x: float) -> int:
    text = repr(float(x))
    if "e" in text or "E" in text:
        return 15
    return len(text.partition(".")[2].rstrip("0"))


def _scaled(raw: int | float, tag: ModbusTag) -> float | int:
    if tag.scale == 1.0 and tag.offset == 0.0:
        return raw
    value = raw * tag.scale + tag.offset
    if not math.isfinite(value):  # a huge raw value times a large scale
        raise DecodeError(f"{raw!r} * scale {tag.scale} + offset {tag.offset} is not a finite number; "
                          "check the tag's type, scale and word order in the profile")
    if isinstance(raw, int):
        # 1234567 * 0.01 is 12345.670000000002 in binary floating point; the device meant
        # 12345.67, so keep only the decimals that scale and offset can produce.
        return round(value, max(_decimals(tag.scale), _decimals(tag.offset)))
    return value


def decode(tag: ModbusTag, words: list[int], *, order: str) -> Value:
    """Decode the tag's registers (exactly ``tag.registers`` words) into its value."""
    t = tag.type
    if t == "string":
        raw_bytes = words_to_bytes(words, "BADC" if order in ("BADC", "DCBA") else "ABCD")
        return _trim(raw_bytes.split(b"\x00", 1)[0].decode("latin-1"), tag.trim_spaces)
    data = words_to_bytes(words, order)
    if t == "bool":
        raw = int.from_bytes(data, "big")
        if tag.bit is not None:
            return bool(raw >> tag.bit & 1)
        return bool(raw & tag.mask) if tag.mask is not None else raw != 0
    if t in _FLOAT_FMT:
        value = struct.unpack(_FLOAT_FMT[t], data)[0]
        if not math.isfinite(value):
            raise DecodeError(f"register contents are {value} (not a finite number)")
        return _scaled(value, tag)
    unsigned = int.from_bytes(data, "big")
    if tag.mask is not None:
        unsigned = (unsigned & tag.mask) >> _mask_shift(tag.mask)
    if t in ("bcd16", "bcd32"):
        return _scaled(_bcd_to_int(unsigned, 4 if t == "bcd16" else 8), tag)
    bits = _INT_BITS[t]
    raw = unsigned
    if t.startswith("int") and tag.mask is None and raw >= 1 << (bits - 1):
        raw -= 1 << bits
    return _scaled(raw, tag)


def _int_range(tag: ModbusTag) -> tuple[int, int]:
    if tag.mask is not None:
        return 0, tag.mask >> _mask_shift(tag.mask)
    if tag.type == "bcd16":
        return 0, 9999
    if tag.type == "bcd32":
        return 0, 99_999_999
    bits = _INT_BITS[tag.type]
    if tag.type.startswith("int"):
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def to_raw(tag: ModbusTag, value: float | int) -> int | float:
    """Engineering value -> raw number: (value - offset) / scale, rounded and clamped to the
    type's range for integers, so a generator that wanders off range saturates like a real
    transmitter instead of wrapping around."""
    if isinstance(value, int) and tag.scale == 1.0 and tag.offset == 0.0 and tag.type not in _FLOAT_FMT:
        lo, hi = _int_range(tag)
        return max(lo, min(hi, value))  # exact: 64-bit counters do not fit a float
    raw = (float(value) - tag.offset) / (tag.scale or 1.0)
    if tag.type in _FLOAT_FMT:
        return raw
    lo, hi = _int_range(tag)
    return max(lo, min(hi, round(raw)))


def encode(tag: ModbusTag, value: Value, *, order: str, current: list[int] | None = None) -> list[int]:
    """Engineering value -> register words, for the simulator.

    ``current`` is the register's present content, needed when the tag owns only some bits
    of it (``bit`` or ``mask``): the other bits are kept, as other tags may own them.
    """
    n = tag.registers
    t = tag.type
    if t == "string":
        data = str(value).encode("latin-1", "replace")[: 2 * n].ljust(2 * n, b"\x00")
        return bytes_to_words(data, "BADC" if order in ("BADC", "DCBA") else "ABCD")
    cur = int.from_bytes(words_to_bytes(current, order), "big") if current else 0
    if t == "bool":
        if tag.bit is not None:
            raw = (cur | 1 << tag.bit) if value else (cur & ~(1 << tag.bit))
        elif tag.mask is not None:
            raw = (cur | tag.mask) if value else (cur & ~tag.mask)
        else:
            raw = 1 if value else 0
        return bytes_to_words(raw.to_bytes(2 * n, "big"), order)
    if isinstance(value, str):
        raise TypeError(f"tag {tag.name}: cannot encode text {value!r} as {t}")
    if t in _FLOAT_FMT:
        return bytes_to_words(struct.pack(_FLOAT_FMT[t], to_raw(tag, float(value))), order)
    raw_i = int(to_raw(tag, value))
    if t in ("bcd16", "bcd32"):
        raw_i = _int_to_bcd(raw_i, 4 if t == "bcd16" else 8)
    bits = 16 * n
    if tag.mask is not None:
        shift = _mask_shift(tag.mask)
        raw_i = (cur & ~tag.mask) | ((raw_i << shift) & tag.mask)
    raw_i &= (1 << bits) - 1
    return bytes_to_words(raw_i.to_bytes(2 * n, "big"), order)
