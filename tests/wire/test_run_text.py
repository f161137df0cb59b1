"""`RunText` writes, from a block's values alone, the rows `samples_json` writes from the samples
themselves; `encode_rows` uses it for a `TextedSamples` poll and falls back when it cannot."""

from __future__ import annotations

import random

from edge_agent.buffer import RowLimits, encode_rows
from wire.sample import Value, good_samples
from wire.sample_text import RunText, TextedSamples, samples_json


def _poll(device: str, blocks: list[tuple[list[str], int, list[Value]]]) -> TextedSamples:
    samples, runs = [], []
    for tags, ts, values in blocks:
        samples += good_samples(device, ts, tags, values)
        runs.append((RunText(device, tags), ts, values))
    return TextedSamples(samples, runs)


def test_rows_are_the_text_samples_json_writes() -> None:
    rnd = random.Random(17)
    blocks = []
    for b in range(3):
        tags = [f"r{b}_{i}" if i % 7 else f"温度 %s \"{i}\"" for i in range(125)]
        values: list[Value] = [rnd.choice([rnd.randrange(-32768, 65536), rnd.randrange(0, 65536) / 10,
                                           (rnd.randrange(0, 65536) * 3 - 5) / 100, 1e16, 1e-7])
                               for _ in tags]
        blocks.append((tags, 1_764_000_000_000 + b, values))
    poll = _poll("meter-%d-01", blocks)
    limits = RowLimits(max_samples=64)
    rows = encode_rows(poll, limits)
    assert [n for _, n, _ in rows] == [64, 61] * 3
    expected = [("meter-%d-01", len(chunk), samples_json(chunk))
                for i in range(0, 375, 125) for chunk in (poll[i:i + 64], poll[i + 64:i + 125])]
    assert rows == expected


def test_what_the_runs_cannot_say_is_encoded_from_the_samples() -> None:
    limits = RowLimits(max_samples=64)
    for values in ([1.5, float("nan")], [1, 2**70], [True, 2]):
        poll = _poll("m1", [(["a", "b"], 5, values)])  # type: ignore[list-item]
        assert poll.rows(max_samples=64, max_bytes=65536) is None
        assert encode_rows(poll, limits) == encode_rows(list(poll), limits)
    changed = _poll("m1", [(["a", "b"], 5, [1, 2])])
    changed.pop()  # no longer what the runs describe
    assert changed.rows(max_samples=64, max_bytes=65536) is None
    assert encode_rows(changed, limits) == [("m1", 1, samples_json(changed))]
    big = _poll("m1", [([f"t{i}" for i in range(10)], 5, list(range(10)))])
    assert big.rows(max_samples=64, max_bytes=100) is None  # a row beyond max_bytes: split as before
    assert encode_rows(big, RowLimits(max_samples=64, max_bytes=100)) == encode_rows(
        list(big), RowLimits(max_samples=64, max_bytes=100))
