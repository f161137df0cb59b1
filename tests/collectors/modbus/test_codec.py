"""Register words -> values, checked against words worked out by hand from the manuals."""

from __future__ import annotations

import pytest

from collectors.modbus.codec import DecodeError, decode, encode
from device_profiles.modbus import ModbusTag


def tag(type: str, **kw: object) -> ModbusTag:
    return ModbusTag.model_validate({"name": "t", "address": 0, "type": type, **kw})


# 0x41200000 is 10.0 in IEEE-754 single precision; 0x4024000000000000 is 10.0 double.
@pytest.mark.parametrize(("order", "words"), [
    ("ABCD", [0x4120, 0x0000]), ("CDAB", [0x0000, 0x4120]),
    ("BADC", [0x2041, 0x0000]), ("DCBA", [0x0000, 0x2041]),
])
def test_float32_in_four_orders(order: str, words: list[int]) -> None:
    assert decode(tag("float32"), words, order=order) == 10.0
    assert encode(tag("float32"), 10.0, order=order) == words


@pytest.mark.parametrize(("order", "words"), [
    ("ABCD", [0x1122, 0x3344, 0x5566, 0x7788]), ("CDAB", [0x7788, 0x5566, 0x3344, 0x1122]),
    ("BADC", [0x2211, 0x4433, 0x6655, 0x8877]), ("DCBA", [0x8877, 0x6655, 0x4433, 0x2211]),
])
def test_uint64_in_four_orders(order: str, words: list[int]) -> None:
    assert decode(tag("uint64"), words, order=order) == 0x1122334455667788
    assert encode(tag("uint64"), 0x1122334455667788, order=order) == words


def test_signed_scale_offset_mask_bit_bcd_string() -> None:
    assert decode(tag("int16", scale=0.1), [0xFF85], order="ABCD") == -12.3
    assert decode(tag("int32"), [0xFFFF, 0xFFFE], order="ABCD") == -2
    assert decode(tag("uint32", scale=0.01), [0x0012, 0xD687], order="ABCD") == 12345.67
    assert decode(tag("uint16", offset=-40), [100], order="ABCD") == 60
    assert decode(tag("uint16", mask=0x00F0), [0x1234], order="ABCD") == 3
    assert decode(tag("bool", bit=3), [0b1000], order="ABCD") is True
    assert decode(tag("bool", bit=2), [0b1000], order="ABCD") is False
    assert decode(tag("bcd16"), [0x1234], order="ABCD") == 1234
    assert decode(tag("bcd32"), [0x0001, 0x2345], order="ABCD") == 12345
    assert decode(tag("string", length=3), [0x4142, 0x4344, 0x4500], order="ABCD") == "ABCDE"
    assert decode(tag("string", length=2), [0x4241, 0x4443], order="BADC") == "ABCD"
    with pytest.raises(DecodeError, match="not BCD"):
        decode(tag("bcd16"), [0x12A4], order="ABCD")
    with pytest.raises(DecodeError, match="finite"):
        decode(tag("float32"), [0x7FC0, 0x0000], order="ABCD")


def test_encoder_keeps_other_bits_of_a_shared_register() -> None:
    assert encode(tag("bool", bit=0), True, order="ABCD", current=[0b1000]) == [0b1001]
    assert encode(tag("bool", bit=3), False, order="ABCD", current=[0b1001]) == [0b0001]
    assert encode(tag("uint16", mask=0xFF00), 0x12, order="ABCD", current=[0x0034]) == [0x1234]
    assert encode(tag("int16", scale=0.1), -99999, order="ABCD") == [0x8000]  # clamped
