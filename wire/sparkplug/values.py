"""Every Sparkplug B 3.0 metric value → what the cloud stores, exactly (docs/sparkplug.md, "Datatypes").

A host must read a value the way the metric's datatype says (from the birth, by alias, since
DDATA metrics carry no datatype): the same protobuf field holds an Int8 and a UInt32, and
implementations disagree on which field some types use (Tahu's JavaScript codec puts UInt32 in
``long_value``, the specification in ``int_value``). So integers are accepted from either
field and then checked against the datatype's range; a value that cannot be what its datatype
says raises ``UnsupportedValue`` naming the metric, and the message goes to the dead letters
with that text instead of being stored wrong.

What each datatype becomes (stored in ``samples``: numbers in ``value``/``value_exact``, the rest
as text in ``value_text``):

- Int8 … UInt64 → the Python int, signed or unsigned as declared (exact at any size);
- Float → the float32's exact value as a float; Double → float; Boolean → bool;
- String, Text, UUID → the text as sent;
- DateTime → ISO 8601 UTC text with milliseconds (``2025-11-29T08:00:00.000Z``), as the OPC UA
  collector renders DateTime;
- Bytes, File → standard base64 text;
- DataSet → JSON text ``{"columns": [...], "types": [...], "rows": [[...], ...]}``;
- Template (an instance) → JSON text ``{"template_ref", "version", "parameters", "metrics"}``
  with every member decoded by these same rules;
- the array types (Int8Array … DateTimeArray, Sparkplug 3.0 packed little-endian in
  ``bytes_value``) → JSON text of the list.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from datetime import UTC, datetime
from typing import Any, Final

from wire.sample import Value
from wire.sparkplug import sparkplug_b_pb2 as pb

NAMES: Final = {v: k for k, v in pb.DataType.items()}  # 12 -> "String"

_INT_RANGES: Final[dict[int, tuple[int, int, int]]] = {
    pb.Int8: (-(1 << 7), (1 << 7) - 1, 8), pb.Int16: (-(1 << 15), (1 << 15) - 1, 16),
    pb.Int32: (-(1 << 31), (1 << 31) - 1, 32), pb.Int64: (-(1 << 63), (1 << 63) - 1, 64),
    pb.UInt8: (0, (1 << 8) - 1, 8), pb.UInt16: (0, (1 << 16) - 1, 16),
    pb.UInt32: (0, (1 << 32) - 1, 32), pb.UInt64: (0, (1 << 64) - 1, 64),
}
_ARRAYS: Final[dict[int, str]] = {  # datatype -> struct format of one element (little-endian)
    pb.Int8Array: "b", pb.Int16Array: "h", pb.Int32Array: "i", pb.Int64Array: "q",
    pb.UInt8Array: "B", pb.UInt16Array: "H", pb.UInt32Array: "I", pb.UInt64Array: "Q",
    pb.FloatArray: "f", pb.DoubleArray: "d", pb.DateTimeArray: "q",
}
_PACKED: Final = frozenset({*_ARRAYS, pb.BooleanArray, pb.StringArray})
_INT_FIELDS: Final = ("int_value", "long_value")

Holder = pb.Payload.Metric | pb.Payload.PropertyValue | pb.Payload.DataSet.DataSetValue | \
    pb.Payload.Template.Parameter


class UnsupportedValue(ValueError):
    """A value that is not what its datatype says, or of a kind Sparkplug does not define."""


def type_name(datatype: int) -> str:
    return NAMES.get(datatype, f"datatype {datatype}")


def iso_ms(ms: int, where: str = "DateTime") -> str:
    """UTC epoch ms → ``2025-11-29T08:00:00.000Z``."""
    try:
        t = datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as err:
        raise UnsupportedValue(f"{where}: DateTime {ms} ms is outside the calendar") from err
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _int(raw: int, datatype: int, where: str) -> int:
    lo, hi, bits = _INT_RANGES[datatype]
    if lo <= raw <= hi:
        return raw
    if lo < 0:
        # two's complement, in 32 bits (the specification's int_value) or 64 (long_value);
        # Int8/Int16 also in their own width, as some encoders write them
        for width in {bits, 32, 64}:
            if (1 << (width - 1)) <= raw < (1 << width) and lo <= raw - (1 << width) <= hi:
                return raw - (1 << width)
    raise UnsupportedValue(f"{where}: {raw} is out of range for {type_name(datatype)}")


def _finite(x: float) -> float | str:
    """JSON has no NaN/Infinity: inside JSON text they travel as strings."""
    return x if math.isfinite(x) else str(x)


def _array(raw: bytes, datatype: int, where: str) -> list[Any]:
    if datatype == pb.BooleanArray:
        if len(raw) < 4:
            raise UnsupportedValue(f"{where}: BooleanArray shorter than its 4-byte count")
        (n,) = struct.unpack_from("<I", raw)
        bits = raw[4:]
        if len(bits) * 8 < n:
            raise UnsupportedValue(f"{where}: BooleanArray of {n} values has {len(bits)} bytes")
        return [bool(bits[i // 8] & (0x80 >> (i % 8))) for i in range(n)]
    if datatype == pb.StringArray:
        if raw and not raw.endswith(b"\x00"):
            raise UnsupportedValue(f"{where}: StringArray does not end with a NUL")
        try:
            return [s.decode() for s in raw.split(b"\x00")[:-1]] if raw else []
        except UnicodeDecodeError as err:
            raise UnsupportedValue(f"{where}: StringArray is not UTF-8: {err}") from err
    fmt = _ARRAYS[datatype]
    size = struct.calcsize(fmt)
    if len(raw) % size:
        raise UnsupportedValue(f"{where}: {type_name(datatype)} of {len(raw)} bytes is not a "
                               f"multiple of {size}")
    items = [v for (v,) in struct.iter_unpack("<" + fmt, raw)]
    if datatype == pb.DateTimeArray:
        return [iso_ms(v, where) for v in items]
    if datatype in (pb.FloatArray, pb.DoubleArray):
        return [_finite(v) for v in items]
    return items


def _json(doc: object) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _plain(v: Value) -> Any:
    return _finite(v) if isinstance(v, float) else v


def _dataset(ds: pb.Payload.DataSet, where: str) -> str:
    types = list(ds.types)
    if len(types) != len(ds.columns):
        raise UnsupportedValue(f"{where}: DataSet has {len(ds.columns)} columns but {len(types)} types")
    rows = []
    for r, row in enumerate(ds.rows):
        if len(row.elements) != len(types):
            raise UnsupportedValue(f"{where}: DataSet row {r} has {len(row.elements)} values for "
                                   f"{len(types)} columns")
        rows.append([_plain(value(e, t, f"{where} row {r} column {ds.columns[c]!r}"))
                     for c, (e, t) in enumerate(zip(row.elements, types, strict=True))])
    return _json({"columns": list(ds.columns), "types": [type_name(t) for t in types], "rows": rows})


def _template(t: pb.Payload.Template, where: str) -> str:
    return _json(template_doc(t, where))


def template_doc(t: pb.Payload.Template, where: str) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for m in t.metrics:
        name = m.name or f"alias {m.alias}"
        if m.datatype == pb.Template and m.WhichOneof("value") == "template_value":
            members[name] = template_doc(m.template_value, f"{where}/{name}")
        else:
            members[name] = _plain(value(m, m.datatype, f"{where}/{name}"))
    params = {p.name: _plain(value(p, p.type, f"{where} parameter {p.name!r}")) for p in t.parameters}
    doc: dict[str, Any] = {"template_ref": t.template_ref if t.HasField("template_ref") else None,
                           "version": t.version if t.HasField("version") else None,
                           "parameters": params, "metrics": members}
    return doc


def value(source: Holder, datatype: int, where: str) -> Value:
    """The stored value of a metric, property, DataSet cell or template parameter.

    ``datatype`` is the declared one (the birth's, for aliased DDATA metrics). A value in a
    field its datatype does not use (a Double sent as ``int_value``, a metric sent by name
    without a datatype) is stored as that field holds it: exactly what was sent. Only an
    integer outside its datatype's range is refused, because no reading of it is right.
    """
    if getattr(source, "is_null", False):
        return None
    field = source.WhichOneof("value")
    if field is None:
        return None
    raw = getattr(source, field)
    if datatype in _INT_RANGES and field in _INT_FIELDS:
        return _int(raw, datatype, where)
    if datatype in (pb.Float, pb.Double) and field in ("float_value", "double_value"):
        return float(raw)
    if datatype == pb.DateTime and field in _INT_FIELDS:
        return iso_ms(raw, where)
    if datatype in _PACKED and field == "bytes_value":
        return _json(_array(raw, datatype, where))
    return _by_field(field, raw, where)


def _by_field(field: str, raw: Any, where: str) -> Value:
    if field in ("int_value", "long_value"):
        return int(raw)
    if field in ("float_value", "double_value"):
        return float(raw)
    if field in ("boolean_value", "string_value"):
        out: Value = raw
        return out
    if field == "bytes_value":
        return base64.b64encode(raw).decode("ascii")
    if field == "dataset_value":
        return _dataset(raw, where)
    if field == "template_value":
        return _template(raw, where)
    if field == "propertyset_value":
        return _json(property_doc(raw, where))
    if field == "propertysets_value":
        return _json([property_doc(ps, where) for ps in raw.propertyset])
    raise UnsupportedValue(f"{where}: an {field.replace('_', ' ')}, which Sparkplug B does not define")


def property_doc(ps: pb.Payload.PropertySet, where: str) -> dict[str, Any]:
    """A PropertySet as a dict of stored values (nested sets as JSON text)."""
    if len(ps.keys) != len(ps.values):
        raise UnsupportedValue(f"{where}: PropertySet has {len(ps.keys)} keys but {len(ps.values)} values")
    return {k: _property(v, f"{where} property {k!r}") for k, v in zip(ps.keys, ps.values, strict=True)}


def _property(pv: pb.Payload.PropertyValue, where: str) -> Value:
    # a DateTime property is a timestamp the host computes with (``Read Time``): epoch ms
    if pv.type == pb.DateTime and not pv.is_null and pv.WhichOneof("value") == "long_value":
        return int(pv.long_value)
    return value(pv, pv.type, where)
