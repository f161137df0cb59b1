"""Every Sparkplug datatype → the stored value, and the values refused with the metric named.

Payloads here are built with the protobuf classes directly (as any encoder would lay them out,
including the ones Tahu's JavaScript codec does not write: the packed array types)."""

from __future__ import annotations

import json
import struct

import pytest

from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.values import UnsupportedValue, iso_ms, value


def metric(datatype: int, **field: object) -> pb.Payload.Metric:
    return pb.Payload.Metric(name="m", datatype=datatype, **field)  # type: ignore[arg-type]


@pytest.mark.parametrize(("datatype", "field", "expected"), [
    (pb.Int8, {"int_value": (1 << 32) - 128}, -128),        # two's complement in 32 bits (spec)
    (pb.Int8, {"int_value": 0x80}, -128),                    # ... or in the type's own 8 bits
    (pb.Int8, {"int_value": 127}, 127),
    (pb.Int16, {"int_value": 0xFFFF8000}, -32768),
    (pb.Int16, {"int_value": 0x8000}, -32768),
    (pb.Int32, {"int_value": 0x80000000}, -(2**31)),
    (pb.Int32, {"long_value": (1 << 64) - 5}, -5),            # sign-extended into long_value
    (pb.Int64, {"long_value": 1 << 63}, -(2**63)),
    (pb.Int64, {"long_value": 2**63 - 1}, 2**63 - 1),
    (pb.UInt8, {"int_value": 255}, 255),
    (pb.UInt16, {"int_value": 65535}, 65535),
    (pb.UInt32, {"int_value": 2**32 - 1}, 2**32 - 1),
    (pb.UInt32, {"long_value": 2**32 - 1}, 2**32 - 1),        # where Tahu's JavaScript puts it
    (pb.UInt64, {"long_value": 2**64 - 1}, 2**64 - 1),
    (pb.UInt64, {"long_value": 4632251081920692269}, 4632251081920692269),
    (pb.Float, {"float_value": 3.14}, struct.unpack("<f", struct.pack("<f", 3.14))[0]),
    (pb.Double, {"double_value": 0.1}, 0.1),
    (pb.Boolean, {"boolean_value": False}, False),
    (pb.String, {"string_value": "LINE-01 "}, "LINE-01 "),
    (pb.Text, {"string_value": "两行\n文本"}, "两行\n文本"),
    (pb.UUID, {"string_value": "4a2f6c1e-9b3d-4e8a"}, "4a2f6c1e-9b3d-4e8a"),
    (pb.DateTime, {"long_value": 1764403200123}, "2025-11-29T08:00:00.123Z"),
    (pb.Bytes, {"bytes_value": b"\x00\x01\xff"}, "AAH/"),
    (pb.File, {"bytes_value": b"a,b\n"}, "YSxiCg=="),
    (pb.Double, {"int_value": 7}, 7),                        # another field than the type's: as sent
    (pb.Unknown, {"long_value": 2**64 - 1}, 2**64 - 1),       # no datatype at all: by the field
], ids=lambda x: str(x) if not isinstance(x, dict) else next(iter(x)))
def test_every_scalar_datatype(datatype: int, field: dict[str, object], expected: object) -> None:
    got = value(metric(datatype, **field), datatype, "m")
    assert got == expected and type(got) is type(expected)


def test_null_and_absent_values_are_none() -> None:
    assert value(metric(pb.Double, is_null=True), pb.Double, "m") is None
    assert value(metric(pb.Int32), pb.Int32, "m") is None


@pytest.mark.parametrize(("datatype", "raw", "expected"), [
    (pb.Int8Array, struct.pack("<3b", -1, 0, 127), [-1, 0, 127]),
    (pb.Int16Array, struct.pack("<2h", -32768, 5), [-32768, 5]),
    (pb.Int32Array, struct.pack("<2i", -(2**31), 1), [-(2**31), 1]),
    (pb.Int64Array, struct.pack("<2q", -(2**63), 2**63 - 1), [-(2**63), 2**63 - 1]),
    (pb.UInt8Array, bytes([0, 255]), [0, 255]),
    (pb.UInt16Array, struct.pack("<H", 65535), [65535]),
    (pb.UInt32Array, struct.pack("<I", 2**32 - 1), [2**32 - 1]),
    (pb.UInt64Array, struct.pack("<Q", 2**64 - 1), [2**64 - 1]),
    (pb.FloatArray, struct.pack("<2f", 1.5, float("nan")), [1.5, "nan"]),
    (pb.DoubleArray, struct.pack("<d", 0.1), [0.1]),
    # the specification's own example: 12 booleans, count then bits, most significant first
    (pb.BooleanArray, struct.pack("<I", 12) + bytes([0x34, 0xD0]),
     [False, False, True, True, False, True, False, False, True, True, False, True]),
    (pb.StringArray, b"ABC\x00hello\x00", ["ABC", "hello"]),
    (pb.DateTimeArray, struct.pack("<q", 1764403200000), ["2025-11-29T08:00:00.000Z"]),
])
def test_packed_arrays_become_json_lists(datatype: int, raw: bytes, expected: list[object]) -> None:
    got = value(metric(datatype, bytes_value=raw), datatype, "m")
    assert isinstance(got, str) and json.loads(got) == expected


def test_dataset_and_template_become_json_with_every_cell_exact() -> None:
    ds = pb.Payload.DataSet(num_of_columns=3, columns=["n", "big", "t"],
                            types=[pb.Int8, pb.UInt64, pb.DateTime])
    ds.rows.add().elements.extend([pb.Payload.DataSet.DataSetValue(int_value=(1 << 32) - 1),
                                   pb.Payload.DataSet.DataSetValue(long_value=2**64 - 1),
                                   pb.Payload.DataSet.DataSetValue(long_value=0)])
    got = value(metric(pb.DataSet, dataset_value=ds), pb.DataSet, "m")
    assert isinstance(got, str)
    assert json.loads(got) == {"columns": ["n", "big", "t"], "types": ["Int8", "UInt64", "DateTime"],
                               "rows": [[-1, 2**64 - 1, "1970-01-01T00:00:00.000Z"]]}
    t = pb.Payload.Template(template_ref="Motor", version="2")
    t.parameters.add(name="rated", type=pb.Float, float_value=7.5)
    t.metrics.add(name="Speed", datatype=pb.Int16, int_value=0xFFFF)
    inner = t.metrics.add(name="Gear", datatype=pb.Template)
    inner.template_value.metrics.add(name="Ratio", datatype=pb.Double, double_value=3.5)
    got = value(metric(pb.Template, template_value=t), pb.Template, "m")
    assert isinstance(got, str)
    gear = {"template_ref": None, "version": None, "parameters": {}, "metrics": {"Ratio": 3.5}}
    assert json.loads(got) == {"template_ref": "Motor", "version": "2", "parameters": {"rated": 7.5},
                               "metrics": {"Speed": -1, "Gear": gear}}


@pytest.mark.parametrize(("datatype", "field", "message"), [
    (pb.Int8, {"int_value": 300}, "300 is out of range for Int8"),
    (pb.UInt16, {"int_value": 70000}, "70000 is out of range for UInt16"),
    (pb.Int32, {"long_value": 2**40}, "out of range for Int32"),
    (pb.Int16Array, {"bytes_value": b"\x01"}, "not a multiple of 2"),
    (pb.BooleanArray, {"bytes_value": struct.pack("<I", 9) + b"\x00"}, "BooleanArray of 9 values"),
    (pb.StringArray, {"bytes_value": b"no end"}, "does not end with a NUL"),
    (pb.DateTime, {"long_value": 2**62}, "outside the calendar"),
])
def test_values_that_cannot_be_what_they_say_are_refused(datatype: int, field: dict[str, object],
                                                         message: str) -> None:
    with pytest.raises(UnsupportedValue, match=message) as err:
        value(metric(datatype, **field), datatype, "Line 1/Counter")
    assert str(err.value).startswith("Line 1/Counter: ")


def test_dataset_with_ragged_rows_is_refused() -> None:
    ds = pb.Payload.DataSet(num_of_columns=2, columns=["a", "b"], types=[pb.Int32, pb.Int32])
    ds.rows.add().elements.add(int_value=1)
    with pytest.raises(UnsupportedValue, match="row 0 has 1 values for 2 columns"):
        value(metric(pb.DataSet, dataset_value=ds), pb.DataSet, "m")


def test_iso_ms_is_the_opcua_collector_form() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
