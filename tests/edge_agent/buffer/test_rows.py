"""Samples in their stored form: one row a poll, runs of one device, rows within limits."""

from __future__ import annotations

import json

from edge_agent.buffer import RowLimits, encode_rows
from wire.json_v1 import WireBlock, WireSample
from wire.sample import Quality, Sample, SampleBlock
from wire.sample_text import sample_json


def poll(device: str, n: int, *, value: str | float = 1.5) -> list[Sample]:
    return [Sample(device, f"t{i}", 1_700_000_000_000 + i, value, Quality.GOOD, 1_700_000_000_000 + i)
            for i in range(n)]


def test_one_poll_of_one_device_is_one_row_of_its_wire_form() -> None:
    samples = poll("m1", 3)
    [(device, n, body)] = encode_rows(samples, RowLimits())
    assert (device, n) == ("m1", 3)
    assert body == ",".join(sample_json(s) for s in samples)
    assert [s["t"] for s in json.loads("[" + body + "]")] == ["t0", "t1", "t2"]


def test_runs_of_devices_become_rows_of_one_device_each() -> None:
    rows = encode_rows([*poll("a", 2), *poll("b", 1), *poll("a", 1)], RowLimits())
    assert [(dev, n) for dev, n, _ in rows] == [("a", 2), ("b", 1), ("a", 1)]


def test_rows_stay_within_their_sample_and_byte_limits() -> None:
    by_count = encode_rows(poll("m1", 10), RowLimits(max_samples=4))
    assert [n for _, n, _ in by_count] == [4, 4, 2]
    by_bytes = encode_rows(poll("m1", 8), RowLimits(max_bytes=300))
    assert sum(n for _, n, _ in by_bytes) == 8 and all(len(body) <= 300 for _, _, body in by_bytes)
    # one sample larger than the limit is a row of its own, not lost
    [(_, n, body)] = encode_rows(poll("m1", 1, value="x" * 1000), RowLimits(max_bytes=300))
    assert n == 1 and len(body) > 300


def test_nothing_to_encode_is_no_row() -> None:
    assert encode_rows([], RowLimits()) == []


def test_a_block_is_stored_as_wire_blocks_within_the_row_limits() -> None:
    tags = [f"r{i}" for i in range(150)]
    block = SampleBlock("m1", 1_700_000_000_000, tags, [i / 10 for i in range(150)])
    rows = encode_rows([block], RowLimits(max_samples=64))
    assert [(dev, n) for dev, n, _ in rows] == [("m1", 64), ("m1", 64), ("m1", 22)]
    items = [WireBlock.model_validate_json(body) for _, _, body in rows]
    assert [s for b in items for s in b.samples()] == [
        WireSample(d="m1", t=t, ts=block.ts, rt=block.ts, v=v)
        for t, v in zip(tags, block.values, strict=True)]
    by_bytes = encode_rows([block], RowLimits(max_samples=64, max_bytes=400))
    assert sum(n for _, n, _ in by_bytes) == 150 and all(len(body) <= 400 for _, _, body in by_bytes)


def test_blocks_and_samples_keep_their_order_and_blocks_off_spells_them_out() -> None:
    bad = Sample.bad("m1", "x", ts=5, reason="exception 2 (illegal data address)", code=2)
    block = SampleBlock("m1", 6, ["a", "b"], [1, 2.5])
    rows = encode_rows([bad, block, *poll("m2", 1)], RowLimits())
    assert [(dev, n) for dev, n, _ in rows] == [("m1", 1), ("m1", 2), ("m2", 1)]
    assert json.loads(rows[1][2]) == {"d": "m1", "ts": 6, "rt": 6, "values": {"a": 1, "b": 2.5}}
    [(dev, n, body)] = encode_rows([block], RowLimits(blocks=False))  # Sparkplug, an old cloud
    assert (dev, n) == ("m1", 2) and body == ",".join(map(sample_json, block.samples()))


def test_values_a_block_cannot_hold_go_as_samples_that_say_why() -> None:
    nan = SampleBlock("m1", 6, ["a", "b"], [1.0, float("nan")])
    big = SampleBlock("m1", 6, ["a"], [2**70])
    [(_, n, body)] = encode_rows([nan], RowLimits())
    assert n == 2 and [s["q"] for s in json.loads("[" + body + "]")] == ["good", "bad"]
    [(_, _, body)] = encode_rows([big], RowLimits())
    assert json.loads("[" + body + "]")[0]["v"] == 2**70
