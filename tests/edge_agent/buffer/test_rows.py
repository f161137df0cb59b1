"""Samples in their stored form: one row a poll, runs of one device, rows within limits."""

from __future__ import annotations

import json

from edge_agent.buffer import RowLimits, encode_rows
from wire.sample import Quality, Sample
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
