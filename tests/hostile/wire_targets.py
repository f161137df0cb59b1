"""Hostile-input targets on the wire: JSON v1 at the cloud's door, gzip, Sparkplug B."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from tests.hostile.base import T0, Crash, Outcome, mutated, reason_of

# -- the JSON wire format at the cloud's door (cloud_ingest.inbound) --------------------------

_SAMPLE = {"d": "dev-1", "t": "power_kw", "ts": T0, "rt": T0 + 5, "v": 1.5, "q": "good"}
DATA = {"v": 1, "type": "data", "enterprise": "ent-a", "gateway": "gw-a", "session": "s1", "seq": 1,
        "sent": T0 + 9, "samples": [_SAMPLE, {**_SAMPLE, "t": "state", "v": "RUN", "q": "uncertain",
                                              "c": 3, "r": "stale"},
                                    {"d": "dev-1", "ts": T0, "rt": T0 + 5,
                                     "values": {"voltage": 230.5, "run": True, "count": 7, "mode": "A"}}],
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
        reason_of(out.detail, out.reason)
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
        return Outcome(False, re.sub(r"\d+", "N", reason_of(str(err), "gzip").split(":")[0]))
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
            reason_of(str(err), topic)
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
