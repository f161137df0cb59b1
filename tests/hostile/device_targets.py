"""Hostile-input targets on the device side: Modbus register decoding, OPC UA value conversion.
What they produce must be a sample the cloud's wire schema accepts."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from tests.hostile.base import T0, Crash, Outcome, reason_of

# -- Modbus register decoding (collectors.modbus.codec) ---------------------------------------

_MODBUS_TYPES = ["bool", "int16", "uint16", "bcd16", "int32", "uint32", "float32", "bcd32", "int64",
                 "uint64", "float64", "string"]
_FLOATS = st.floats() | st.sampled_from([1.0, 0.1, 0.01, 1e-300, 1e300, -1.0])


@st.composite
def modbus_cases(draw: st.DrawFn) -> tuple[Any, list[int], str]:
    from device_profiles.modbus import ModbusTag

    t = draw(st.sampled_from(_MODBUS_TYPES))
    spec: dict[str, Any] = {"name": "x", "address": 0, "type": t}
    if t == "string":
        spec["length"] = draw(st.integers(1, 8))
        spec["trim_spaces"] = draw(st.sampled_from(["none", "trailing", "leading", "both"]))
    if draw(st.booleans()):
        spec["scale"] = draw(_FLOATS)
    if draw(st.booleans()):
        spec["offset"] = draw(_FLOATS)
    if t not in ("string", "float32", "float64") and draw(st.integers(0, 3)) == 0:
        spec["mask"] = draw(st.integers(0, 2**64 - 1))
    if t == "bool" and draw(st.booleans()):
        spec["bit"] = draw(st.integers(0, 15))
    try:
        tag = ModbusTag.model_validate(spec)
    except ValidationError:
        tag = ModbusTag.model_validate({"name": "x", "address": 0, "type": t, "length": 1})
    words = draw(st.lists(st.integers(0, 0xFFFF), min_size=tag.registers, max_size=tag.registers))
    return tag, words, draw(st.sampled_from(["ABCD", "CDAB", "BADC", "DCBA"]))


def _storable(device: str, tag: str, sample: Any) -> None:
    """The sample as the gateway sends it must be one the cloud's wire schema accepts."""
    from wire.json_v1 import WireSample
    from wire.sample_text import sample_json

    text = sample_json(sample)
    try:
        WireSample.model_validate_json(text)
    except ValidationError as err:
        raise Crash(f"{device}/{tag}: the sample {text[:200]} is refused by the wire schema: {err}") from err


def check_modbus(case: tuple[Any, list[int], str]) -> Outcome:
    from collectors.modbus.codec import DecodeError, decode
    from wire.sample import Sample

    tag, words, order = case
    try:
        value = decode(tag, words, order=order)
    except DecodeError as err:
        return Outcome(False, reason_of(str(err), "modbus")[:20])
    if isinstance(value, float) and not math.isfinite(value):
        raise Crash(f"{tag.type} scale={tag.scale} offset={tag.offset} {words} -> {value}")
    _storable("dev-1", tag.name, Sample("dev-1", tag.name, T0, value, read_ts=T0))
    return Outcome(True, type(value).__name__)


# -- OPC UA value conversion (collectors.opcua.convert) ---------------------------------------

_DATETIMES = st.datetimes(timezones=st.none() | st.timezones())
_UA_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), st.text(max_size=30),
    st.binary(max_size=30), _DATETIMES,
    st.builds(lambda t: type("LocalizedText", (), {"Text": t, "Locale": ""})(),
              st.none() | st.text(max_size=5)))
UA_VALUES = st.recursive(_UA_SCALARS, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


@st.composite
def opcua_values(draw: st.DrawFn) -> Any:
    from collectors.opcua.convert import RawValue, epoch_ms

    return RawValue(value=draw(UA_VALUES), code=draw(st.integers(0, 2**32 - 1)),
                    code_name=draw(st.text(max_size=40) | st.text(min_size=500, max_size=700)),
                    source_ts=epoch_ms(draw(st.none() | _DATETIMES)),
                    server_ts=epoch_ms(draw(st.none() | _DATETIMES)))


def check_opcua(raw: Any) -> Outcome:
    from collectors.opcua.convert import to_sample

    sample = to_sample("dev-1", "ns=2;s=Temp", raw, read_ts=T0)
    _storable("dev-1", "ns=2;s=Temp", sample)
    return Outcome(True, sample.quality.label)
