"""The decoder as a host for any edge node: identity, keys, births as data, partial refusals."""

from __future__ import annotations

import pytest

from wire.json_v1 import BirthMessage, DeathMessage
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.decoder import (
    MalformedPayload,
    NeedsBirth,
    NodeData,
    SparkplugDecoder,
    Unstored,
    ledger_key,
)
from wire.sparkplug.nodes import NodeIdentity

T0 = 1764403200000
G, N = "plant-a", "edge-1"


def nbirth(bdseq: int = 3, ts: int = T0, *extra: pb.Payload.Metric) -> bytes:
    p = pb.Payload(timestamp=ts, seq=0)
    p.metrics.add(name="bdSeq", datatype=pb.Int64, long_value=bdseq, timestamp=ts)
    p.metrics.add(name="Node Control/Rebirth", alias=1, datatype=pb.Boolean, boolean_value=False,
                  timestamp=ts)
    p.metrics.extend(extra)
    return p.SerializeToString()


def dbirth(seq: int = 1) -> bytes:
    p = pb.Payload(timestamp=T0, seq=seq)
    p.metrics.add(name="Counter", alias=10, datatype=pb.UInt64, long_value=2**64 - 1, timestamp=T0)
    p.metrics.add(name="Level", alias=11, datatype=pb.Float, is_null=True, timestamp=T0)
    p.metrics.add(name="Small", alias=12, datatype=pb.Int8, int_value=1, timestamp=T0)
    return p.SerializeToString()


def ddata(seq: int, ts: int, **values: int) -> bytes:
    p = pb.Payload(timestamp=ts, seq=seq)
    for alias, v in values.items():
        p.metrics.add(alias=int(alias[1:]), int_value=v, timestamp=ts)
    return p.SerializeToString()


def born(dec: SparkplugDecoder) -> list[object]:
    return [*dec.decode(f"spBv1.0/{G}/NBIRTH/{N}", nbirth()),
            *dec.decode(f"spBv1.0/{G}/DBIRTH/{N}/dev-1", dbirth())]


def test_by_default_the_group_is_the_enterprise_and_the_node_the_gateway() -> None:
    out = born(SparkplugDecoder())
    births = [m for m in out if isinstance(m, BirthMessage)]
    assert {(b.enterprise, b.gateway) for b in births} == {(G, N)}
    assert births[0].devices == [] and births[0].next_seq is None  # no batch numbers: unknown
    [dev] = births[1].devices
    assert (dev.id, dev.protocol, [(t.name, t.type, t.interval_ms) for t in dev.tags]) == (
        "dev-1", "sparkplug",
        [("Counter", "UInt64", None), ("Level", "Float", None), ("Small", "Int8", None)])
    # the DBIRTH's values are data; the null one is only a definition
    [values] = [m for m in out if isinstance(m, NodeData)]
    assert [(s.t, s.v) for s in values.samples] == [("Counter", 2**64 - 1), ("Small", 1)] and values.birth


def test_a_mapping_names_enterprise_gateway_and_devices() -> None:
    ident = NodeIdentity("ent-x", "gw-x", {"dev-1": "meter-7"}, mapped=True)
    dec = SparkplugDecoder(identity=lambda g, n: ident)
    born(dec)
    [data] = dec.decode(f"spBv1.0/{G}/DDATA/{N}/dev-1", ddata(2, T0 + 1000, a12=-3 & 0xFFFFFFFF))
    assert isinstance(data, NodeData)
    assert (data.enterprise, data.gateway, data.samples[0].d, data.samples[0].v) == (
        "ent-x", "gw-x", "meter-7", -3)


def test_the_ledger_key_is_the_same_for_the_same_message_and_differs_otherwise() -> None:
    dec = SparkplugDecoder()
    born(dec)
    raw = ddata(2, T0 + 1000, a12=5)
    [first] = dec.decode(f"spBv1.0/{G}/DDATA/{N}/dev-1", raw)
    [again] = dec.decode(f"spBv1.0/{G}/DDATA/{N}/dev-1", raw)
    [other] = dec.decode(f"spBv1.0/{G}/DDATA/{N}/dev-1", ddata(3, T0 + 1000, a12=5))
    assert isinstance(first, NodeData) and isinstance(again, NodeData) and isinstance(other, NodeData)
    assert first.key == again.key == ledger_key(T0 + 1000, 3, 2) == ((T0 + 1000) << 16) | (3 << 8) | 2
    assert other.key != first.key and first.key < 2**63


def test_a_rebirth_keeps_the_session_and_a_new_bdseq_starts_one() -> None:
    dec = SparkplugDecoder()

    def birth(raw: bytes) -> BirthMessage:
        [b] = [m for m in dec.decode(f"spBv1.0/{G}/NBIRTH/{N}", raw) if isinstance(m, BirthMessage)]
        return b

    first, again, new = birth(nbirth(3, T0)), birth(nbirth(3, T0 + 9)), birth(nbirth(4, T0 + 99))
    assert first.session == again.session == f"spb-3-{T0}" and new.session == f"spb-4-{T0 + 99}"
    death = pb.Payload(timestamp=T0 + 100)
    death.metrics.add(name="bdSeq", datatype=pb.Int64, long_value=3)
    assert dec.decode(f"spBv1.0/{G}/NDEATH/{N}", death.SerializeToString()) == []  # the old will, late
    death.metrics[0].long_value = 4
    [gone] = dec.decode(f"spBv1.0/{G}/NDEATH/{N}", death.SerializeToString())
    assert isinstance(gone, DeathMessage) and (gone.session, gone.reason) == (new.session, "lost")


def test_one_bad_metric_does_not_cost_the_others() -> None:
    dec = SparkplugDecoder()
    born(dec)
    out = dec.decode(f"spBv1.0/{G}/DDATA/{N}/dev-1", ddata(2, T0 + 1000, a12=300, a10=7))
    [data] = [m for m in out if isinstance(m, NodeData)]
    [refused] = [m for m in out if isinstance(m, Unstored)]
    assert [(s.t, s.v) for s in data.samples] == [("Counter", 7)]
    assert "1 metric(s) not stored" in refused.detail
    assert "Small: 300 is out of range for Int8" in refused.detail


def test_ddeath_marks_every_metric_of_the_device_bad_and_unknown_aliases_ask_for_births() -> None:
    dec = SparkplugDecoder()
    born(dec)
    death = pb.Payload(timestamp=T0 + 5, seq=3).SerializeToString()
    [dead] = dec.decode(f"spBv1.0/{G}/DDEATH/{N}/dev-1", death)
    assert isinstance(dead, NodeData)
    assert [(s.t, s.v, s.q, s.ts) for s in dead.samples] == [
        ("Counter", None, "bad", T0 + 5), ("Level", None, "bad", T0 + 5), ("Small", None, "bad", T0 + 5)]
    assert dec.decode(f"spBv1.0/{G}/DDEATH/{N}/never-born", pb.Payload(seq=4).SerializeToString()) == []
    with pytest.raises(NeedsBirth, match="alias 99"):
        dec.decode(f"spBv1.0/{G}/DDATA/{N}/dev-1", ddata(5, T0, a99=1))


def test_codes_that_cannot_be_stored_say_how_to_map_them() -> None:
    with pytest.raises(MalformedPayload, match=r"'Plant A'.*sparkplug.nodes"):
        SparkplugDecoder().decode(f"spBv1.0/Plant A/NBIRTH/{N}", nbirth())
    dec = SparkplugDecoder()
    dec.decode(f"spBv1.0/{G}/NBIRTH/{N}", nbirth())
    with pytest.raises(MalformedPayload, match=r"device code 'Pump 1'.*sparkplug.nodes\[\].devices"):
        dec.decode(f"spBv1.0/{G}/DBIRTH/{N}/Pump 1", dbirth())
    # its aliases are known, so its data are refused for the same reason, not held for births
    [refused] = dec.decode(f"spBv1.0/{G}/DDATA/{N}/Pump 1", ddata(2, T0, a10=1))
    assert isinstance(refused, Unstored) and "device code 'Pump 1'" in refused.detail


def test_quality_properties_are_honoured() -> None:
    dec = SparkplugDecoder()
    born(dec)
    p = pb.Payload(timestamp=T0, seq=2)
    for alias, quality in ((10, 192), (11, 500), (12, 0)):
        m = p.metrics.add(alias=alias, timestamp=T0)
        if alias == 11:
            m.is_null = True
        else:
            m.int_value = 1
        m.properties.keys.append("Quality")
        m.properties.values.add(type=pb.Int32, int_value=quality)
    m = p.metrics.add(alias=12, timestamp=T0 + 1, int_value=2)
    m.properties.keys.append("Quality")
    m.properties.values.add(type=pb.Int32, int_value=100)  # an OPC-style uncertain code, kept
    [data] = dec.decode(f"spBv1.0/{G}/DDATA/{N}/dev-1", p.SerializeToString())
    assert isinstance(data, NodeData)
    assert [(s.t, s.v, s.q, s.c, s.r) for s in data.samples] == [
        ("Counter", 1, "good", None, None), ("Level", None, "bad", None, "stale"),
        ("Small", 1, "bad", None, None), ("Small", 2, "uncertain", 100, None)]
