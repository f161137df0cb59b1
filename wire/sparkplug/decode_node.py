"""Sparkplug from any edge node (Ignition Edge, Kepware, Tahu-based nodes, …): a Sparkplug B 3.0 host.

Such a node knows nothing of our convention: no batch seq, no counters, no enterprise metric.
So, as any host does:

- NBIRTH/DBIRTH define the metrics (name, alias, datatype) and carry their current values,
  which are data: stored like DDATA values, except those already stored with the same
  timestamp (a rebirth sends them again; ``NodeData.birth``, checked by the ingestor). Null birth
  values are definitions only; template definitions (``is_definition``) are types, not values.
- NDATA/DDATA by alias (or by name) are decoded with the birth's datatypes; node-level metrics
  are stored under a device named like the gateway. ``is_transient`` metrics are not stored
  (Sparkplug: hosts do not historize them).
- DDEATH is stored as one bad sample (no value, reason ``device death``) per metric the
  device's birth defined, so the evidence sees the device go offline instead of silence.
- Each message's samples are one ledger entry keyed by ``ledger_key`` (docs/sparkplug.md,
  "Idempotency for any edge node"): a redelivered message is stored once.

A metric whose value cannot be stored (an integer outside its datatype, a name too long for a
tag) does not cost the rest of the message: the others are stored and the message also goes
to the dead letters (``Unstored``) with the metric named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from common.config_files import describe_errors
from wire.json_v1 import BirthMessage, DeviceInfo, TagInfo, WireSample
from wire.sample import Value, now_ms
from wire.sparkplug import convention as sp
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.errors import MalformedPayload, NeedsBirth, rebirth_request
from wire.sparkplug.nodes import NodeIdentity, NodeState, bad_device, invalid_code
from wire.sparkplug.samples import sample
from wire.sparkplug.values import UnsupportedValue, type_name

AGENT_VERSION = "Sparkplug B edge node"
DEVICE_DEATH = "device death (Sparkplug DDEATH)"
_CONTROL = "Node Control/"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeData:
    """Samples of one message from any edge node, with the ledger key in place of a batch seq."""

    enterprise: str
    gateway: str
    session: str
    key: int
    sent: int
    samples: list[WireSample]
    historical: bool = False
    birth: bool = False  # current values from a birth: a rebirth sends them again (see ingestor)


@dataclass(frozen=True, slots=True)
class Unstored:
    """Metrics of a message that could not be stored; the message goes to the dead letters."""

    detail: str


Out = BirthMessage | NodeData | Unstored


def ledger_key(ts_ms: int, bdseq: int, seq: int) -> int:
    """The stable key of one message of a node: payload timestamp, then bdSeq, then payload seq.

    ``ts << 16 | bdSeq << 8 | seq`` fits a bigint until the year 6429 and sorts by time. The
    same payload gives the same key whenever it arrives (an MQTT redelivery, a second worker, a
    replay of the same bytes); see docs/sparkplug.md for what it cannot tell apart.
    """
    return (ts_ms << 16) | ((bdseq & 0xFF) << 8) | (seq & 0xFF)


def _sent(p: pb.Payload, received_ms: int | None) -> int:
    if p.timestamp:
        return p.timestamp
    stamps = [m.timestamp for m in p.metrics if m.HasField("timestamp")]
    return max(stamps) if stamps else received_ms or now_ms()


def _is_definition(m: pb.Payload.Metric) -> bool:
    return m.WhichOneof("value") == "template_value" and m.template_value.is_definition


class _Collector:
    """Samples of one message, and what of it could not be stored."""

    def __init__(self, where: str, node: NodeState, sent: int, *, birth: bool = False) -> None:
        self.where, self.node, self.sent, self.birth = where, node, sent, birth
        self.samples: list[WireSample] = []
        self.refused: list[str] = []
        self.historical = False

    def add(self, device: str | None, name: str, m: pb.Payload.Metric, datatype: int) -> None:
        no_value = m.is_null or m.WhichOneof("value") is None
        if m.is_transient or _is_definition(m) or (self.birth and no_value):
            return
        code = self.node.identity.device(device) if device is not None else self.node.identity.gateway
        if device is not None and (bad := bad_device(code, device)) is not None:
            self.refused.append(f"{name!r}: {bad}")
            return
        try:
            s = sample(code, name, m, datatype, default_ts=self.sent)
        except UnsupportedValue as err:
            self.refused.append(str(err))
            return
        except ValidationError as err:
            self.refused.append(f"{name!r}: " + "; ".join(describe_errors(err, dotted=True, limit=2)))
            return
        self.historical = self.historical or m.is_historical
        self.samples.append(s)

    def result(self, p: pb.Payload) -> list[Out]:
        out: list[Out] = []
        if self.samples:
            n = self.node
            out.append(NodeData(enterprise=n.identity.enterprise, gateway=n.identity.gateway,
                                session=n.session, key=ledger_key(self.sent, n.bdseq, p.seq), sent=self.sent,
                                samples=self.samples, historical=self.historical, birth=self.birth))
        if self.refused:
            more = f" (and {len(self.refused) - 5} more)" if len(self.refused) > 5 else ""
            out.append(Unstored(f"{self.where}: {len(self.refused)} metric(s) not stored, the rest "
                                f"was: {'; '.join(self.refused[:5])}{more}"))
        return out


def _tag(m: pb.Payload.Metric) -> TagInfo:
    """A tag definition from a birth metric. The interval is unknown (Sparkplug reports by
    exception), unless the node sends our ``Interval ms`` property."""
    props = sp.read_properties(m.properties) if m.HasField("properties") else {}
    unit = props.get(sp.P_UNIT, props.get("EngUnit"))
    desc = props.get(sp.P_DESCRIPTION, props.get("Documentation"))
    interval = props.get(sp.P_INTERVAL)
    heartbeat = props.get(sp.P_HEARTBEAT)
    # model_construct: JSON v1 requires interval_ms, which such a node cannot state; the
    # registry column is nullable and NULL is the truth (the evidence reads it as unknown)
    fields: dict[str, Any] = {
        "name": m.name, "type": type_name(m.datatype), "unit": None if unit is None else str(unit),
        "interval_ms": interval if isinstance(interval, int) and interval > 0 else None,
        "description": None if desc is None else str(desc), "report": "change",
        "heartbeat_ms": heartbeat if isinstance(heartbeat, int) and heartbeat > 0 else None, "links": []}
    return TagInfo.model_construct(**fields)


def _birth(node: NodeState, devices: list[DeviceInfo]) -> BirthMessage:
    # next_seq has no meaning without our batch numbers: NULL in the registry, not a made-up 1
    fields: dict[str, Any] = {
        "enterprise": node.identity.enterprise, "gateway": node.identity.gateway, "session": node.session,
        "ts": node.born_ms, "next_seq": None, "agent_version": AGENT_VERSION, "enterprise_info": node.info,
        "devices": devices}
    return BirthMessage.model_construct(**fields)


def _device(code: str, tags: list[TagInfo]) -> DeviceInfo:
    return DeviceInfo(id=code, profile="", protocol="sparkplug", tags=tags)


def nbirth(t: sp.Topic, p: pb.Payload, values: dict[str, Value], identity: NodeIdentity,
           previous: NodeState | None, received_ms: int | None) -> tuple[NodeState, list[Out]]:
    where = f"NBIRTH of {t.group}/{t.node}"
    bad = invalid_code(identity, t.group, t.node)
    if bad is not None:
        raise MalformedPayload(f"{where}: {bad}")
    bdseq = values.get(sp.BDSEQ)
    if not isinstance(bdseq, int) or isinstance(bdseq, bool):
        raise MalformedPayload(f"{where}: no integer bdSeq metric (Sparkplug B 3.0 requires one)")
    born = _sent(p, received_ms)
    # a rebirth keeps the bdSeq of its MQTT session: the same session for the registry
    same = previous is not None and not previous.agent and previous.bdseq == bdseq
    session = previous.session if same and previous is not None else f"spb-{bdseq}-{born}"
    node = NodeState(identity=identity, agent=False, session=session, bdseq=bdseq, born_ms=born)
    col = _Collector(where, node, born, birth=True)
    tags = []
    for m in p.metrics:
        if not m.name:
            raise MalformedPayload(f"{where}: a metric without a name")
        taken = node.define(None, m.name, m.datatype, m.alias if m.HasField("alias") else None)
        if taken is not None:
            raise MalformedPayload(f"{where}: alias {m.alias} is given to {taken.name!r} and {m.name!r}")
        if m.name == sp.BDSEQ or m.name.startswith(_CONTROL) or _is_definition(m) or m.is_transient:
            continue
        tags.append(_tag(m))
        col.add(None, m.name, m, m.datatype)
    node.devices[None] = [tag.name for tag in tags]
    devices = [_device(identity.gateway, tags)] if tags else []
    return node, [_birth(node, devices), *col.result(p)]


def dbirth(t: sp.Topic, p: pb.Payload, node: NodeState) -> list[Out]:
    assert t.device is not None
    where = f"DBIRTH of {t.group}/{t.node}/{t.device}"
    node.forget_device(t.device)
    col = _Collector(where, node, _sent(p, None) or node.born_ms, birth=True)
    tags = []
    for m in p.metrics:
        if not m.name:
            raise MalformedPayload(f"{where}: a metric without a name")
        taken = node.define(t.device, m.name, m.datatype, m.alias if m.HasField("alias") else None)
        if taken is not None:
            raise MalformedPayload(f"{where}: alias {m.alias} of {m.name!r} is already "
                                   f"{taken.name!r} of {taken.device or 'the node'}")
        if m.name.startswith(_CONTROL) or _is_definition(m) or m.is_transient:
            continue
        tags.append(_tag(m))
        col.add(t.device, m.name, m, m.datatype)
    node.devices[t.device] = [tag.name for tag in tags]
    code = node.identity.device(t.device)
    if (bad := bad_device(code, t.device)) is not None:
        raise MalformedPayload(f"{where}: {bad}")  # its aliases are known: its data say the same
    return [_birth(node, [_device(code, tags)]), *col.result(p)]


def data(t: sp.Topic, p: pb.Payload, node: NodeState, received_ms: int | None) -> list[Out]:
    """NDATA (t.device None) or DDATA."""
    where = f"{t.kind} of {t.group}/{t.node}" + (f"/{t.device}" if t.device else "")
    col = _Collector(where, node, _sent(p, received_ms))
    for m in p.metrics:
        if m.HasField("alias") and not m.name:
            d = node.aliases.get(m.alias)
            if d is None or d.device != t.device:
                raise NeedsBirth(f"{where}: alias {m.alias} is not one of "
                                 f"{'this device' if t.device else 'the node'}'s in the last births",
                                 rebirth=rebirth_request(t.group, t.node))
            name, datatype = d.name, d.datatype
        elif m.name:
            # by name: the birth's datatype, else the metric's own (0: go by the value's field)
            name, datatype = m.name, node.names.get((t.device, m.name), m.datatype)
        else:
            raise MalformedPayload(f"{where}: a metric with neither alias nor name")
        if name == sp.BDSEQ or name.startswith(_CONTROL):
            continue
        col.add(t.device, name, m, datatype)
    return col.result(p)


def ddeath(t: sp.Topic, p: pb.Payload, node: NodeState, received_ms: int | None) -> list[Out]:
    assert t.device is not None
    names = node.devices.get(t.device)
    if not names:
        return []  # a device we never saw born: nothing of it to mark offline
    sent = _sent(p, received_ms)
    code = node.identity.device(t.device)
    samples = [WireSample(d=code, t=name, ts=sent, rt=sent, v=None, q="bad", r=DEVICE_DEATH)
               for name in names]
    return [NodeData(enterprise=node.identity.enterprise, gateway=node.identity.gateway, session=node.session,
                     key=ledger_key(sent, node.bdseq, p.seq), sent=sent, samples=samples)]
