"""What hostile input is thrown at, and what each must do with it: the one list the property
tests (``tests/hostile/test_*.py``) and the longer fuzz run (``scripts/fuzz.py``) share.

A target is a hypothesis strategy of inputs and a ``check`` that feeds one input to the
product and returns an `Outcome` (accepted, or rejected with its reason). ``check`` raises
`Crash` when the input got an answer the product must never give: an exception other than
the target's own rejection, a rejection without a reason, an output the next stage refuses
(a sample the cloud's wire schema would reject), or more output than the input's limit.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.support import ROOT


class Crash(AssertionError):
    """What the product must never do with any input."""


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: bool
    reason: str  # the kind of what was accepted, or the reason of the rejection


@dataclass(frozen=True)
class Target:
    name: str
    inputs: st.SearchStrategy[Any]
    check: Callable[[Any], Outcome]


def _reason(text: str, what: str) -> str:
    if not text.strip():
        raise Crash(f"{what}: rejected without a reason")
    if len(text) > 8000:
        raise Crash(f"{what}: a reason of {len(text)} characters (unbounded detail)")
    return text


# -- JSON values and documents ---------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(["", "good", "bad", "data", "birth", "ent-a", "gw-a", "dev-1", "1", "ʼ", "\x00"]),
)
JSON_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with some of its parts replaced, removed, repeated or added: from untouched (a
    quarter of the cases) to thoroughly wrong, so that the inputs reach every branch."""
    rate = draw(st.sampled_from([0, 1, 3, 10]))  # percent of the parts changed
    return draw(_mutate(doc, rate, 0))


@st.composite
def _mutate(draw: st.DrawFn, doc: Any, rate: int, depth: int) -> Any:
    def hit() -> bool:
        return rate > 0 and draw(st.integers(0, 99)) < rate

    if depth > 0 and hit():
        return draw(JSON_VALUES)
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            if not hit():  # else removed
                out[key] = draw(_mutate(value, rate, depth + 1))
        if hit():
            out[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        return out
    if isinstance(doc, list):
        items = [draw(_mutate(v, rate, depth + 1)) for v in doc]
        return items * draw(st.integers(0, 3)) if items and hit() else items
    return draw(_SCALARS) if hit() else doc


# -- the JSON wire format at the cloud's door (cloud_ingest.inbound) --------------------------

T0 = 1764403200000
_SAMPLE = {"d": "dev-1", "t": "power_kw", "ts": T0, "rt": T0 + 5, "v": 1.5, "q": "good"}
DATA = {"v": 1, "type": "data", "enterprise": "ent-a", "gateway": "gw-a", "session": "s1", "seq": 1,
        "sent": T0 + 9, "samples": [_SAMPLE, {**_SAMPLE, "t": "state", "v": "RUN", "q": "uncertain",
                                              "c": 3, "r": "stale"}],
        "counters": {"devices": {"dev-1": {"read": 2, "published": 1, "read_errors": 0, "dropped": {}}}},
        "historical": False}
BIRTH = {"v": 1, "type": "birth", "enterprise": "ent-a", "gateway": "gw-a", "session": "s1", "ts": T0,
         "next_seq": 1, "agent_version": "0.1", "devices": [
             {"id": "dev-1", "profile": "energy_meter_3ph", "protocol": "modbus",
              "tags": [{"name": "power_kw", "type": "float32", "unit": "kW", "interval_ms": 1000}]}]}
DEATH = {"v": 1, "type": "death", "enterprise": "ent-a", "gateway": "gw-a", "session": "s1", "ts": T0}
MAX_MESSAGE = 64 * 1024
_INBOUND_REASONS = {"oversized", "bad_topic", "bad_gzip", "bad_json", "unknown_version", "wrong_type",
                    "schema", "topic_mismatch"}


@st.composite
def wire_messages(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["data", "data", "data", "birth", "death"]))
    doc = draw(mutated({"data": DATA, "birth": BIRTH, "death": DEATH}[kind]))
    topic_kind = kind if draw(st.integers(0, 9)) else draw(st.sampled_from(["data", "birth", "x", ""]))
    topic = f"shopfloor/v1/ent-a/gw-a/{topic_kind}" if draw(st.integers(0, 9)) else draw(st.text(max_size=30))
    how = draw(st.integers(0, 9))
    if how == 0:
        payload = draw(st.binary(max_size=300))
    else:
        payload = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()
        if how == 1:
            payload = gzip.compress(payload)
        elif how == 2:
            cut = draw(st.integers(0, len(payload)))
            payload = payload[:cut]
    return topic, payload


def check_inbound(case: tuple[str, bytes]) -> Outcome:
    from cloud_ingest.inbound import Rejected, decode

    topic, payload = case
    out = decode(topic, payload, max_bytes=MAX_MESSAGE)
    if isinstance(out, Rejected):
        if out.reason not in _INBOUND_REASONS:
            raise Crash(f"unknown rejection reason {out.reason!r}")
        _reason(out.detail, out.reason)
        return Outcome(False, out.reason)
    return Outcome(True, type(out).__name__)


# -- gzip (wire.json_v1.decode_payload) -------------------------------------------------------

GZIP_LIMIT = 4096


@st.composite
def gzip_payloads(draw: st.DrawFn) -> bytes:
    body = draw(st.binary(max_size=200)) * draw(st.sampled_from([1, 1, 10, 100, 10_000]))
    raw = gzip.compress(body, compresslevel=draw(st.integers(1, 9)))
    how = draw(st.integers(0, 5))
    if how == 1:
        raw = raw[: draw(st.integers(2, len(raw)))]  # truncated
    elif how == 2:
        raw += draw(st.binary(min_size=1, max_size=20))  # trailing bytes
    elif how == 3:
        raw += gzip.compress(draw(st.binary(max_size=50)))  # a second member
    elif how == 4:
        i = draw(st.integers(2, len(raw) - 1))
        raw = raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1:]
    elif how == 5:
        raw = b"\x1f\x8b" + draw(st.binary(max_size=100))
    return raw


def check_gzip(raw: bytes) -> Outcome:
    from wire.json_v1 import decode_payload

    try:
        out = decode_payload(raw, max_bytes=GZIP_LIMIT)
    except ValueError as err:
        return Outcome(False, re.sub(r"\d+", "N", _reason(str(err), "gzip").split(":")[0]))
    if len(out) > GZIP_LIMIT:
        raise Crash(f"inflated to {len(out)} bytes, beyond the limit {GZIP_LIMIT}")
    try:
        reference = gzip.decompress(raw)
    except (OSError, EOFError, ValueError) as err:
        raise Crash(f"accepted what is not a whole gzip stream ({err}); {len(out)} bytes came out") from err
    if reference != out:
        raise Crash(f"accepted {len(out)} bytes of a stream that holds {len(reference)}")
    return Outcome(True, "inflated")


# -- Sparkplug B (wire.sparkplug.decoder) -----------------------------------------------------

_SP_KINDS = ["NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH", "NDEATH", "NCMD", "DCMD", "STATE"]
_METRIC_NAMES = ["bdSeq", "Node Control/Rebirth", "Gateway/Session", "Gateway/Batch Seq",
                 "Gateway/Enterprise", "power_kw", "Counter", "a/b", ""]


@st.composite
def sparkplug_payloads(draw: st.DrawFn) -> bytes:
    from wire.sparkplug import sparkplug_b_pb2 as pb

    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    p = pb.Payload()
    if draw(st.booleans()):
        p.timestamp = draw(st.integers(0, 2**64 - 1))
    if draw(st.booleans()):
        p.seq = draw(st.integers(0, 2**64 - 1))
    for _ in range(draw(st.integers(0, 5))):
        m = p.metrics.add()
        if draw(st.integers(0, 3)):
            m.name = draw(st.sampled_from(_METRIC_NAMES) | st.text(max_size=20))
        if draw(st.booleans()):
            m.alias = draw(st.integers(0, 20))
        if draw(st.integers(0, 3)):
            m.datatype = draw(st.integers(0, 40))
        if draw(st.booleans()):
            m.timestamp = draw(st.integers(0, 2**64 - 1))
        field = draw(st.sampled_from(["int", "long", "float", "double", "bool", "string", "bytes", "null",
                                      "none", "dataset", "template"]))
        if field == "int":
            m.int_value = draw(st.integers(0, 2**32 - 1))
        elif field == "long":
            m.long_value = draw(st.integers(0, 2**64 - 1))
        elif field == "float":
            m.float_value = draw(st.floats(width=32))
        elif field == "double":
            m.double_value = draw(st.floats())
        elif field == "bool":
            m.boolean_value = draw(st.booleans())
        elif field == "string":
            m.string_value = draw(st.text(max_size=30))
        elif field == "bytes":
            m.bytes_value = draw(st.binary(max_size=40))
        elif field == "null":
            m.is_null = True
        elif field == "dataset":
            ds = m.dataset_value
            ds.num_of_columns = draw(st.integers(0, 3))
            ds.columns.extend(draw(st.lists(st.text(max_size=4), max_size=3)))
            ds.types.extend(draw(st.lists(st.integers(0, 40), max_size=3)))
            for _ in range(draw(st.integers(0, 2))):
                row = ds.rows.add()
                for _ in range(draw(st.integers(0, 3))):
                    row.elements.add().int_value = draw(st.integers(0, 2**32 - 1))
        elif field == "template":
            t = m.template_value
            t.template_ref = draw(st.text(max_size=5))
            for _ in range(draw(st.integers(0, 2))):
                tm = t.metrics.add(name=draw(st.text(max_size=5)), datatype=draw(st.integers(0, 40)))
                tm.long_value = draw(st.integers(0, 2**64 - 1))
        if draw(st.integers(0, 5)) == 0:
            ps = m.properties
            ps.keys.append(draw(st.sampled_from(["Quality", "quality", "engUnit", ""])))
            pv = ps.values.add(type=draw(st.integers(0, 40)))
            pv.int_value = draw(st.integers(0, 2**32 - 1))
    return p.SerializeToString()


def _valid_nbirth() -> bytes:
    from wire.sparkplug import sparkplug_b_pb2 as pb

    p = pb.Payload(timestamp=T0, seq=0)
    p.metrics.add(name="bdSeq", datatype=pb.Int64, long_value=1, timestamp=T0)
    return p.SerializeToString()


@st.composite
def sparkplug_sessions(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """A few messages of one node to one decoder, mostly after a valid birth."""
    out = [("spBv1.0/g1/NBIRTH/n1", _valid_nbirth())] if draw(st.integers(0, 3)) else []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(_SP_KINDS))
        topic = ("spBv1.0/STATE/h1" if kind == "STATE" else
                 f"spBv1.0/g1/{kind}/n1" + ("/d1" if kind.startswith("D") else ""))
        if draw(st.integers(0, 15)) == 0:
            topic = draw(st.text(max_size=30))
        out.append((topic, draw(sparkplug_payloads())))
    return out


def _foreign_birth(doc: dict[str, Any]) -> dict[str, Any]:
    """A birth of a node that is not our agent leaves empty what it cannot know (next_seq, a
    tag's interval_ms: NULL in the registry); everything else must be what the wire allows."""
    if doc.get("next_seq") is None:
        doc["next_seq"] = 1
    for dev in doc.get("devices", []):
        for tag in dev.get("tags", []):
            if tag.get("interval_ms") is None:
                tag["interval_ms"] = 1000
    return doc


def check_sparkplug(session: list[tuple[str, bytes]]) -> Outcome:
    from wire.json_v1 import BirthMessage, DataMessage, DeathMessage, WireSample
    from wire.sparkplug.decoder import NodeData, SparkplugDecoder, SparkplugError

    dec = SparkplugDecoder()
    last = Outcome(True, "nothing")
    for topic, payload in session:
        try:
            decoded = dec.decode(topic, payload, received_ms=T0)
        except SparkplugError as err:
            last = Outcome(False, type(err).__name__)
            _reason(str(err), topic)
            continue
        for d in decoded:
            try:  # what the decoder hands on must be what the wire schema accepts
                if isinstance(d, BirthMessage):
                    BirthMessage.model_validate(_foreign_birth(json.loads(d.model_dump_json())))
                elif isinstance(d, DataMessage | DeathMessage):
                    type(d).model_validate_json(d.model_dump_json())
                elif isinstance(d, NodeData):
                    for s in d.samples:
                        WireSample.model_validate_json(s.model_dump_json())
            except ValidationError as err:
                raise Crash(f"{topic}: decoded into {type(d).__name__} the wire rejects: {err}") from err
            last = Outcome(True, type(d).__name__)
    return last


# -- config and profile loaders (common.config_files) -----------------------------------------

_SCRATCH = Path(tempfile.mkdtemp(prefix="sfg-hostile-"))
GATEWAY_EXAMPLE = yaml.safe_load((ROOT / "examples" / "gateway.yaml").read_text(encoding="utf-8"))
PROFILE_EXAMPLE = yaml.safe_load(
    (ROOT / "device_profiles" / "library" / "modbus" / "energy_meter_3ph.yaml").read_text(encoding="utf-8"))


def alias_bomb(levels: int, width: int) -> str:
    """YAML whose aliases expand to ``width ** levels`` strings (a "billion laughs")."""
    lines = ["a0: &a0 [x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\ndevices: *a{levels}\n"


@st.composite
def yaml_texts(draw: st.DrawFn, example: Any) -> str:
    how = draw(st.integers(0, 11))
    if how == 0:
        return draw(st.text(max_size=200))
    if how == 1:
        return alias_bomb(draw(st.integers(1, 9)), draw(st.integers(2, 10)))
    if how == 2:
        depth = draw(st.integers(1, 5000))
        return "devices: " + "[" * depth + "]" * depth * draw(st.integers(0, 1))
    if how == 3:
        return "a: &a [*a]\ndevices: *a\n"
    return yaml.safe_dump(draw(mutated(example)), allow_unicode=True)


def _check_loader(load: Callable[[Path], Any], name: str) -> Callable[[str], Outcome]:
    from common.config_files import ConfigError

    def check(text: str) -> Outcome:
        path = _SCRATCH / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load(path)
        except ConfigError as err:
            if not err.problems:
                raise Crash(f"{name}: a ConfigError without problems") from err
            for problem in err.problems:
                _reason(problem, name)
            return Outcome(False, "ConfigError")
        return Outcome(True, "loaded")
    return check


def _load_gateway(path: Path) -> Any:
    from edge_agent.config import load_gateway_config

    return load_gateway_config(path)


def _load_profile(path: Path) -> Any:
    from device_profiles.loader import load_profile

    return load_profile(path)


# -- the inventory importer (cloud_ingest.evidence.inventory_file) ----------------------------

_HEADER = (ROOT / "examples" / "inventory-template.csv").read_text(encoding="utf-8-sig").splitlines()


@functools.cache
def _template_xlsx() -> bytes:
    from cloud_ingest.evidence.inventory_file import template_xlsx

    return template_xlsx()


def xlsx_with_cell(size: int) -> bytes:
    """The shipped XLSX template with ``size`` letters more in its first text cell."""
    import io
    import zipfile

    src, out = zipfile.ZipFile(io.BytesIO(_template_xlsx())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("sheet1.xml"):
                i = data.index(b"<is><t>") + len(b"<is><t>")
                data = data[:i] + b"A" * size + data[i:]
            z.writestr(info.filename, data)
    return out.getvalue()


@st.composite
def inventory_files(draw: st.DrawFn) -> tuple[bytes, str]:
    import csv
    import io

    how = draw(st.integers(0, 7))
    if how == 0:
        return draw(st.binary(max_size=300)), draw(st.sampled_from(["inv.csv", "inv.xlsx", "inv.xls"]))
    if how == 1:
        return xlsx_with_cell(draw(st.sampled_from([0, 10, 3 * 1024 * 1024]))), "inv.xlsx"
    if how == 2:
        data = bytearray(_template_xlsx())
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data), "inv.xlsx"
    rows = [row for row in csv.reader(_HEADER)]
    header = rows[0] if draw(st.integers(0, 7)) else draw(mutated(rows[0]))
    body = [draw(mutated(r)) for r in rows[1:]]
    body += draw(st.lists(st.lists(st.text(max_size=12), max_size=13), max_size=4))
    buf = io.StringIO()
    csv.writer(buf, delimiter=draw(st.sampled_from([",", ",", ";", "\t"]))).writerows(
        [[str(c) for c in r] if isinstance(r, list) else [str(r)] for r in [header, *body]])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
    return buf.getvalue().encode(encoding, errors="replace"), "inv.csv"


def check_inventory(case: tuple[bytes, str]) -> Outcome:
    from cloud_ingest.evidence.inventory_file import InventoryFileError, parse

    data, filename = case
    try:
        parsed = parse(data, filename=filename)
    except InventoryFileError as err:
        return Outcome(False, _reason(str(err), "inventory")[:30])
    for e in parsed.errors:
        _reason(str(e), "inventory row")
    return Outcome(True, "with row errors" if parsed.errors else "clean")


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
        return Outcome(False, _reason(str(err), "modbus")[:20])
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


TARGETS: tuple[Target, ...] = (
    Target("json_v1", wire_messages(), check_inbound),
    Target("gzip", gzip_payloads(), check_gzip),
    Target("sparkplug", sparkplug_sessions(), check_sparkplug),
    Target("gateway_config", yaml_texts(GATEWAY_EXAMPLE), _check_loader(_load_gateway, "gateway.yaml")),
    Target("device_profile", yaml_texts(PROFILE_EXAMPLE), _check_loader(_load_profile, "profile.yaml")),
    Target("inventory", inventory_files(), check_inventory),
    Target("modbus_codec", modbus_cases(), check_modbus),
    Target("opcua_convert", opcua_values(), check_opcua),
)
BY_NAME = {t.name: t for t in TARGETS}
