"""The agent's batches as Sparkplug B 3.0 messages (docs/sparkplug.md).

The agent drives this encoder exactly as it drives the JSON one (edge_agent/encoders.py): a
will before every CONNECT, births after it, one DDATA per sealed batch (batches are sealed per
device, so one batch is one device), a farewell on shutdown. What Sparkplug adds lives here:
bdSeq pairing NBIRTH with the last-will NDEATH, the 0–255 message seq that restarts with every
NBIRTH, aliases, rebirth on request, and waiting for the primary host's STATE.

Births go out with QoS 0 as Sparkplug requires (they are rebuilt on every connect, so paho must
not resend a stale one after a reconnect); DDATA go out with QoS 1, because the agent deletes a
batch only when the broker acknowledged it — a deliberate departure from Sparkplug's QoS 0.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Required

from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic needs this one on Python 3.11

from edge_agent.buffer import SealedBatch
from edge_agent.config import GatewayConfig
from edge_agent.encoders import Outgoing
from edge_agent.sparkplug.bdseq import BdSeqStore
from wire.json_v1 import BirthMessage, Counters, DeviceInfo
from wire.sample import Value, now_ms
from wire.sparkplug import convention as sp
from wire.sparkplug import sparkplug_b_pb2 as pb

log = logging.getLogger(__name__)


class _Row(TypedDict, total=False):
    """A sample as the buffer stores it (``sample_json``, edge_agent/buffer/rows.py). Types
    only, no length limits: a batch is already committed, and nothing in it may stop the
    sender."""

    d: Required[str]
    t: Required[str]
    ts: Required[int]
    rt: Required[int]
    v: Value
    q: str
    c: int | None
    r: str | None


class _BlockRow(TypedDict):
    """Good samples read together as the buffer stores them (``block_json``): a batch sealed
    under the JSON encoding, sent after a switch to Sparkplug."""

    d: str
    ts: int
    rt: int
    values: dict[str, Value]


_ROWS = TypeAdapter(list[_BlockRow | _Row])  # the batch's JSON parsed in pydantic-core, typed


def _rows(batch: SealedBatch) -> list[_Row]:
    out: list[_Row] = []
    for item in _ROWS.validate_json(batch.samples_json):
        if "values" in item:
            b: _BlockRow = item  # type: ignore[assignment]
            out += [{"d": b["d"], "t": t, "ts": b["ts"], "rt": b["rt"], "v": v}
                    for t, v in b["values"].items()]
        else:
            out.append(item)
    return out


def _metric(payload: pb.Payload, ts: int, value: Value, datatype: int, *, name: str | None = None,
            alias: int | None = None) -> pb.Payload.Metric:
    """Append a metric. Births and metrics sent by name declare their datatype; aliased DDATA
    metrics do not (Sparkplug: SHOULD NOT), the host knows it from the birth."""
    m = payload.metrics.add()
    if name is not None:
        m.name = name
        m.datatype = datatype
    if alias is not None:
        m.alias = alias
    m.timestamp = ts
    sp.set_value(m, datatype, value)
    return m


class SparkplugEncoder:
    per_device_batches = True

    def __init__(self, cfg: GatewayConfig, *, session: str, birth: Callable[[int], BirthMessage],
                 bdseq_path: Path | None = None, stream: str | None = None) -> None:
        conf = cfg.publish.sparkplug
        self.stream = stream
        self.group, self.node = conf.group_id, cfg.gateway.id
        self.primary_host = conf.primary_host_id
        self.session = session
        self._birth = birth
        # Beside the buffer: the buffer path is where the gateway keeps what must survive.
        self._bdseq = BdSeqStore(bdseq_path or Path(cfg.buffer.path + ".bdseq"))
        self.bdseq: int | None = None          # of the current (or next) CONNECT
        self._seq = 0                          # next message seq
        self._aliases: dict[str | None, dict[str, int]] = {}  # device (None: node) -> name -> alias
        self._types: dict[str, dict[str, int]] = {}           # device -> tag -> datatype
        self._born = False
        self._births_pending = False
        self._reconnect: Outgoing | None = None
        self._host_online = self.primary_host is None
        self._host_ts = -1
        self._unknown_devices: set[str] = set()
        self._assign_aliases(birth(1))  # fails at start-up, not on connect, if a tag name clashes

    # -- topics and small builders --------------------------------------------------------------

    def _topic(self, kind: str, device: str | None = None) -> str:
        return str(sp.Topic(self.group, kind, self.node, device))

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) % 256
        return seq

    def _assign_aliases(self, msg: BirthMessage) -> None:
        """Aliases unique across the whole edge node, stable for a given config, so a DDATA that
        paho resends after a reconnect still decodes against the new births."""
        alias = iter(range(1, 1 << 62))
        self._aliases = {None: {name: next(alias) for name in sp.NODE_METRICS}}
        self._types = {}
        for dev in msg.devices:
            table = {name: next(alias) for name in sp.DEVICE_METRICS}
            for tag in dev.tags:
                if tag.name in table:
                    raise ValueError(f"device {dev.id!r}: tag name {tag.name!r} is reserved by the "
                                     "Sparkplug encoding (docs/sparkplug.md); rename the tag")
                table[tag.name] = next(alias)
            self._aliases[dev.id] = table
            self._types[dev.id] = {t.name: sp.datatype_for(t.type) for t in dev.tags}

    def _ndeath(self, reason: str) -> Outgoing:
        if self.bdseq is None:
            self.bdseq = self._bdseq.advance()
        p = pb.Payload(timestamp=now_ms())  # NDEATH carries no seq
        _metric(p, p.timestamp, self.bdseq, sp.INT64, name=sp.BDSEQ)
        _metric(p, p.timestamp, reason, sp.STRING, name=sp.DEATH_REASON)
        return Outgoing(self._topic("NDEATH"), p.SerializeToString(), qos=1, retain=False)

    # -- Encoder protocol ---------------------------------------------------------------------

    def will(self) -> Outgoing:
        """Called before every CONNECT (paho reconnects too): a new bdSeq each time."""
        self.bdseq = self._bdseq.advance()
        self._born = False
        if self.primary_host is not None:
            self._host_online = False  # wait for the host's (retained) STATE on the new session
        return self._ndeath("lost")

    def births(self, *, next_seq: int) -> list[Outgoing]:
        if not self._host_online:
            self._births_pending = True  # sent when the primary host's STATE says online
            return []
        return self._births(next_seq)

    def _births(self, next_seq: int) -> list[Outgoing]:
        msg = self._birth(next_seq)
        self._assign_aliases(msg)
        if self.bdseq is None:
            self.bdseq = self._bdseq.advance()
        self._seq = 0
        ent = msg.enterprise_info
        node_values: dict[str, Value] = {
            sp.BDSEQ: self.bdseq, sp.REBIRTH: False, sp.ENTERPRISE_ID: msg.enterprise,
            sp.ENTERPRISE_NAME: ent.name, sp.INDUSTRY: ent.industry, sp.DISTRICT: ent.district,
            sp.AGENT_VERSION: msg.agent_version, sp.SESSION: msg.session, sp.NEXT_SEQ: msg.next_seq,
            sp.STREAM: self.stream,
        }
        nbirth = pb.Payload(timestamp=msg.ts, seq=self._next_seq())
        for name, datatype in sp.NODE_METRICS.items():
            _metric(nbirth, msg.ts, node_values[name], datatype, name=name,
                    alias=self._aliases[None][name])
        out = [Outgoing(self._topic("NBIRTH"), nbirth.SerializeToString(), qos=0)]
        out += [Outgoing(self._topic("DBIRTH", dev.id), self._dbirth(dev, msg.ts), qos=0)
                for dev in msg.devices]
        self._born, self._births_pending = True, False
        return out

    def _dbirth(self, dev: DeviceInfo, ts: int) -> bytes:
        table = self._aliases[dev.id]
        values: dict[str, Value] = {
            sp.PROFILE: dev.profile, sp.PROTOCOL: dev.protocol, sp.MANUFACTURER: dev.manufacturer,
            sp.MODEL: dev.model, sp.WORKSHOP: dev.workshop, sp.LINE: dev.line,
            sp.KEY_PROCESS: dev.key_process,
        }
        p = pb.Payload(timestamp=ts, seq=self._next_seq())
        for name, datatype in sp.DEVICE_METRICS.items():  # counters and batch seq: null until data
            _metric(p, ts, values.get(name), datatype, name=name, alias=table[name])
        for tag in dev.tags:
            m = _metric(p, ts, None, sp.datatype_for(tag.type), name=tag.name, alias=table[tag.name])
            props: dict[str, tuple[int, Value]] = {
                sp.P_SOURCE_TYPE: (sp.STRING, tag.type),
                sp.P_INTERVAL: (sp.UINT64, tag.interval_ms),
                sp.P_REPORT: (sp.STRING, tag.report),
            }
            if tag.unit is not None:
                props[sp.P_UNIT] = (sp.STRING, tag.unit)
            if tag.description is not None:
                props[sp.P_DESCRIPTION] = (sp.STRING, tag.description)
            if tag.heartbeat_ms is not None:
                props[sp.P_HEARTBEAT] = (sp.UINT64, tag.heartbeat_ms)
            m.properties.CopyFrom(sp.properties(props))
        return p.SerializeToString()

    def batch(self, batch: SealedBatch, *, counters: Counters, historical: bool) -> list[Outgoing]:
        by_device: dict[str, list[_Row]] = {}
        for s in _rows(batch):
            by_device.setdefault(s["d"], []).append(s)
        if len(by_device) > 1:
            # Only batches sealed under the JSON encoding mix devices; see docs/sparkplug.md.
            log.warning("batch %d mixes %d devices; sending one DDATA per device with the same "
                        "batch seq", batch.seq, len(by_device))
        return [self._ddata(batch.seq, dev, rows, counters, historical)
                for dev, rows in by_device.items()]

    def _ddata(self, seq: int, dev: str, rows: list[_Row], counters: Counters,
               historical: bool) -> Outgoing:
        table = self._aliases.get(dev)
        types = self._types.get(dev, {})
        if table is None and dev not in self._unknown_devices:
            self._unknown_devices.add(dev)
            log.warning("device %r has no DBIRTH (removed from the config?): its backlog goes out "
                        "with metric names instead of aliases", dev)
        sent = now_ms()
        p = pb.Payload(timestamp=sent)

        def add(name: str, ts: int, value: Value, datatype: int) -> pb.Payload.Metric:
            alias = (table or {}).get(name)
            # A metric without a birth definition travels by name, with its datatype.
            return _metric(p, ts, value, datatype, name=None if alias is not None else name, alias=alias)

        for s in rows:
            m = add(s["t"], s["ts"], s.get("v"), types.get(s["t"], sp.DOUBLE))
            if historical:
                m.is_historical = True
            props: dict[str, tuple[int, Value]] = {}
            q = s.get("q", "good")
            if q != "good":
                props[sp.P_QUALITY] = (sp.INT32, sp.QUALITY_BAD)
                if q == "uncertain":
                    props[sp.P_UNCERTAIN] = (sp.BOOLEAN, True)
            if s["rt"] != s["ts"]:
                props[sp.P_READ_TIME] = (sp.DATETIME, s["rt"])
            if (code := s.get("c")) is not None:
                props[sp.P_CODE] = (sp.INT64, code)
            if (reason := s.get("r")) is not None:
                props[sp.P_REASON] = (sp.STRING, reason)
            if props:
                m.properties.CopyFrom(sp.properties(props))
        add(sp.BATCH_SEQ, sent, seq, sp.UINT64)
        dc = counters.devices.get(dev)
        if dc is not None:
            add(sp.BATCHES_PUBLISHED, sent, counters.batches_published, sp.UINT64)
            for name, field in sp.COUNTERS.items():
                add(name, sent, getattr(dc, field), sp.UINT64)
            m = add(sp.DROPPED, sent, sum(dc.dropped.values()), sp.UINT64)
            if dc.dropped:
                m.properties.CopyFrom(sp.properties({k: (sp.UINT64, n) for k, n in dc.dropped.items()}))
        p.seq = self._next_seq()
        return Outgoing(self._topic("DDATA", dev), p.SerializeToString(), qos=1)

    def farewell(self) -> Outgoing:
        return self._ndeath("shutdown")

    def subscriptions(self) -> list[str]:
        subs = [self._topic("NCMD"), self._topic("DCMD", "+")]
        if self.primary_host is not None:
            subs.append(sp.state_topic(self.primary_host))
        return subs

    def on_message(self, topic: str, payload: bytes, *, next_seq: int) -> list[Outgoing]:
        if self.primary_host is not None and topic == sp.state_topic(self.primary_host):
            return self._on_state(payload, next_seq)
        t = sp.parse_topic(topic)
        if t is None or (t.group, t.node) != (self.group, self.node):
            return []
        if t.kind == "DCMD":
            log.info("ignoring DCMD for %s: this gateway exposes no writable metrics", t.device)
            return []
        if t.kind != "NCMD":
            return []
        try:
            cmd = pb.Payload.FromString(payload)
        except Exception as err:  # protobuf's DecodeError; the agent logs and goes on
            raise ValueError(f"NCMD on {topic} is not a Sparkplug B payload: {err}") from err
        rebirth_alias = self._aliases[None][sp.REBIRTH]
        for m in cmd.metrics:
            named = m.name == sp.REBIRTH or (not m.name and m.alias == rebirth_alias)
            if named and m.WhichOneof("value") == "boolean_value" and m.boolean_value:
                log.info("rebirth requested on %s", topic)
                return self.births(next_seq=next_seq)
        return []

    def _on_state(self, payload: bytes, next_seq: int) -> list[Outgoing]:
        try:
            doc = json.loads(payload)
            online, ts = doc["online"], doc["timestamp"]
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"STATE of {self.primary_host} is not Sparkplug 3.0 JSON: {err!r}") from err
        if not isinstance(online, bool) or not isinstance(ts, int):
            raise ValueError(f"STATE of {self.primary_host}: online must be a bool, timestamp an int")
        if ts < self._host_ts:
            return []  # an older STATE delivered late
        self._host_ts = ts
        was_online, self._host_online = self._host_online, online
        if online and (self._births_pending or not self._born):
            return self._births(next_seq)
        if not online and was_online and self._born:
            # Sparkplug 3.0: the edge node disconnects (NDEATH first) and connects again with
            # a new bdSeq, then waits for the host's STATE before its births. Data wait in
            # the buffer meanwhile (ready() is False).
            self._born, self._births_pending = False, True
            self._reconnect = self._ndeath("primary host offline")
        return []

    def take_reconnect(self) -> Outgoing | None:
        farewell, self._reconnect = self._reconnect, None
        return farewell

    def ready(self) -> bool:
        return self._born and self._host_online
