"""Sparkplug B 3.0 from edge nodes → the messages the cloud stores: a host application's decoder.

The API, all of it::

    SPARKPLUG_SUBSCRIPTION = "spBv1.0/+/+/#"
    decoder = SparkplugDecoder(identity=...)          # one per consumer; keeps per-node state
    decoder.decode(topic: str, payload: bytes, *, received_ms: int | None = None) -> list[Decoded]
    decoder.identity(group, node) -> NodeIdentity     # who a node is in the cloud
    rebirth_request(group: str, node: str) -> tuple[str, bytes]   # publish with QoS 0
    host_state(host_id: str, *, online: bool, timestamp: int) -> tuple[str, bytes]

Two kinds of edge node, told apart by their NBIRTH:

- **our agent** (its NBIRTH carries ``Gateway/Session``; ``decode_agent``): NBIRTH → a
  BirthMessage without devices, each DBIRTH → a BirthMessage with that device, DDATA → a
  DataMessage whose ``seq`` is the agent's batch seq, with its counters;
- **any other Sparkplug B 3.0 node** (``decode_node``): births → a BirthMessage and a NodeData
  of the birth values, NDATA/DDATA → NodeData keyed by ``ledger_key``, DDEATH → NodeData of bad
  samples; a metric that cannot be stored adds an ``Unstored`` (the rest is stored).

NDEATH → a DeathMessage, unless its bdSeq is not the one of the current NBIRTH (a late last
will of an older connection: ``[]``). NCMD, DCMD and STATE → ``[]``. Errors are ValueError
subclasses (``wire.sparkplug.errors``): ``MalformedPayload``, and ``NeedsBirth`` when data
arrive before their births (publish ``err.rebirth`` and decode the message again after the
births came: the node will not send it twice).

``host_state`` is for an ingest service that is the edge nodes' primary host application:
``online=False`` as its MQTT will and ``online=True`` after connecting, both retained, QoS 1,
with the same timestamp (the CONNECT time).

Aliases are per edge node, learnt from births; with several ingest workers behind a shared
subscription, every worker subscribes to the births without sharing (``spBv1.0/+/NBIRTH/+``,
``spBv1.0/+/DBIRTH/+/+``) and only DDATA/NDEATH are shared, so every worker knows every alias.
"""

from __future__ import annotations

import json

from google.protobuf.message import DecodeError
from pydantic import ValidationError

from common.config_files import describe_errors
from wire.json_v1 import BirthMessage, DataMessage, DeathMessage
from wire.sample import Value, now_ms
from wire.sparkplug import convention as sp
from wire.sparkplug import decode_agent as agent
from wire.sparkplug import decode_node as any_node
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.decode_node import NodeData, Unstored, ledger_key
from wire.sparkplug.errors import MalformedPayload, NeedsBirth, SparkplugError, rebirth_request
from wire.sparkplug.nodes import Identity, NodeIdentity, NodeState, default_identity

SPARKPLUG_SUBSCRIPTION = sp.SPARKPLUG_SUBSCRIPTION
Decoded = BirthMessage | DataMessage | DeathMessage | NodeData | Unstored

__all__ = ["SPARKPLUG_SUBSCRIPTION", "Decoded", "MalformedPayload", "NeedsBirth", "NodeData",
           "NodeIdentity", "SparkplugDecoder", "SparkplugError", "Unstored", "host_state", "ledger_key",
           "rebirth_request"]


def host_state(host_id: str, *, online: bool, timestamp: int) -> tuple[str, bytes]:
    """The Sparkplug 3.0 STATE message of a host application: topic and JSON payload."""
    body = json.dumps({"online": online, "timestamp": timestamp}, separators=(",", ":"))
    return sp.state_topic(host_id), body.encode()


class SparkplugDecoder:
    def __init__(self, *, identity: Identity = default_identity) -> None:
        self.identity = identity
        self._nodes: dict[tuple[str, str], NodeState] = {}

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
            return self._decode(t, p, received_ms)
        except ValidationError as err:
            raise MalformedPayload(f"{topic}: {err.error_count()} invalid field(s): "
                                   + "; ".join(describe_errors(err, dotted=True, limit=3))) from err
        except sp.UnsupportedValue as err:
            raise MalformedPayload(f"{topic}: {err}") from err

    def _decode(self, t: sp.Topic, p: pb.Payload, received_ms: int | None) -> list[Decoded]:
        if t.kind == "NBIRTH":
            return self._nbirth(t, p, received_ms)
        if t.kind == "NDEATH":
            return self._ndeath(t, p, received_ms)
        node = self._nodes.get((t.group, t.node))
        if node is None:
            raise NeedsBirth(f"{t.kind} from {t.group}/{t.node} before its NBIRTH",
                             rebirth=rebirth_request(t.group, t.node))
        if p.HasField("seq"):
            node.last_seq = p.seq  # kept for diagnosis; order is not enforced (QoS 1 resends)
        if node.agent:
            if t.kind == "DBIRTH":
                return [agent.dbirth(t, p, node)]
            if t.kind == "DDATA":
                return [agent.ddata(t, p, node, received_ms)]
            return []  # our agent sends no NDATA; it reports offline devices in DDATA
        out: list[Decoded] = []
        if t.kind == "DBIRTH":
            out += any_node.dbirth(t, p, node)
        elif t.kind in ("DDATA", "NDATA"):
            out += any_node.data(t, p, node, received_ms)
        elif t.kind == "DDEATH":
            out += any_node.ddeath(t, p, node, received_ms)
        return out

    def _nbirth(self, t: sp.Topic, p: pb.Payload, received_ms: int | None) -> list[Decoded]:
        values: dict[str, Value] = {}
        for m in p.metrics:  # only what tells the kind of node: any other value may be refused later
            if m.name in (sp.BDSEQ, sp.SESSION):
                values[m.name] = sp.get_value(m, m.datatype)
        identity = self.identity(t.group, t.node)
        key = (t.group, t.node)
        out: list[Decoded]
        if agent.is_agent_nbirth(values):
            node = agent.nbirth(t, p, agent.by_name(p), identity)
            out = [agent.birth(t, node, [])]
        else:
            node, births = any_node.nbirth(t, p, values, identity, self._nodes.get(key), received_ms)
            out = list(births)
        self._nodes[key] = node  # a new birth sequence forgets every old alias
        return out

    def _ndeath(self, t: sp.Topic, p: pb.Payload, received_ms: int | None) -> list[Decoded]:
        node = self._nodes.get((t.group, t.node))
        where = f"NDEATH of {t.group}/{t.node}"
        v = agent.by_name(p)
        bdseq = agent.integer(v, sp.BDSEQ, where)
        if node is None or bdseq != node.bdseq:
            return []  # unknown node, or the will of an older connection delivered late
        reason = "shutdown" if v.get(sp.DEATH_REASON) == "shutdown" else "lost"
        return [DeathMessage(enterprise=node.identity.enterprise, gateway=node.identity.gateway,
                             session=node.session, ts=p.timestamp or received_ms or now_ms(),
                             reason=reason)]
