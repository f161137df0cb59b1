"""Sparkplug from our own edge agent: its convention on top of Sparkplug (docs/sparkplug.md).

An NBIRTH that carries ``Gateway/Session`` comes from our agent. Its births describe the
gateway, its devices and tags the way JSON births do, and each DDATA is one batch whose
``Gateway/Batch Seq`` is the batch seq the cloud stores once, with the gateway's counters.
"""

from __future__ import annotations

from wire.json_v1 import (
    BirthMessage,
    Counters,
    DataMessage,
    DeviceCounters,
    DeviceInfo,
    EnterpriseInfo,
    TagInfo,
)
from wire.sample import Value, now_ms
from wire.sparkplug import convention as sp
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.errors import MalformedPayload, NeedsBirth, rebirth_request
from wire.sparkplug.nodes import NodeIdentity, NodeState
from wire.sparkplug.samples import sample


def is_agent_nbirth(values: dict[str, Value]) -> bool:
    return sp.SESSION in values


def by_name(p: pb.Payload) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for m in p.metrics:
        if m.name:
            out[m.name] = sp.get_value(m, m.datatype)
    return out


def text(values: dict[str, Value], name: str, where: str | None = None) -> str | None:
    """The string metric ``name``; with ``where``, a required one (MalformedPayload if absent)."""
    v = values.get(name)
    if isinstance(v, str):
        return v
    if where is not None:
        raise MalformedPayload(f"{where}: metric {name!r} missing or not a string (got {v!r})")
    return None


def integer(values: dict[str, Value], name: str, where: str) -> int:
    v = values.get(name)
    if not isinstance(v, int) or isinstance(v, bool):
        raise MalformedPayload(f"{where}: metric {name!r} missing or not an integer (got {v!r})")
    return v


def nbirth(t: sp.Topic, p: pb.Payload, v: dict[str, Value], identity: NodeIdentity) -> NodeState:
    where = f"NBIRTH of {t.group}/{t.node}"
    enterprise = text(v, sp.ENTERPRISE_ID) or identity.enterprise
    if identity.mapped and (enterprise, t.node) != (identity.enterprise, identity.gateway):
        raise MalformedPayload(
            f"{where}: the agent says it is {enterprise}/{t.node}, the cloud's sparkplug.nodes maps "
            f"it to {identity.enterprise}/{identity.gateway}; correct the mapping or the gateway config")
    node = NodeState(
        identity=NodeIdentity(enterprise, t.node, identity.devices, identity.mapped), agent=True,
        session=text(v, sp.SESSION, where) or "", stream=text(v, sp.STREAM),
        bdseq=integer(v, sp.BDSEQ, where), born_ms=p.timestamp, next_seq=integer(v, sp.NEXT_SEQ, where),
        agent_version=text(v, sp.AGENT_VERSION, where) or "",
        info=EnterpriseInfo(name=text(v, sp.ENTERPRISE_NAME), industry=text(v, sp.INDUSTRY),
                            district=text(v, sp.DISTRICT)),
    )
    for m in p.metrics:
        node.define(None, m.name, m.datatype, m.alias if m.HasField("alias") else None)
    return node


def birth(t: sp.Topic, node: NodeState, devices: list[DeviceInfo]) -> BirthMessage:
    return BirthMessage(enterprise=node.identity.enterprise, gateway=node.identity.gateway,
                        session=node.session, ts=node.born_ms, next_seq=node.next_seq or 1,
                        agent_version=node.agent_version, enterprise_info=node.info, devices=devices)


def dbirth(t: sp.Topic, p: pb.Payload, node: NodeState) -> BirthMessage:
    assert t.device is not None
    where = f"DBIRTH of {t.group}/{t.node}/{t.device}"
    node.forget_device(t.device)
    v = by_name(p)
    tags = []
    for m in p.metrics:
        if not m.name:
            raise MalformedPayload(f"{where}: a metric without a name")
        taken = node.define(t.device, m.name, m.datatype, m.alias if m.HasField("alias") else None)
        if taken is not None:
            raise MalformedPayload(f"{where}: alias {m.alias} of {m.name!r} is already "
                                   f"{taken.name!r} of {taken.device or 'the node'}")
        props = sp.read_properties(m.properties) if m.HasField("properties") else {}
        if sp.P_SOURCE_TYPE not in props:
            continue  # not a tag: device properties, batch seq, counters
        tags.append(TagInfo(
            name=m.name, type=str(props[sp.P_SOURCE_TYPE]), unit=props.get(sp.P_UNIT),
            interval_ms=props.get(sp.P_INTERVAL), description=props.get(sp.P_DESCRIPTION),
            report=props.get(sp.P_REPORT, "all"), heartbeat_ms=props.get(sp.P_HEARTBEAT),
        ))
    node.devices[t.device] = [tag.name for tag in tags]
    dev = DeviceInfo(
        id=node.identity.device(t.device), profile=text(v, sp.PROFILE, where) or "",
        protocol=text(v, sp.PROTOCOL, where) or "",
        manufacturer=text(v, sp.MANUFACTURER), model=text(v, sp.MODEL),
        workshop=text(v, sp.WORKSHOP), line=text(v, sp.LINE),
        key_process=bool(v.get(sp.KEY_PROCESS)), tags=tags,
    )
    return birth(t, node, [dev])


def ddata(t: sp.Topic, p: pb.Payload, node: NodeState, received_ms: int | None) -> DataMessage:
    assert t.device is not None
    where = f"DDATA of {t.group}/{t.node}/{t.device}"
    device = node.identity.device(t.device)
    samples = []
    gateway: dict[str, pb.Payload.Metric] = {}
    historical = False
    sent = p.timestamp or received_ms or now_ms()
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
        samples.append(sample(device, name, m, datatype, default_ts=sent))
    seq_metric = gateway.get(sp.BATCH_SEQ)
    if seq_metric is None:
        raise MalformedPayload(f"{where}: no {sp.BATCH_SEQ!r} metric; the cloud stores by it")
    return DataMessage(
        enterprise=node.identity.enterprise, gateway=node.identity.gateway, session=node.session,
        stream=node.stream, seq=seq_metric.long_value, sent=sent, samples=samples,
        counters=_counters(device, gateway), historical=historical,
    )


def _counters(device: str, gateway: dict[str, pb.Payload.Metric]) -> Counters | None:
    if sp.BATCHES_PUBLISHED not in gateway:
        return None
    fields = {f: gateway[n].long_value for n, f in sp.COUNTERS.items() if n in gateway}
    dropped = gateway.get(sp.DROPPED)
    reasons = sp.read_properties(dropped.properties) if dropped is not None else {}
    dc = DeviceCounters(**fields, dropped=reasons)
    return Counters(batches_published=gateway[sp.BATCHES_PUBLISHED].long_value, devices={device: dc})
