"""Encoder → decoder round trips into the wire models, and what the decoder refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.sparkplug.encoder import SparkplugEncoder
from tests.edge_agent.sparkplug.common import COUNTERS, SAMPLES, T0, batch, birth_message, encoder, payload
from wire.json_v1 import BirthMessage, Counters, DataMessage, DeathMessage, DeviceCounters, WireSample
from wire.sparkplug import convention as sp
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.decoder import (
    SPARKPLUG_SUBSCRIPTION,
    MalformedPayload,
    NeedsBirth,
    SparkplugDecoder,
    host_state,
    rebirth_request,
)


def born(tmp_path: Path) -> tuple[SparkplugEncoder, SparkplugDecoder, list[BirthMessage]]:
    """An encoder after its births, and a decoder that has seen them."""
    enc, dec = encoder(tmp_path), SparkplugDecoder()
    enc.will()
    births = [m for o in enc.births(next_seq=8) for m in dec.decode(o.topic, o.payload)]
    assert all(isinstance(b, BirthMessage) for b in births)
    return enc, dec, births  # type: ignore[return-value]


def test_births_decode_to_the_birth_the_agent_made(tmp_path: Path) -> None:
    _, _, births = born(tmp_path)
    original = birth_message(next_seq=8)
    node, *devices = births
    assert node.devices == [] and node.model_copy(update={"devices": original.devices}) == original
    assert [d for b in devices for d in b.devices] == original.devices
    assert all(b.session == original.session and b.next_seq == 8 for b in devices)


def test_ddata_decodes_to_the_batch_with_its_seq_samples_and_counters(tmp_path: Path) -> None:
    enc, dec, _ = born(tmp_path)
    [out] = enc.batch(batch(7), counters=COUNTERS, historical=True)
    [msg] = dec.decode(out.topic, out.payload)
    assert isinstance(msg, DataMessage)
    assert (msg.enterprise, msg.gateway, msg.session, msg.seq, msg.historical) == (
        "ent-t", "gw-t", "sess-1", 7, True)
    assert msg.all_samples() == [WireSample.model_validate(s) for s in SAMPLES]
    assert isinstance(msg.all_samples()[2].v, bool) and msg.all_samples()[3].v == "filling"
    assert msg.counters is not None
    assert msg.counters.batches_published == 41
    assert msg.counters.devices == {"meter-01": COUNTERS.devices["meter-01"]}


def test_skipped_polls_ride_on_ddata_like_the_other_counters(tmp_path: Path) -> None:
    """The cloud's gap cause gateway_overrun needs them on the Sparkplug path as on JSON's."""
    enc, dec, _ = born(tmp_path)
    overrun = Counters(batches_published=2, devices={
        "meter-01": DeviceCounters(read=50, buffered=50, published=40, skipped_polls=6)})
    [out] = enc.batch(batch(7), counters=overrun, historical=False)
    [msg] = dec.decode(out.topic, out.payload)
    assert isinstance(msg, DataMessage) and msg.counters is not None
    assert msg.counters.devices["meter-01"].skipped_polls == 6


def test_ndeath_is_a_death_for_the_current_bdseq_and_ignored_when_late(tmp_path: Path) -> None:
    enc, dec = encoder(tmp_path), SparkplugDecoder()
    first_will = enc.will()
    for o in enc.births(next_seq=1):
        dec.decode(o.topic, o.payload)
    [lost] = dec.decode(first_will.topic, first_will.payload)
    assert isinstance(lost, DeathMessage) and (lost.reason, lost.session) == ("lost", "sess-1")
    farewell = enc.farewell()
    [gone] = dec.decode(farewell.topic, farewell.payload)
    assert isinstance(gone, DeathMessage) and gone.reason == "shutdown"
    enc.will()  # reconnect with bdSeq 1; the old will (bdSeq 0) arrives after the new NBIRTH
    for o in enc.births(next_seq=1):
        dec.decode(o.topic, o.payload)
    assert dec.decode(first_will.topic, first_will.payload) == []


def test_data_before_birth_asks_for_a_rebirth(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    enc.births(next_seq=1)
    [out] = enc.batch(batch(1), counters=COUNTERS, historical=False)
    with pytest.raises(NeedsBirth, match="before its NBIRTH") as err:
        SparkplugDecoder().decode(out.topic, out.payload)
    topic, raw = err.value.rebirth
    assert topic == "spBv1.0/plant-t/NCMD/gw-t"
    [m] = payload(raw).metrics
    assert (m.name, m.datatype, m.boolean_value) == (sp.REBIRTH, sp.BOOLEAN, True)
    assert not payload(raw).HasField("seq")  # Sparkplug: NCMD carries no seq
    assert err.value.rebirth[0] == rebirth_request("plant-t", "gw-t")[0]


def test_a_rebirth_request_makes_the_encoder_rebirth(tmp_path: Path) -> None:
    enc = encoder(tmp_path)
    enc.births(next_seq=1)
    topic, raw = rebirth_request("plant-t", "gw-t")
    assert [o.topic.split("/")[2] for o in enc.on_message(topic, raw, next_seq=1)] == [
        "NBIRTH", "DBIRTH", "DBIRTH"]


def test_an_alias_of_another_device_or_unknown_asks_for_a_rebirth(tmp_path: Path) -> None:
    enc, dec, _ = born(tmp_path)
    p = pb.Payload(timestamp=1, seq=9)
    p.metrics.add(alias=10_000, timestamp=1, double_value=1.0)
    with pytest.raises(NeedsBirth, match="alias 10000"):
        dec.decode("spBv1.0/plant-t/DDATA/gw-t/meter-01", p.SerializeToString())
    [out] = enc.batch(batch(2), counters=COUNTERS, historical=False)
    with pytest.raises(NeedsBirth):  # meter-01's aliases on plc-02's topic
        dec.decode(out.topic.replace("meter-01", "plc-02"), out.payload)


def test_malformed_messages_are_value_errors_that_say_why(tmp_path: Path) -> None:
    _, dec, _ = born(tmp_path)
    with pytest.raises(MalformedPayload, match="not a Sparkplug B payload"):
        dec.decode("spBv1.0/plant-t/DDATA/gw-t/meter-01", b"\xff\xff\xff")
    no_seq = pb.Payload(timestamp=1, seq=4)
    no_seq.metrics.add(name="voltage_l1", datatype=sp.DOUBLE, timestamp=1, double_value=2.0)
    with pytest.raises(MalformedPayload, match="Batch Seq"):
        dec.decode("spBv1.0/plant-t/DDATA/gw-t/meter-01", no_seq.SerializeToString())
    nbirth = pb.Payload(timestamp=1, seq=0)  # any edge node may omit our metrics, not bdSeq
    nbirth.metrics.add(name="Node Control/Rebirth", datatype=sp.BOOLEAN, timestamp=1, boolean_value=False)
    with pytest.raises(MalformedPayload, match="bdSeq"):
        dec.decode("spBv1.0/plant-t/NBIRTH/gw-x", nbirth.SerializeToString())
    with pytest.raises(MalformedPayload, match="not a Sparkplug B node or device topic"):
        dec.decode("spBv1.0/plant-t/NBIRTH/gw-t/extra", b"")
    assert issubclass(MalformedPayload, ValueError) and issubclass(NeedsBirth, ValueError)


def test_commands_state_and_device_deaths_are_not_gateway_data(tmp_path: Path) -> None:
    _, dec, _ = born(tmp_path)
    assert dec.decode("spBv1.0/STATE/scada", b'{"online": true, "timestamp": 1}') == []
    assert dec.decode(*rebirth_request("plant-t", "gw-t")) == []
    ddeath = pb.Payload(timestamp=1, seq=5).SerializeToString()
    assert dec.decode("spBv1.0/plant-t/DDEATH/gw-t/meter-01", ddeath) == []
    assert SPARKPLUG_SUBSCRIPTION == "spBv1.0/+/+/#"


def test_backlog_of_a_device_without_birth_travels_by_name_and_decodes(tmp_path: Path) -> None:
    enc, dec, _ = born(tmp_path)
    gone = [dict(s, d="old-meter") for s in SAMPLES[:2]]
    [out] = enc.batch(batch(3, gone, device="old-meter"), counters=COUNTERS, historical=True)
    assert all(m.name for m in payload(out.payload).metrics)
    [msg] = dec.decode(out.topic, out.payload)
    assert isinstance(msg, DataMessage) and [s.t for s in msg.all_samples()] == ["voltage_l1", "energy_total"]
    assert msg.counters is None and msg.seq == 3


def test_a_mixed_batch_from_the_json_era_becomes_one_ddata_per_device(tmp_path: Path) -> None:
    enc, dec, _ = born(tmp_path)
    mixed = [SAMPLES[0], {"d": "plc-02", "t": "speed", "ts": 5, "rt": 5, "v": 12.5, "q": "good"}]
    out = enc.batch(batch(4, mixed, device=None), counters=COUNTERS, historical=False)
    assert [o.topic.rsplit("/", 1)[1] for o in out] == ["meter-01", "plc-02"]
    decoded = [m for o in out for m in dec.decode(o.topic, o.payload)]
    assert [(m.seq, m.samples[0].d) for m in decoded if isinstance(m, DataMessage)] == [
        (4, "meter-01"), (4, "plc-02")]


def test_host_state_is_what_the_encoder_waits_for(tmp_path: Path) -> None:
    enc = encoder(tmp_path, primary_host="ingest-1")
    enc.will()
    assert enc.births(next_seq=1) == []
    topic, raw = host_state("ingest-1", online=True, timestamp=123)
    assert topic == "spBv1.0/STATE/ingest-1" and raw == b'{"online":true,"timestamp":123}'
    assert len(enc.on_message(topic, raw, next_seq=1)) == 3 and enc.ready()


def test_blocks_from_the_json_era_go_out_as_one_metric_a_value(tmp_path: Path) -> None:
    """A backlog sealed under JSON holds wire blocks; after a switch to Sparkplug each value is
    its own metric, good, with the block's timestamps."""
    enc, dec, _ = born(tmp_path)
    values: dict[str, float | int | bool] = {"voltage_l1": 230.4, "energy_total": 123456, "running": True}
    block = {"d": "meter-01", "ts": T0 + 1000, "rt": T0 + 1003, "values": values}
    [out] = enc.batch(batch(5, [block, SAMPLES[4]]), counters=COUNTERS, historical=True)
    [msg] = dec.decode(out.topic, out.payload)
    assert isinstance(msg, DataMessage)
    assert msg.all_samples() == [
        WireSample(d="meter-01", t=t, ts=T0 + 1000, rt=T0 + 1003, v=v) for t, v in values.items()
    ] + [WireSample.model_validate(SAMPLES[4])]
