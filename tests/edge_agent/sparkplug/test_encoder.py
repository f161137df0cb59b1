"""The encoder's Sparkplug sequences, with no broker: births, data, bdSeq, seq, rebirth, STATE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.sparkplug.encoder import SparkplugEncoder
from tests.edge_agent.sparkplug.common import (
    COUNTERS,
    SAMPLES,
    T0,
    batch,
    birth_message,
    config,
    encoder,
    ncmd_rebirth,
    payload,
)
from wire.sparkplug import convention as sp


def metric_values(raw: bytes) -> dict[str, object]:
    return {m.name: sp.get_value(m, m.datatype) for m in payload(raw).metrics}


def test_births_are_nbirth_then_one_dbirth_per_device_with_seq_from_zero(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    will = enc.will()
    out = enc.births(next_seq=42)
    assert [o.topic for o in out] == ["spBv1.0/plant-t/NBIRTH/gw-t", "spBv1.0/plant-t/DBIRTH/gw-t/meter-01",
                                      "spBv1.0/plant-t/DBIRTH/gw-t/plc-02"]
    assert all(o.qos == 0 and not o.retain for o in out)
    assert [payload(o.payload).seq for o in out] == [0, 1, 2]
    node = metric_values(out[0].payload)
    assert node[sp.BDSEQ] == metric_values(will.payload)[sp.BDSEQ] == 0
    assert node[sp.REBIRTH] is False and node[sp.NEXT_SEQ] == 42 and node[sp.SESSION] == "sess-1"
    assert node[sp.ENTERPRISE_ID] == "ent-t" and node[sp.INDUSTRY] == "food"
    # every birth metric has a name, an alias, a datatype and a timestamp; aliases node-unique
    metrics = [m for o in out for m in payload(o.payload).metrics]
    assert all(m.name and m.HasField("alias") and m.HasField("datatype") and m.timestamp == T0
               for m in metrics)
    aliases = [m.alias for m in metrics]
    assert len(aliases) == len(set(aliases))


def test_dbirth_carries_tag_definitions_and_device_properties(tmp_path: Path) -> None:
    out = encoder(tmp_path).births(next_seq=1)
    dbirth = {m.name: m for m in payload(out[1].payload).metrics}
    volts = dbirth["voltage_l1"]
    assert volts.datatype == sp.DOUBLE and volts.is_null
    props = sp.read_properties(volts.properties)
    assert props == {sp.P_SOURCE_TYPE: "float32", sp.P_INTERVAL: 1000, sp.P_REPORT: "all",
                     sp.P_UNIT: "V", sp.P_DESCRIPTION: "phase 1 voltage"}
    assert dbirth["running"].datatype == sp.BOOLEAN and dbirth["state"].datatype == sp.STRING
    assert sp.read_properties(dbirth["energy_total"].properties)[sp.P_HEARTBEAT] == 60000
    values = metric_values(out[1].payload)
    assert values[sp.WORKSHOP] == "灌装车间" and values[sp.LINE] == "line-1"
    assert values[sp.KEY_PROCESS] is True and values[sp.BATCH_SEQ] is None


def test_ddata_uses_aliases_sample_timestamps_and_carries_batch_seq(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    births = enc.births(next_seq=1)
    alias = {m.name: m.alias for m in payload(births[1].payload).metrics}
    [out] = enc.batch(batch(7), counters=COUNTERS, historical=False)
    assert out.topic == "spBv1.0/plant-t/DDATA/gw-t/meter-01" and out.qos == 1
    p = payload(out.payload)
    assert p.seq == 3  # after NBIRTH 0 and two DBIRTHs
    assert all(not m.name and not m.HasField("datatype") for m in p.metrics)
    by_alias = {a: n for n, a in alias.items()}
    names = [by_alias[m.alias] for m in p.metrics]
    assert names[:5] == [s["t"] for s in SAMPLES]
    assert [m.timestamp for m in p.metrics[:5]] == [s["ts"] for s in SAMPLES]
    assert not any(m.is_historical for m in p.metrics)
    seq_metric = p.metrics[names.index(sp.BATCH_SEQ)]
    assert seq_metric.long_value == 7
    bad = sp.read_properties(p.metrics[4].properties)
    assert bad == {sp.P_QUALITY: 0, sp.P_CODE: -2, sp.P_REASON: "device offline: connection refused"}
    assert p.metrics[4].is_null
    assert sp.read_properties(p.metrics[3].properties)[sp.P_UNCERTAIN] is True
    assert sp.read_properties(p.metrics[0].properties) == {sp.P_READ_TIME: T0 + 1004}
    assert not p.metrics[1].HasField("properties")  # good and rt == ts: nothing to say


def test_backlog_batches_are_historical(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    enc.births(next_seq=1)
    [out] = enc.batch(batch(3), counters=COUNTERS, historical=True)
    metrics = payload(out.payload).metrics
    assert all(m.is_historical for m in metrics[: len(SAMPLES)])


def test_seq_wraps_after_255_and_restarts_with_every_nbirth(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    enc.births(next_seq=1)  # seq 0, 1, 2
    seqs = [payload(enc.batch(batch(n), counters=COUNTERS, historical=False)[0].payload).seq
            for n in range(1, 301)]
    assert seqs[:3] == [3, 4, 5]
    assert seqs[252] == 255 and seqs[253] == 0 and seqs[-1] == 299 - 256 + 3
    assert [payload(o.payload).seq for o in enc.births(next_seq=301)] == [0, 1, 2]


def test_bdseq_pairs_will_birth_and_farewell_and_survives_restarts(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    seen = []
    for _ in range(3):
        will = metric_values(enc.will().payload)[sp.BDSEQ]
        birth = metric_values(enc.births(next_seq=1)[0].payload)[sp.BDSEQ]
        assert will == birth
        seen.append(will)
    assert seen == [0, 1, 2]
    farewell = enc.farewell()
    assert farewell.topic == "spBv1.0/plant-t/NDEATH/gw-t" and farewell.qos == 1
    assert not payload(farewell.payload).HasField("seq")
    assert metric_values(farewell.payload) == {sp.BDSEQ: 2, sp.DEATH_REASON: "shutdown"}
    again = encoder(tmp_path)  # a restarted agent continues from the file beside the buffer
    assert metric_values(again.will().payload)[sp.BDSEQ] == 3


def test_bdseq_wraps_from_255_to_0(tmp_path: Path) -> None:
    (tmp_path / "buf.sqlite.bdseq").write_text("254\n")
    enc = encoder(tmp_path)
    assert [metric_values(enc.will().payload)[sp.BDSEQ] for _ in range(3)] == [255, 0, 1]


def test_rebirth_request_by_name_or_alias_returns_fresh_births(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    enc.will()
    enc.births(next_seq=1)
    enc.batch(batch(1), counters=COUNTERS, historical=False)
    ncmd = "spBv1.0/plant-t/NCMD/gw-t"
    again = enc.on_message(ncmd, ncmd_rebirth(), next_seq=2)
    assert [payload(o.payload).seq for o in again] == [0, 1, 2]
    assert metric_values(again[0].payload)[sp.NEXT_SEQ] == 2
    rebirth_alias = next(m.alias for m in payload(again[0].payload).metrics if m.name == sp.REBIRTH)
    assert len(enc.on_message(ncmd, ncmd_rebirth(alias=rebirth_alias), next_seq=2)) == 3
    assert enc.on_message(ncmd, ncmd_rebirth(value=False), next_seq=2) == []
    assert enc.on_message("spBv1.0/plant-t/NCMD/other-gw", ncmd_rebirth(), next_seq=2) == []
    with pytest.raises(ValueError, match="not a Sparkplug B payload"):
        enc.on_message(ncmd, b"\xff\xff\xff", next_seq=2)


def test_subscriptions_cover_commands_and_the_primary_host_state(tmp_path: Path) -> None:
    assert encoder(tmp_path).subscriptions() == ["spBv1.0/plant-t/NCMD/gw-t", "spBv1.0/plant-t/DCMD/gw-t/+"]
    assert encoder(tmp_path, primary_host="scada").subscriptions()[-1] == "spBv1.0/STATE/scada"


def state(online: bool, ts: int) -> bytes:
    return json.dumps({"online": online, "timestamp": ts}).encode()


def test_primary_host_gates_births_and_data(tmp_path: Path) -> None:
    enc = encoder(tmp_path, primary_host="scada")
    enc.will()
    assert enc.births(next_seq=1) == [] and not enc.ready()
    out = enc.on_message("spBv1.0/STATE/scada", state(True, T0), next_seq=5)
    assert [o.topic.split("/")[2] for o in out] == ["NBIRTH", "DBIRTH", "DBIRTH"] and enc.ready()
    assert enc.on_message("spBv1.0/STATE/scada", state(False, T0 - 1), next_seq=5) == []  # older
    assert enc.ready()
    assert enc.take_reconnect() is None
    # the host goes offline: NDEATH, then a new session (the agent reconnects) with a new bdSeq
    assert enc.on_message("spBv1.0/STATE/scada", state(False, T0 + 1), next_seq=5) == []
    death = enc.take_reconnect()
    assert death is not None and death.topic.endswith("/NDEATH/gw-t") and not enc.ready()
    assert enc.take_reconnect() is None  # asked for once
    died = enc.bdseq
    assert died is not None
    enc.will()
    assert enc.bdseq == (died + 1) % 256 and enc.births(next_seq=5) == []
    assert len(enc.on_message("spBv1.0/STATE/scada", state(True, T0 + 2), next_seq=5)) == 3
    with pytest.raises(ValueError, match="STATE"):
        enc.on_message("spBv1.0/STATE/scada", b"ONLINE", next_seq=5)
    enc.will()  # a reconnect: wait for the host's STATE again
    assert not enc.ready() and enc.births(next_seq=6) == []


def test_a_tag_named_like_a_reserved_metric_is_refused_at_start(tmp_path: Path) -> None:
    msg = birth_message(next_seq=1)
    dev = msg.devices[0]
    reserved = dev.tags[0].model_copy(update={"name": sp.BATCH_SEQ})
    clash = dev.model_copy(update={"tags": [*dev.tags, reserved]})
    bad = msg.model_copy(update={"devices": [clash]})
    with pytest.raises(ValueError, match="reserved"):
        SparkplugEncoder(config(tmp_path), session="s", birth=lambda n: bad)


def test_whatever_the_buffer_committed_is_sent(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    enc.births(next_seq=1)
    odd = [{"d": "meter-01", "t": "voltage_l1", "ts": T0, "rt": T0, "v": None, "q": "bad",
            "r": "x" * 5000}]  # longer than the JSON schema allows: still not a reason to stop
    [out] = enc.batch(batch(1, odd), counters=COUNTERS, historical=False)
    assert sp.read_properties(payload(out.payload).metrics[0].properties)[sp.P_REASON] == "x" * 5000


def test_an_unreadable_bdseq_file_starts_again_at_zero(tmp_path: Path) -> None:
    (tmp_path / "buf.sqlite.bdseq").write_text("not a number")
    assert metric_values(encoder(tmp_path).will().payload)[sp.BDSEQ] == 0
    assert (tmp_path / "buf.sqlite.bdseq").read_text() == "0\n"
