"""Cutting unsealed rows into batches, without SQLite: limits by count and bytes, partial
batches left for their linger time, one device a batch, bodies only when all are in memory."""

from __future__ import annotations

import json

from edge_agent.buffer.cutting import BatchLimits, TailRow, cut_batches


def rows(*spec: tuple[str, int, int], first_id: int = 1, bodies: bool = True) -> list[TailRow]:
    """Rows of (device, samples, size), with made-up bodies of that size."""
    return [(first_id + i, dev, n, size, (dev[0] * size) if bodies else None)
            for i, (dev, n, size) in enumerate(spec)]


def test_full_batches_by_count_and_the_partial_one_waits() -> None:
    tail = rows(("m1", 4, 10), ("m1", 4, 10), ("m1", 4, 10), ("m1", 4, 10), ("m1", 3, 10))
    cut = cut_batches(tail, BatchLimits(max_samples=8, max_bytes=1000), next_seq=5, sealed_to=0,
                      now_ms=77, max_batches=100, full_only=True)
    assert [(b.seq, b.n, b.sealed_ms) for b in cut.batches] == [(5, 8, 77), (6, 8, 77)]
    assert [r[0] for r in cut.tail] == [5] and cut.next_seq == 7 and cut.sealed_to == 4
    # what the batches table gets: the same seqs, the samples per device, the row ids
    assert [(rec[0], json.loads(rec[3]), json.loads(rec[4])) for rec in cut.records] == [
        (5, {"m1": 8}, [1, 2]), (6, {"m1": 8}, [3, 4])]


def test_a_partial_batch_is_cut_when_its_time_is_up() -> None:
    tail = rows(("m1", 3, 10), first_id=9)
    waiting = cut_batches(tail, BatchLimits(max_samples=8, max_bytes=1000), next_seq=1,
                          sealed_to=8, now_ms=1, max_batches=100, full_only=True)
    assert waiting.batches == [] and waiting.tail == tail and waiting.sealed_to == 8
    due = cut_batches(tail, BatchLimits(max_samples=8, max_bytes=1000), next_seq=1, sealed_to=8,
                      now_ms=1, max_batches=100, full_only=False)
    assert [(b.seq, b.n) for b in due.batches] == [(1, 3)] and due.tail == [] and due.sealed_to == 9


def test_the_byte_limit_counts_each_body_and_its_separator() -> None:
    # rows of 10 bytes count 11 each: two fit in 22 bytes, a third would not
    tail = rows(("m1", 1, 10), ("m1", 1, 10), ("m1", 1, 10))
    cut = cut_batches(tail, BatchLimits(max_samples=100, max_bytes=22), next_seq=1, sealed_to=0,
                      now_ms=0, max_batches=100, full_only=False)
    assert [b.n for b in cut.batches] == [2, 1]
    narrower = cut_batches(tail, BatchLimits(max_samples=100, max_bytes=21), next_seq=1,
                           sealed_to=0, now_ms=0, max_batches=100, full_only=False)
    assert [b.n for b in narrower.batches] == [1, 1, 1]


def test_a_row_larger_than_the_limits_is_a_batch_of_its_own() -> None:
    tail = rows(("m1", 50, 10), ("m1", 1, 5000), ("m1", 1, 10))
    cut = cut_batches(tail, BatchLimits(max_samples=10, max_bytes=100), next_seq=1, sealed_to=0,
                      now_ms=0, max_batches=100, full_only=False)
    assert [b.n for b in cut.batches] == [50, 1, 1]


def test_one_device_a_batch_in_order_of_first_appearance() -> None:
    tail = rows(("b", 2, 10), ("a", 3, 10), ("b", 1, 10))
    cut = cut_batches(tail, BatchLimits(max_samples=100, max_bytes=1000, one_device=True),
                      next_seq=3, sealed_to=0, now_ms=0, max_batches=100, full_only=False)
    assert [(b.seq, b.device, b.n) for b in cut.batches] == [(3, "b", 3), (4, "a", 3)]
    assert json.loads(cut.records[0][4]) == [1, 3]
    mixed = cut_batches(tail, BatchLimits(max_samples=100, max_bytes=1000), next_seq=3,
                        sealed_to=0, now_ms=0, max_batches=100, full_only=False)
    assert [(b.device, b.n) for b in mixed.batches] == [(None, 6)]


def test_bodies_come_along_only_when_every_row_has_one_in_memory() -> None:
    tail = [*rows(("m1", 1, 3)), *rows(("m1", 1, 3), first_id=2, bodies=False)]
    cut = cut_batches(tail, BatchLimits(max_samples=1, max_bytes=1000), next_seq=1, sealed_to=0,
                      now_ms=0, max_batches=100, full_only=False)
    assert [b.samples_json for b in cut.batches] == ["[mmm]", ""]


def test_max_batches_bounds_one_cut() -> None:
    tail = rows(*[("m1", 1, 10)] * 5)
    cut = cut_batches(tail, BatchLimits(max_samples=1, max_bytes=1000), next_seq=1, sealed_to=0,
                      now_ms=0, max_batches=2, full_only=False)
    assert [b.seq for b in cut.batches] == [1, 2] and len(cut.tail) == 3 and cut.sealed_to == 2
    empty = cut_batches([], BatchLimits(max_samples=1, max_bytes=1000), next_seq=4, sealed_to=9,
                        now_ms=0, max_batches=2, full_only=False)
    assert (empty.batches, empty.next_seq, empty.sealed_to) == ([], 4, 9)
