"""The block decoder gives exactly what `codec.decode` gives tag by tag (the reference, itself
checked against hand-computed words in test_codec.py), for every type, order, scale and
offset, whether it compiles the request into one struct format or falls back."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from collectors.modbus.block import BlockDecoder
from collectors.modbus.codec import DecodeError, decode
from collectors.modbus.planner import Limits, Plan
from tests.collectors.modbus.helpers import make_profile

NUMBERS = ["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4, "float32": 2,
         "float64": 4}


def _tags(types: list[str], *, gap: int = 0, **extra: Any) -> list[dict[str, Any]]:
    tags, at = [], 0
    for i, t in enumerate(types):
        tags.append({"name": f"t{i}", "table": "holding", "address": at, "type": t, **extra})
        at += WIDTH.get(t, 1) + gap
    return tags


def _check(tags: list[dict[str, Any]], *, order: str = "ABCD", seed: int = 0,
           words: list[int] | None = None) -> BlockDecoder:
    prof = make_profile(tags, defaults={"order": order})
    plan = Plan.build(prof.tags, limits=Limits(max_gap_registers=10))
    assert len(plan.requests) == 1
    [req] = plan.requests
    rnd = random.Random(seed)
    for _ in range(20):
        ws = words if words is not None else [rnd.randrange(65536) for _ in range(req.count)]
        dec = BlockDecoder(req, prof.order_of)
        got = dec.values(ws)
        for tag, value in zip(req.tags, got, strict=True):
            off = tag.address - req.start
            try:
                want: Any = decode(tag, ws[off: off + tag.registers], order=prof.order_of(tag))
            except DecodeError as err:
                assert isinstance(value, DecodeError) and str(value) == f"tag {tag.name}: {err}"
                continue
            if isinstance(want, float) and want != want:  # NaN never reaches here: it raises
                raise AssertionError("decode returned NaN")
            assert value == want and type(value) is type(want), (tag.name, value, want)
    return dec


@pytest.mark.parametrize("order", ["ABCD", "DCBA"])
@pytest.mark.parametrize("scaled", [{}, {"scale": 0.01}, {"scale": 0.1, "offset": -40.0}, {"offset": 3.5}])
def test_plain_numbers_compile_into_one_format_and_match_decode(order: str, scaled: dict[str, float]) -> None:
    # floats from random words are often NaN or infinite: those come back as the same error
    dec = _check(_tags(NUMBERS * 3, gap=0, **scaled), order=order)
    assert dec.compiled


def test_holes_between_tags_are_skipped() -> None:
    assert _check(_tags(["uint16", "float32", "int32"] * 4, gap=3)).compiled


def test_sixteen_bit_tags_of_a_byte_swapping_order_compile_little_endian() -> None:
    assert _check(_tags(["int16", "uint16"] * 8), order="BADC").compiled


@pytest.mark.parametrize(("tags", "order"), [
    (_tags(["float32", "uint32"]), "CDAB"),                     # word swap: no struct code
    (_tags(["float32", "int64"]), "BADC"),                      # byte swap inside words
    (_tags(["uint16", "bcd16", "uint16"]), "ABCD"),             # BCD
    (_tags(["uint16", "uint16"], mask=0x0FF0), "ABCD"),         # bit fields
    ([{"name": "s", "table": "holding", "address": 0, "type": "string", "length": 4},
      {"name": "n", "table": "holding", "address": 4, "type": "uint16"}], "ABCD"),
    ([{"name": "lo", "table": "holding", "address": 0, "type": "uint16", "mask": 0x00FF},
      {"name": "hi", "table": "holding", "address": 0, "type": "uint16", "mask": 0xFF00}], "ABCD"),
])
def test_anything_else_falls_back_to_decode_tag_by_tag(tags: list[dict[str, Any]], order: str) -> None:
    assert not _check(tags, order=order).compiled


def test_a_non_finite_float_is_the_same_error_as_decode_gives() -> None:
    nan = list(struct.unpack(">2H", struct.pack(">f", float("nan"))))
    dec = _check(_tags(["float32", "uint16"]), words=[*nan, 7])
    [bad, good] = dec.values([*nan, 7])
    assert isinstance(bad, DecodeError) and "not a finite number" in str(bad) and good == 7


def test_words_of_the_wrong_kind_fall_back_instead_of_failing() -> None:
    prof = make_profile(_tags(["uint16", "uint16"]))
    [req] = Plan.build(prof.tags, limits=Limits()).requests
    want = [decode(t, [w], order="ABCD") for t, w in zip(req.tags, [1, 70000], strict=True)]
    assert BlockDecoder(req, prof.order_of).values([1, 70000]) == want == [1, 70000 & 0xFFFF]


@pytest.mark.parametrize("scaled", [{"scale": 0.1}, {"scale": 0.01}, {"scale": 0.001, "offset": -40.0},
                                    {"scale": 0.5}, {"scale": 2.5, "offset": 0.25}, {"scale": 3.3},
                                    {"offset": 273.15}, {"scale": 0.0001, "offset": 1.5},
                                    {"scale": 12.34567}])
@pytest.mark.parametrize("kind", ["int16", "uint16"])
def test_a_block_of_one_scaling_is_exact_like_decode_for_every_16_bit_raw(
        kind: str, scaled: dict[str, float]) -> None:
    # the block's one division, (raw * m + o) / d, against codec's round(raw * scale + offset)
    # for all 65,536 words, 125 a request as the planner makes them
    tags = _tags([kind] * 125, gap=0, **scaled)
    prof = make_profile(tags, defaults={"order": "ABCD"})
    [req] = Plan.build(prof.tags, limits=Limits()).requests
    dec = BlockDecoder(req, prof.order_of)
    assert dec.infallible
    for start in range(0, 65536, 125):
        ws = [(start + i) % 65536 for i in range(125)]
        got = dec.values(ws)
        want = [decode(t, [w], order="ABCD") for t, w in zip(req.tags, ws, strict=True)]
        assert got == want and all(type(g) is type(w) for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize("scaled", [{"scale": 0.1}, {"scale": 0.001, "offset": -40.0}, {"scale": 0.25}])
@pytest.mark.parametrize("kind", ["int32", "uint32"])
def test_a_block_of_one_scaling_is_exact_like_decode_for_32_bit_raws(
        kind: str, scaled: dict[str, float]) -> None:
    tags = _tags([kind] * 60, gap=0, **scaled)
    dec = _check(tags, seed=7)
    assert dec.infallible
    # the extremes, where the float error of raw * scale is largest
    _check(tags, words=[0xFFFF, 0xFFFF, 0x7FFF, 0xFFFF, 0x8000, 0x0000, 0x0000, 0x0001] * 15)


def test_mixed_scalings_or_floats_take_the_tag_by_tag_finish() -> None:
    other = {"name": "x", "table": "holding", "address": 2, "type": "int16", "scale": 0.5}
    assert not _check([*_tags(["int16", "uint16"], scale=0.1), other]).infallible
    assert not _check(_tags(["float32"] * 4, scale=0.1)).infallible
    assert not _check(_tags(["int64"] * 2, scale=0.1)).infallible
    assert not _check(_tags(["int16"] * 4, scale=1e-06)).infallible  # 15 decimals: round() it is
