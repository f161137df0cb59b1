"""One planned request's answer decoded at once: a ``struct`` format compiled per request.

Turning register answers into samples was the largest cost per point (a call to
`codec.decode` per tag, bytes built word by word, the decimals of the scale worked out every
time). A request whose tags are plain numbers — (u)int16/32/64 and float32/64 without mask
or bit, side by side without overlapping, all big-endian on the wire (``ABCD``, or any order
that does not swap bytes for 16-bit types) or all little-endian (``DCBA``, or a byte swap for
16-bit types) — is decoded by one precompiled ``struct.Struct`` over the whole block, with
padding over the holes, and scaled with figures computed once. Any other request (strings,
BCD, bit fields, word-swapped 32-bit values, mixed orders, overlapping tags) goes tag by tag
through `codec.decode`, which stays the reference: the tests check both give the same values.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from decimal import Decimal

from collectors.modbus.codec import DecodeError, Value, _decimals, decode
from collectors.modbus.planner import Request
from device_profiles.modbus import ModbusTag

_CODE = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
         "float32": "f", "float64": "d"}
_WIDTH = {"h": 1, "H": 1, "i": 2, "I": 2, "q": 4, "Q": 4, "f": 2, "d": 4}

# a tag's finishing step: raw number -> value (scale, offset, exact decimals, finite check)
_Finish = Callable[[int | float], Value]
# integers up to 32 bits: (raw * m + o) / d is exact in integers, one correctly rounded division
_SMALL_INTS = {"h", "H", "i", "I"}


def _endian(tag: ModbusTag, order: str) -> str | None:
    """'>' or '<' when the tag's order is a plain byte order on the wire, else None."""
    if _CODE.get(tag.type) is None or tag.mask is not None or tag.bit is not None:
        return None
    if tag.registers == 1:
        return "<" if order in ("BADC", "DCBA") else ">"
    return {"ABCD": ">", "DCBA": "<"}.get(order)


def _finisher(tag: ModbusTag) -> _Finish | None:
    """None when the raw number is the value (integers, scale 1, offset 0)."""
    return _shared_finisher(tag.type.startswith("float"), tag.scale, tag.offset)


def _linear(scale: float, offset: float) -> tuple[int, int, int] | None:
    """(m, o, d) with ``raw * scale + offset`` rounded to the decimals of scale and offset equal
    to ``(raw * m + o) / d`` for every integer raw of up to 32 bits, or None.

    ``round(raw * scale + offset, digits)`` is the double nearest the decimal the device meant
    (1234567 * 0.01 → 12345.67); so is one true division of exact integers, at a fifth of the
    cost (`round` with digits goes through decimal text). Both agree while the float error of
    ``raw * scale + offset`` stays far below half a unit of the last decimal, which holds for
    32-bit raws with scale and offset of at most 15 significant digits (the tests compare them
    over every 16-bit raw and random 32-bit ones)."""
    digits = max(_decimals(scale), _decimals(offset))
    if digits >= 15:
        return None
    d = 10 ** digits
    m, o = Decimal(repr(scale)).scaleb(digits), Decimal(repr(offset)).scaleb(digits)
    if m != m.to_integral_value() or o != o.to_integral_value():
        return None
    mi, oi = int(m), int(o)
    if abs(mi) * 2**32 + abs(oi) >= 2**53 or d >= 2**53:
        return None
    return mi, oi, d


@functools.cache
def _shared_finisher(is_float: bool, scale: float, offset: float) -> _Finish | None:
    """One function per distinct (kind, scale, offset), shared by every tag that has them:
    ten thousand tags need a handful, not ten thousand closures."""
    if is_float:
        def finite(raw: int | float) -> Value:
            if not math.isfinite(raw):
                raise DecodeError(f"register contents are {raw} (not a finite number)")
            return raw * scale + offset if scale != 1.0 or offset != 0.0 else raw

        return finite
    if scale == 1.0 and offset == 0.0:
        return None
    digits = max(_decimals(scale), _decimals(offset))
    return lambda raw: round(raw * scale + offset, digits)


class BlockDecoder:
    """Decodes one request's registers into one value per tag (in ``req.tags`` order)."""

    def __init__(self, req: Request, order_of: Callable[[ModbusTag], str]) -> None:
        self.req = req
        self._order_of = order_of
        self._struct = self._compile(req, order_of)
        self._words = struct.Struct(f">{req.count}H")
        self.names = [t.name for t in req.tags]
        self._finish = [_finisher(t) for t in req.tags]
        # the common case: every tag of the block a small integer with the same scale and
        # offset (a meter's or a drive's registers), finished in one comprehension
        self._same: tuple[int, int, int] | None = None
        self._raw = False  # every value is its raw number
        first = req.tags[0] if req.tags else None
        if self._struct is not None and first is not None and all(
                _CODE[t.type] in _SMALL_INTS and t.scale == first.scale and t.offset == first.offset
                for t in req.tags):
            if first.scale == 1.0 and first.offset == 0.0:
                self._raw = True
            else:
                self._same = _linear(first.scale, first.offset)

    @staticmethod
    def _compile(req: Request, order_of: Callable[[ModbusTag], str]) -> struct.Struct | None:
        if req.table not in ("holding", "input") or not req.tags:
            return None
        ends = {_endian(t, order_of(t)) for t in req.tags}
        if len(ends) != 1 or None in ends:
            return None
        fmt, at = [ends.pop() or ">"], req.start
        for tag in req.tags:  # the planner keeps them in address order
            if tag.address < at:
                return None  # overlapping tags (bit fields of one word, ...)
            if tag.address > at:
                fmt.append(f"{2 * (tag.address - at)}x")
            code = _CODE[tag.type]
            fmt.append(code)
            at = tag.address + _WIDTH[code]
        if at > req.start + req.count:
            return None
        fmt.append(f"{2 * (req.start + req.count - at)}x" if at < req.start + req.count else "")
        return struct.Struct("".join(fmt))

    @property
    def compiled(self) -> bool:
        return self._struct is not None

    @property
    def infallible(self) -> bool:
        """`values` gives no DecodeError for any answer of the right length (small integers)."""
        return self._raw or self._same is not None

    def values(self, words: list[int]) -> list[Value | DecodeError]:
        """One value per tag, or the DecodeError that tag's registers gave."""
        if self._struct is None:
            return [self._one(tag, words) for tag in self.req.tags]
        try:
            raws = self._struct.unpack(self._words.pack(*words))
        except struct.error:  # not 16-bit words, or not as many as asked: tag by tag
            return [self._one(tag, words) for tag in self.req.tags]
        if self._raw:
            return list(raws)
        if self._same is not None:
            m, o, d = self._same
            return [(r * m + o) / d for r in raws]
        out: list[Value | DecodeError] = []
        for raw, finish, tag in zip(raws, self._finish, self.req.tags, strict=True):
            if finish is None:
                out.append(raw)
                continue
            try:
                out.append(finish(raw))
            except DecodeError as err:
                out.append(DecodeError(f"tag {tag.name}: {err}"))
        return out

    def _one(self, tag: ModbusTag, words: list[int]) -> Value | DecodeError:
        off = tag.address - self.req.start
        try:
            return decode(tag, [int(v) for v in words[off: off + tag.registers]],
                          order=self._order_of(tag))
        except (DecodeError, ValueError, IndexError) as err:
            return DecodeError(f"tag {tag.name}: {err}")
