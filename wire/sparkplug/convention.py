"""What the Sparkplug encoder (gateway) and decoder (cloud) must agree on, in one place.

Sparkplug fixes topics, payload framing and a few metric names (``bdSeq``,
``Node Control/Rebirth``, the ``Quality`` property). Everything else here is our convention on
top of it, documented in docs/sparkplug.md: where the enterprise, the session, the batch seq,
the counters, the read timestamp and the device's own status code travel. Both sides import
the names from this module, so a renamed metric cannot silently break decoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from wire.sample import Value
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug import values
from wire.sparkplug.values import UnsupportedValue

__all__ = ["UnsupportedValue"]  # re-exported: callers catch it from here

NAMESPACE: Final = "spBv1.0"
SPARKPLUG_SUBSCRIPTION: Final = f"{NAMESPACE}/+/+/#"


def host_subscriptions(group: str, shared_group: str | None) -> list[str]:
    """What a host application subscribes to for ``group`` ('+' for all): births unshared
    (every worker of a shared group must know every alias), data and deaths shared."""
    share = f"$share/{shared_group}/" if shared_group else ""
    return [
        f"{NAMESPACE}/{group}/NBIRTH/+",
        f"{NAMESPACE}/{group}/DBIRTH/+/+",
        f"{share}{NAMESPACE}/{group}/NDATA/+",
        f"{share}{NAMESPACE}/{group}/DDATA/+/+",
        f"{share}{NAMESPACE}/{group}/DDEATH/+/+",
        f"{share}{NAMESPACE}/{group}/NDEATH/+",
    ]


NODE_KINDS: Final = frozenset({"NBIRTH", "NDATA", "NDEATH", "NCMD"})
DEVICE_KINDS: Final = frozenset({"DBIRTH", "DDATA", "DDEATH", "DCMD"})

# Sparkplug datatypes we use (values of the DataType enum of sparkplug_b.proto).
INT8, INT16, INT32, INT64 = pb.Int8, pb.Int16, pb.Int32, pb.Int64
UINT8, UINT16, UINT32, UINT64 = pb.UInt8, pb.UInt16, pb.UInt32, pb.UInt64
FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME = pb.Float, pb.Double, pb.Boolean, pb.String, pb.DateTime
_SIGNED_32 = frozenset({INT8, INT16, INT32})
_LONG = frozenset({INT64, UINT64, DATETIME})
_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1

# Quality property values (Sparkplug 3.0, "Quality Codes"): the only three a host must accept.
QUALITY_BAD: Final = 0
QUALITY_GOOD: Final = 192
QUALITY_STALE: Final = 500

# -- metric names -------------------------------------------------------------------------
BDSEQ: Final = "bdSeq"
REBIRTH: Final = "Node Control/Rebirth"
ENTERPRISE_ID: Final = "Properties/Enterprise Id"
ENTERPRISE_NAME: Final = "Properties/Enterprise Name"
INDUSTRY: Final = "Properties/Industry"
DISTRICT: Final = "Properties/District"
AGENT_VERSION: Final = "Properties/Agent Version"
SESSION: Final = "Gateway/Session"
NEXT_SEQ: Final = "Gateway/Next Seq"
STREAM: Final = "Gateway/Stream"  # the buffer's id: batch seqs are unique within it
DEATH_REASON: Final = "Gateway/Death Reason"

PROFILE: Final = "Properties/Profile"
PROTOCOL: Final = "Properties/Protocol"
MANUFACTURER: Final = "Properties/Manufacturer"
MODEL: Final = "Properties/Model"
WORKSHOP: Final = "Properties/Workshop"
LINE: Final = "Properties/Line"
KEY_PROCESS: Final = "Properties/Key Process"
BATCH_SEQ: Final = "Gateway/Batch Seq"
BATCHES_PUBLISHED: Final = "Gateway/Batches Published"
COUNTERS: Final = {  # metric name -> DeviceCounters field; "Dropped" carries reasons as properties
    "Gateway/Read": "read",
    "Gateway/Buffered": "buffered",
    "Gateway/Published": "published",
    "Gateway/Read Errors": "read_errors",
    "Gateway/Skipped Polls": "skipped_polls",  # ticks the gateway had no time to poll
}
DROPPED: Final = "Gateway/Dropped"

NODE_METRICS: Final = {  # name -> datatype, in NBIRTH order (aliases follow this order)
    BDSEQ: INT64, REBIRTH: BOOLEAN, ENTERPRISE_ID: STRING, ENTERPRISE_NAME: STRING,
    INDUSTRY: STRING, DISTRICT: STRING, AGENT_VERSION: STRING, SESSION: STRING, NEXT_SEQ: UINT64,
    STREAM: STRING,
}
DEVICE_METRICS: Final = {  # name -> datatype, first in every DBIRTH, before the tags
    PROFILE: STRING, PROTOCOL: STRING, MANUFACTURER: STRING, MODEL: STRING, WORKSHOP: STRING,
    LINE: STRING, KEY_PROCESS: BOOLEAN, BATCH_SEQ: UINT64, BATCHES_PUBLISHED: UINT64,
    **dict.fromkeys(COUNTERS, UINT64), DROPPED: UINT64,
}

# -- property keys --------------------------------------------------------------------------
# on tag definitions in DBIRTH
P_UNIT: Final = "engUnit"            # the key Sparkplug hosts (Ignition/MQTT Engine) map to units
P_DESCRIPTION: Final = "Description"
P_INTERVAL: Final = "Interval ms"
P_REPORT: Final = "Report"
P_HEARTBEAT: Final = "Heartbeat ms"
P_SOURCE_TYPE: Final = "Source Type"  # our profile's type; marks a metric as a tag
# on sample metrics in DDATA
P_QUALITY: Final = "Quality"
P_UNCERTAIN: Final = "Uncertain"      # with Quality 0: our "uncertain", which Sparkplug lacks
P_READ_TIME: Final = "Read Time"      # only when it differs from the metric timestamp
P_CODE: Final = "Code"
P_REASON: Final = "Reason"


def datatype_for(tag_type: str) -> int:
    """The Sparkplug datatype of a tag, from the type its profile declares.

    Every numeric tag is Double: scale/offset may turn an integer register into a fraction
    after the birth was sent, and a Double holds every integer up to 2**53 exactly.
    """
    low = tag_type.lower()
    if low in ("bool", "boolean"):
        return BOOLEAN
    if low in ("string", "datetime", "bytestring", "text"):
        return STRING  # the OPC UA collector already renders DateTime/ByteString as text
    return DOUBLE


@dataclass(frozen=True, slots=True)
class Topic:
    group: str
    kind: str
    node: str
    device: str | None = None

    def __str__(self) -> str:
        tail = f"/{self.device}" if self.device is not None else ""
        return f"{NAMESPACE}/{self.group}/{self.kind}/{self.node}{tail}"


def state_topic(host_id: str) -> str:
    """Sparkplug 3.0 primary host STATE topic (no group level)."""
    return f"{NAMESPACE}/STATE/{host_id}"


def parse_topic(topic: str) -> Topic | None:
    """A node or device topic; None for STATE and for anything outside the namespace."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE or parts[1] == "STATE":
        return None
    _, group, kind, node, *rest = parts
    if (kind in NODE_KINDS and rest) or (kind in DEVICE_KINDS and not rest):
        return None
    if kind not in NODE_KINDS | DEVICE_KINDS:
        return None
    return Topic(group, kind, node, rest[0] if rest else None)


# -- values -----------------------------------------------------------------------------------

def set_value(target: pb.Payload.Metric | pb.Payload.PropertyValue, datatype: int, value: Value) -> None:
    """Put a value into a metric or property value the way the datatype says it travels."""
    if value is None:
        target.is_null = True
    elif isinstance(value, bool):
        target.boolean_value = value
    elif isinstance(value, int) and datatype in _LONG:
        target.long_value = value & _MASK64
    elif isinstance(value, int) and datatype in _SIGNED_32 | {UINT8, UINT16, UINT32}:
        target.int_value = value & _MASK32
    elif isinstance(value, int | float):
        if datatype == FLOAT:
            target.float_value = float(value)
        else:
            target.double_value = float(value)
    else:
        target.string_value = str(value)


def get_value(source: pb.Payload.Metric | pb.Payload.PropertyValue, datatype: int) -> Value:
    """Read a value back as the (birth) datatype says; every datatype, see ``values``."""
    return values.value(source, datatype, source.name if isinstance(source, pb.Payload.Metric)
                        and source.name else "metric")


def properties(items: Mapping[str, tuple[int, Value]]) -> pb.Payload.PropertySet:
    """A PropertySet from ``{key: (datatype, value)}``; the parallel arrays stay aligned."""
    ps = pb.Payload.PropertySet()
    for key, (datatype, value) in items.items():
        ps.keys.append(key)
        pv = ps.values.add()
        pv.type = datatype
        set_value(pv, datatype, value)
    return ps


def read_properties(ps: pb.Payload.PropertySet) -> dict[str, Value]:
    """Property values (DateTime as epoch ms, nested sets as JSON text)."""
    return values.property_doc(ps, "properties")
