"""Sparkplug B 3.0 from gateways → the wire models the cloud already stores (wire/json_v1.py).

The API, all of it::

    SPARKPLUG_SUBSCRIPTION = "spBv1.0/+/+/#"
    decoder = SparkplugDecoder()                      # one per consumer; keeps per-node state
    decoder.decode(topic: str, payload: bytes, *, received_ms: int | None = None)
        -> list[BirthMessage | DataMessage | DeathMessage]
    rebirth_request(group: str, node: str) -> tuple[str, bytes]   # publish with QoS 0
    host_state(host_id: str, *, online: bool, timestamp: int) -> tuple[str, bytes]

``host_state`` is for an ingest service that acts as the gateways' primary host application
(``publish.sparkplug.primary_host_id``): register ``online=False`` as its MQTT will and publish
``online=True`` after connecting, both retained, QoS 1, with the same timestamp (the CONNECT time).

What comes out of ``decode``:

- NBIRTH → one BirthMessage without devices (enterprise, session, next_seq, agent version);
- DBIRTH → one BirthMessage with that device and its tags (same session), so the registry
  grows device by device, as ``Registry.apply_birth`` upserts;
- DDATA  → one DataMessage whose ``seq`` is the agent's batch seq (metric ``Gateway/Batch
  Seq``): one batch is one device is one DDATA, so ``(gateway, seq)`` stays unique and a
  redelivered DDATA is a duplicate like any redelivered JSON batch;
- NDEATH → one DeathMessage, unless its bdSeq is not the one of the current NBIRTH (a late
  last will of an older connection: nothing to report, ``[]``);
- NDATA, DDEATH, NCMD, DCMD, STATE → ``[]`` (our gateways send no node data; commands and
  host state are not gateway data).

Errors are ValueError subclasses, so a consumer that dead-letters ValueError keeps working::

    SparkplugError(ValueError)
     ├── MalformedPayload   not Sparkplug B protobuf, or a metric our convention requires is missing
     └── NeedsBirth         the node (or an alias) is unknown: DDATA/DBIRTH before its NBIRTH,
                            e.g. after an ingest restart; ``err.rebirth`` is (topic, payload)
                            of an NCMD rebirth request to publish

On NeedsBirth publish ``err.rebirth`` and keep the raw message to decode again after the
births arrived: the gateway deleted that batch when the broker acknowledged it.

Aliases are per edge node, learnt from births; with several ingest workers behind a shared
subscription, subscribe every worker to births without sharing (``spBv1.0/+/NBIRTH/+``,
``spBv1.0/+/DBIRTH/+/+``) and share only DDATA/NDEATH, so every worker knows every alias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from pydantic import ValidationError

from common.config_files import describe_errors
from wire.json_v1 import (
    BirthMessage,
    Counters,
    DataMessage,
    DeathMessage,
    DeviceCounters,
    DeviceInfo,
    EnterpriseInfo,
    TagInfo,
    WireSample,
)
from wire.sample import Value, now_ms
from wire.sparkplug import convention as sp
from wire.sparkplug import sparkplug_b_pb2 as pb

SPARKPLUG_SUBSCRIPTION = sp.SPARKPLUG_SUBSCRIPTION
Decoded = BirthMessage | DataMessage | DeathMessage

__all__ = ["SPARKPLUG_SUBSCRIPTION", "Decoded", "MalformedPayload", "NeedsBirth", "SparkplugDecoder",
           "SparkplugError", "host_state", "rebirth_request"]


class SparkplugError(ValueError):
    """A Sparkplug message that cannot become a wire message; the text says why."""


class MalformedPayload(SparkplugError):
    pass


class NeedsBirth(SparkplugError):
    def __init__(self, message: str, *, rebirth: tuple[str, bytes]) -> None:
        super().__init__(message)
        self.rebirth = rebirth


def rebirth_request(group: str, node: str) -> tuple[str, bytes]:
    """An NCMD asking the edge node for fresh NBIRTH/DBIRTHs. By name, since whoever asks may
    not know the alias; Sparkplug says QoS 0, not retained."""
    ts = now_ms()
    p = pb.Payload(timestamp=ts)
    m = p.metrics.add(name=sp.REBIRTH, timestamp=ts, datatype=sp.BOOLEAN)
    m.boolean_value = True
    return str(sp.Topic(group, "NCMD", node)), p.SerializeToString()


def host_state(host_id: str, *, online: bool, timestamp: int) -> tuple[str, bytes]:
    """The Sparkplug 3.0 STATE message of a host application: topic and JSON payload."""
    body = json.dumps({"online": online, "timestamp": timestamp}, separators=(",", ":"))
    return sp.state_topic(host_id), body.encode()


@dataclass(frozen=True, slots=True)
class _Def:
    device: str | None
    name: str
    datatype: int


@dataclass
class _Node:
    enterprise: str
    session: str
    bdseq: int
    born_ms: int
    next_seq: int
    agent_version: str
    info: EnterpriseInfo
    stream: str | None = None
    aliases: dict[int, _Def] = field(default_factory=dict)
    last_seq: int | None = None


def _by_name(p: pb.Payload) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for m in p.metrics:
        if m.name:
            out[m.name] = sp.get_value(m, m.datatype)
    return out


def _str(values: dict[str, Value], name: str, where: str | None = None) -> str | None:
    """The string metric ``name``; with ``where``, a required one (MalformedPayload if absent)."""
    v = values.get(name)
    if isinstance(v, str):
        return v
    if where is not None:
        raise MalformedPayload(f"{where}: metric {name!r} missing or not a string (got {v!r})")
    return None


def _int(values: dict[str, Value], name: str, where: str) -> int:
    v = values.get(name)
    if not isinstance(v, int) or isinstance(v, bool):
        raise MalformedPayload(f"{where}: metric {name!r} missing or not an integer (got {v!r})")
    return v


class SparkplugDecoder:
    def __init__(self) -> None:
        self._nodes: dict[tuple[str, str], _Node] = {}

    def decode(self, topic: str, payload: bytes, *, received_ms: int | None = None) -> list[Decoded]:
        t = sp.parse_topic(topic)
        if t is None:
            if topic.startswith(f"{sp.NAMESPACE}/STATE/"):
                return []
            raise MalformedPayload(f"{topic!r} is not a Sparkplug B node or device topic")
        if t.kind in ("NCMD", "DCMD"):
            return []
        try:
            p = pb.Payload.FromString(payload)
        except DecodeError as err:
            raise MalformedPayload(f"{topic}: not a Sparkplug B payload: {err}") from err
        try:
            if t.kind == "NBIRTH":
                return [self._nbirth(t, p)]
            if t.kind == "NDEATH":
                return self._ndeath(t, p, received_ms)
            node = self._node(t)
            if p.HasField("seq"):
                node.last_seq = p.seq  # kept for diagnosis; order is not enforced (QoS 1 resends)
            if t.kind == "DBIRTH":
                return [self._dbirth(t, p, node)]
            if t.kind == "DDATA":
                return [self._ddata(t, p, node, received_ms)]
            return []  # NDATA, DDEATH
        except ValidationError as err:
            raise MalformedPayload(f"{topic}: {err.error_count()} invalid field(s): "
                                   + "; ".join(describe_errors(err, dotted=True, limit=3))) from err
        except sp.UnsupportedValue as err:
            raise MalformedPayload(f"{topic}: {err}") from err

    def _node(self, t: sp.Topic) -> _Node:
        node = self._nodes.get((t.group, t.node))
        if node is None:
            raise NeedsBirth(f"{t.kind} from {t.group}/{t.node} before its NBIRTH",
                             rebirth=rebirth_request(t.group, t.node))
        return node

    def _nbirth(self, t: sp.Topic, p: pb.Payload) -> BirthMessage:
        where = f"NBIRTH of {t.group}/{t.node}"
        v = _by_name(p)
        node = _Node(
            enterprise=_str(v, sp.ENTERPRISE_ID, where) or "",
            session=_str(v, sp.SESSION, where) or "",
            stream=_str(v, sp.STREAM),
            bdseq=_int(v, sp.BDSEQ, where),
            born_ms=p.timestamp,
            next_seq=_int(v, sp.NEXT_SEQ, where),
            agent_version=_str(v, sp.AGENT_VERSION, where) or "",
            info=EnterpriseInfo(name=_str(v, sp.ENTERPRISE_NAME), industry=_str(v, sp.INDUSTRY),
                                district=_str(v, sp.DISTRICT)),
        )
        for m in p.metrics:
            if m.HasField("alias"):
                node.aliases[m.alias] = _Def(None, m.name, m.datatype)
        self._nodes[(t.group, t.node)] = node  # a new birth sequence forgets every old alias
        return self._birth(t, node, [])

    def _birth(self, t: sp.Topic, node: _Node, devices: list[DeviceInfo]) -> BirthMessage:
        return BirthMessage(enterprise=node.enterprise, gateway=t.node, session=node.session,
                            ts=node.born_ms, next_seq=node.next_seq, agent_version=node.agent_version,
                            enterprise_info=node.info, devices=devices)

    def _dbirth(self, t: sp.Topic, p: pb.Payload, node: _Node) -> BirthMessage:
        assert t.device is not None
        where = f"DBIRTH of {t.group}/{t.node}/{t.device}"
        node.aliases = {a: d for a, d in node.aliases.items() if d.device != t.device}
        v = _by_name(p)
        tags = []
        for m in p.metrics:
            if not m.name:
                raise MalformedPayload(f"{where}: a metric without a name")
            if m.HasField("alias"):
                taken = node.aliases.get(m.alias)
                if taken is not None:
                    raise MalformedPayload(f"{where}: alias {m.alias} of {m.name!r} is already "
                                           f"{taken.name!r} of {taken.device or 'the node'}")
                node.aliases[m.alias] = _Def(t.device, m.name, m.datatype)
            props = sp.read_properties(m.properties) if m.HasField("properties") else {}
            if sp.P_SOURCE_TYPE not in props:
                continue  # not a tag: device properties, batch seq, counters
            heartbeat = props.get(sp.P_HEARTBEAT)
            tags.append(TagInfo(
                name=m.name, type=str(props[sp.P_SOURCE_TYPE]), unit=props.get(sp.P_UNIT),
                interval_ms=props.get(sp.P_INTERVAL), description=props.get(sp.P_DESCRIPTION),
                report=props.get(sp.P_REPORT, "all"), heartbeat_ms=heartbeat,
            ))
        dev = DeviceInfo(
            id=t.device, profile=_str(v, sp.PROFILE, where) or "",
            protocol=_str(v, sp.PROTOCOL, where) or "",
            manufacturer=_str(v, sp.MANUFACTURER), model=_str(v, sp.MODEL),
            workshop=_str(v, sp.WORKSHOP), line=_str(v, sp.LINE),
            key_process=bool(v.get(sp.KEY_PROCESS)), tags=tags,
        )
        return self._birth(t, node, [dev])

    def _ddata(self, t: sp.Topic, p: pb.Payload, node: _Node, received_ms: int | None) -> DataMessage:
        assert t.device is not None
        where = f"DDATA of {t.group}/{t.node}/{t.device}"
        samples: list[WireSample] = []
        gateway: dict[str, pb.Payload.Metric] = {}
        historical = False
        for m in p.metrics:
            if m.HasField("alias") and not m.name:
                d = node.aliases.get(m.alias)
                if d is None or d.device != t.device:
                    raise NeedsBirth(f"{where}: alias {m.alias} is not one of this device's "
                                     "in the last births", rebirth=rebirth_request(t.group, t.node))
                name, datatype = d.name, d.datatype
            elif m.name:
                name, datatype = m.name, m.datatype  # sent by name: a metric without a birth
            else:
                raise MalformedPayload(f"{where}: a metric with neither alias nor name")
            if name in sp.DEVICE_METRICS:
                gateway[name] = m
                continue
            historical = historical or m.is_historical
            samples.append(_sample(t.device, name, m, datatype))
        seq_metric = gateway.get(sp.BATCH_SEQ)
        if seq_metric is None:
            raise MalformedPayload(f"{where}: no {sp.BATCH_SEQ!r} metric; the cloud stores by it")
        return DataMessage(
            enterprise=node.enterprise, gateway=t.node, session=node.session, stream=node.stream,
            seq=seq_metric.long_value, sent=p.timestamp or received_ms or now_ms(), samples=samples,
            counters=_counters(t.device, gateway), historical=historical,
        )

    def _ndeath(self, t: sp.Topic, p: pb.Payload, received_ms: int | None) -> list[Decoded]:
        node = self._nodes.get((t.group, t.node))
        where = f"NDEATH of {t.group}/{t.node}"
        v = _by_name(p)
        bdseq = _int(v, sp.BDSEQ, where)
        if node is None or bdseq != node.bdseq:
            return []  # unknown node, or the will of an older connection delivered late
        reason = "shutdown" if v.get(sp.DEATH_REASON) == "shutdown" else "lost"
        return [DeathMessage(enterprise=node.enterprise, gateway=t.node, session=node.session,
                             ts=p.timestamp or received_ms or now_ms(), reason=reason)]


def _sample(device: str, tag: str, m: pb.Payload.Metric, datatype: int) -> WireSample:
    props = sp.read_properties(m.properties) if m.HasField("properties") else {}
    quality = props.get(sp.P_QUALITY, sp.QUALITY_GOOD)
    q = "good" if quality == sp.QUALITY_GOOD else "uncertain" if props.get(sp.P_UNCERTAIN) else "bad"
    reason = props.get(sp.P_REASON)
    if quality == sp.QUALITY_STALE and reason is None:
        reason = "stale"
    return WireSample(
        d=device, t=tag, ts=m.timestamp, rt=props.get(sp.P_READ_TIME, m.timestamp),
        v=sp.get_value(m, datatype), q=q, c=props.get(sp.P_CODE), r=reason,
    )


def _counters(device: str, gateway: dict[str, pb.Payload.Metric]) -> Counters | None:
    if sp.BATCHES_PUBLISHED not in gateway:
        return None
    fields = {f: gateway[n].long_value for n, f in sp.COUNTERS.items() if n in gateway}
    dropped = gateway.get(sp.DROPPED)
    reasons = sp.read_properties(dropped.properties) if dropped is not None else {}
    dc = DeviceCounters(**fields, dropped=reasons)
    return Counters(batches_published=gateway[sp.BATCHES_PUBLISHED].long_value, devices={device: dc})
