"""Register words -> values, checked against words worked out by hand from the manuals."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.modbus.codec import DecodeError, decode, encode
from common.config_files import ConfigError
from device_profiles.loader import load_profile
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


# "LINE-01 " = 4C 49 4E 45 2D 30 31 20, then NUL padding to the tag's six registers.
LINE01_SPACE = [0x4C49, 0x4E45, 0x2D30, 0x3120, 0x0000, 0x0000]


def test_strings_keep_spaces_and_lose_only_the_nul_padding() -> None:
    assert decode(tag("string", length=6), LINE01_SPACE, order="ABCD") == "LINE-01 "
    assert decode(tag("string", length=6), [0x204C, 0x494E, 0x452D, 0x3031, 0, 0], order="ABCD") == " LINE-01"
    assert decode(tag("string", length=2), [0x2020, 0x2020], order="ABCD") == "    "
    assert decode(tag("string", length=2), [0x0000, 0x4142], order="ABCD") == ""  # ends at the first NUL
    # the simulator writes what it is given, spaces included, and pads with NULs
    assert encode(tag("string", length=6), "LINE-01 ", order="ABCD") == LINE01_SPACE


@pytest.mark.parametrize(("trim", "expect"), [
    ("none", "  A7  "), ("trailing", "  A7"), ("leading", "A7  "), ("both", "A7"),
])
def test_trimming_spaces_is_the_tags_choice(trim: str, expect: str) -> None:
    words = [0x2020, 0x4137, 0x2020, 0x0000]  # "  A7  " and a NUL
    assert decode(tag("string", length=4, trim_spaces=trim), words, order="ABCD") == expect


def test_only_spaces_are_trimmed_not_tabs() -> None:
    # " \tA " = 20 09 41 20: the spaces go, the tab is data
    assert decode(tag("string", length=2, trim_spaces="both"), [0x2009, 0x4120], order="ABCD") == "\tA"


@pytest.mark.parametrize(("tag_text", "hint"), [
    ("{name: a, address: 1, type: uint16, trim_spaces: trailing}", "applies to type string only"),
    ("{name: a, address: 1, type: string, length: 2, trim_spaces: right}", "'trailing'"),
])
def test_a_misplaced_or_misspelt_trim_option_is_named(tmp_path: Path, tag_text: str, hint: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"profile: p\nprotocol: modbus\ntags:\n  - {tag_text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert "tags[0]" in str(info.value) and hint in str(info.value), str(info.value)
