"""The gate's bounds on held messages, its STATE messages and the identity mapping (unit tests:
the publish function is a list; the broker-level behaviour is in test_any_node.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cloud_ingest.config import ConfigError, SparkplugHostConfig, load_config
from cloud_ingest.delivery import Delivery
from cloud_ingest.inbound import Rejected
from cloud_ingest.sparkplug_gate import SparkplugGate
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.decoder import NodeData

T0 = 1764403200000


def ddata(node: str, seq: int) -> Delivery:
    p = pb.Payload(timestamp=T0 + seq, seq=seq)
    p.metrics.add(alias=5, timestamp=T0 + seq, double_value=1.0)
    return Delivery(f"spBv1.0/g/DDATA/{node}/dev", p.SerializeToString(), seq, 1, 1, T0)


def nbirth(node: str) -> Delivery:
    p = pb.Payload(timestamp=T0, seq=0)
    p.metrics.add(name="bdSeq", datatype=pb.Int64, long_value=0)
    return Delivery(f"spBv1.0/g/NBIRTH/{node}", p.SerializeToString(), 0, 0, 1, T0)


def dbirth(node: str) -> Delivery:
    p = pb.Payload(timestamp=T0, seq=1)
    p.metrics.add(name="x", alias=5, datatype=pb.Double, is_null=True)
    return Delivery(f"spBv1.0/g/DBIRTH/{node}/dev", p.SerializeToString(), 0, 0, 1, T0)


def reasons(out: list[Delivery]) -> list[str]:
    return [m.reason for d in out for m in d.decoded or () if isinstance(m, Rejected)]


def gate(published: list[tuple[str, bytes, int, bool]], **cfg: object) -> SparkplugGate:
    return SparkplugGate(SparkplugHostConfig.model_validate(cfg), max_held=50, persistent=False,
                         publish=lambda t, p, q, r: published.append((t, p, q, r)))


def test_held_messages_are_bounded_per_node_in_time_and_overall() -> None:
    sent: list[tuple[str, bytes, int, bool]] = []
    g = gate(sent, hold_s=10, hold_per_node=2, rebirth_every_s=60)
    assert g.feed(ddata("a", 1)) == [] and g.feed(ddata("a", 2)) == []
    assert reasons(g.feed(ddata("a", 3))) == ["sparkplug_needs_birth"]  # over the node's cap
    assert g.feed(ddata("b", 1)) == []  # another node still has room
    assert [t for t, *_ in sent] == ["spBv1.0/g/NCMD/a", "spBv1.0/g/NCMD/b"]  # one request per node
    s = g.status()
    assert (s.messages, s.nodes, s.overflowed, s.rebirth_requests) == (3, 2, 1, 2)
    assert g.expire(now=time.monotonic() + 5) == []
    expired = g.expire(now=time.monotonic() + 11)
    assert reasons(expired) == ["sparkplug_needs_birth"] * 3 and g.held() == 0
    detail = next(m.detail for d in expired for m in d.decoded or () if isinstance(m, Rejected))
    assert "no births within sparkplug.hold_s=10 s (1 rebirth request(s))" in detail
    assert g.status().expired == 3
    small = SparkplugGate(SparkplugHostConfig(), max_held=2, persistent=False, publish=lambda *a: None)
    small.feed(ddata("a", 1))
    small.feed(ddata("b", 1))
    rejected = small.feed(ddata("c", 1))
    assert "2 messages of all nodes" in next(m.detail for d in rejected for m in d.decoded or ()
                                              if isinstance(m, Rejected))


def test_births_release_what_was_held_in_order() -> None:
    g = gate([], hold_per_node=5)
    g.feed(ddata("a", 1))
    g.feed(ddata("a", 2))
    assert len(g.feed(nbirth("a"))) == 1  # the node's DDATA still need the device's aliases
    out = g.feed(dbirth("a"))
    data = [m for d in out for m in d.decoded or () if isinstance(m, NodeData)]
    assert [d.samples[0].ts for d in data] == [T0 + 1, T0 + 2] and g.held() == 0


def test_a_clean_session_turns_held_messages_into_dead_letters_on_reset_and_stop() -> None:
    g = gate([])
    g.feed(ddata("a", 1))
    assert reasons(g.reset()) == ["sparkplug_needs_birth"]
    g.feed(ddata("a", 2))
    assert reasons(g.release()) == ["sparkplug_needs_birth"]
    kept = SparkplugGate(SparkplugHostConfig(), max_held=5, persistent=True, publish=lambda *a: None)
    kept.feed(ddata("a", 1))
    assert kept.release() == [] and kept.held() == 1  # the broker keeps it for our return
    assert kept.reset() == [] and kept.held() == 0     # ... and redelivers it after a reconnect


def test_state_as_primary_host() -> None:
    sent: list[tuple[str, bytes, int, bool]] = []
    g = gate(sent, host_id="cloud-1")
    will = g.will()
    assert will is not None and will[0] == "spBv1.0/STATE/cloud-1"
    off = json.loads(will[1])
    g.on_connect()
    [(topic, raw, qos, retain)] = sent
    assert (topic, qos, retain) == ("spBv1.0/STATE/cloud-1", 1, True)
    assert json.loads(raw) == {"online": True, "timestamp": off["timestamp"]} and off["online"] is False
    stale = Delivery("spBv1.0/STATE/cloud-1", will[1], 1, 1, 1, T0)
    assert g.feed(stale)[0].decoded == ()  # our own STATE: nothing to store
    again = json.loads(sent[-1][1])  # stale offline seen: online again, newer
    assert again["online"] is True and again["timestamp"] > off["timestamp"]
    farewell = g.farewell()
    assert farewell is not None and json.loads(farewell[1])["online"] is False
    assert gate([]).will() is None and gate([]).subscriptions() == []


def test_the_mapping_overrides_the_default_per_group_and_node() -> None:
    cfg = SparkplugHostConfig.model_validate({"nodes": [
        {"group": "Plant A", "enterprise": "ent-a", "devices": {"Pump 1": "pump-1"}},
        {"group": "Plant A", "node": "Line 2 Edge", "gateway": "gw-line2", "devices": {"Pump 1": "pump-9"}},
    ]})
    assert cfg.identity("Plant A", "edge-1") == cfg.identity("Plant A", "edge-1")
    one = cfg.identity("Plant A", "Line 2 Edge")
    assert (one.enterprise, one.gateway, one.device("Pump 1"), one.device("other"), one.mapped) == (
        "ent-a", "gw-line2", "pump-9", "other", True)
    whole = cfg.identity("Plant A", "edge-1")
    assert (whole.enterprise, whole.gateway, whole.device("Pump 1")) == ("ent-a", "edge-1", "pump-1")
    default = cfg.identity("plant-b", "edge-1")
    assert (default.enterprise, default.gateway, default.mapped) == ("plant-b", "edge-1", False)


@pytest.mark.parametrize(("yaml", "message"), [
    ("sparkplug:\n  nodes:\n    - {group: g, gateway: gw}\n", "gateway names one edge node"),
    ("sparkplug:\n  nodes:\n    - {group: g}\n    - {group: g}\n", "group 'g' is mapped twice"),
    ("sparkplug:\n  nodes:\n    - {group: g, enterprise: 'bad code'}\n", r"sparkplug.nodes\[0\].enterprise"),
    ("sparkplug:\n  hold_s: 0\n", "sparkplug.hold_s"),
])
def test_mapping_errors_name_the_field(tmp_path: Path, yaml: str, message: str) -> None:
    f = tmp_path / "cloud.yaml"
    f.write_text(yaml)
    with pytest.raises(ConfigError, match=message):
        load_config(f)
