"""The disk buffer: the three steps, counters, sequence across restarts, full-disk policies,
driven through the verbs the agent uses (`write`, `seal`, `ack`)."""

from __future__ import annotations

import json
from collections.abc import Container, Mapping, Sequence
from pathlib import Path

from edge_agent.buffer import BatchLimits, DiskBuffer, RowLimits, SealedBatch, Written, encode_rows
from wire.json_v1 import DataMessage
from wire.sample import Quality, Sample

MB = 1024 * 1024


def samples(device: str, n: int, start: int = 1_700_000_000_000) -> list[Sample]:
    return [Sample(device, f"t{i % 7}", start + i, float(i), Quality.GOOD, start + i + 3) for i in range(n)]


def write(buf: DiskBuffer, batch: list[Sample], *, rows: RowLimits | None = None,
          seal_full: BatchLimits | None = None, now_ms: int = 0, acks: Sequence[int] = (),
          in_flight: Container[int] = (),
          counts: Mapping[tuple[str, str], int] | None = None) -> Written:
    """Encode ``batch`` as the agent does (on its loop) and commit it."""
    return buf.write(encode_rows(batch, rows or RowLimits()), seal_full=seal_full, now_ms=now_ms,
                     acks=acks, in_flight=in_flight, counts=counts)


def seal_one(buf: DiskBuffer, *, max_samples: int, max_bytes: int, now_ms: int,
             one_device: bool = False) -> SealedBatch | None:
    """One transaction of the sealer, one batch window; the last batch made, or None."""
    made = buf.seal(BatchLimits(max_samples=max_samples, max_bytes=max_bytes, one_device=one_device),
                    now_ms=now_ms, max_batches=1)
    return made[-1] if made else None


def test_write_seals_full_batches_in_its_own_transaction(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    rows = RowLimits(max_samples=5)
    limits = BatchLimits(max_samples=10, max_bytes=MB)
    assert write(buf, samples("m1", 24), rows=rows, seal_full=limits, now_ms=7).stored == 24
    # two full batches sealed with the rows; the 4 left wait for more rows or their linger time
    assert [(b.seq, b.n, b.sealed_ms) for b in buf.unsent()] == [(1, 10, 7), (2, 10, 7)]
    assert buf.depth() == (4, 2)
    write(buf, samples("m1", 5, start=1_700_000_100_000), rows=rows, seal_full=limits, now_ms=8)
    assert buf.depth() == (9, 2)  # 9 < 10: still partial
    write(buf, samples("m2", 1), rows=rows, seal_full=limits, now_ms=9)
    assert [(b.seq, b.n) for b in buf.unsent()] == [(1, 10), (2, 10), (3, 10)]
    assert buf.depth() == (0, 3)
    # a batch full by bytes is sealed too, even with fewer samples than max_samples
    write(buf, samples("m3", 5), rows=rows, seal_full=BatchLimits(max_samples=1000, max_bytes=300),
          now_ms=10)
    assert buf.depth()[1] == 4
    assert sum(b.n for b in buf.unsent()) + buf.depth()[0] == 35
    assert buf.counters().devices["m1"].buffered == 29
    assert buf.pending_samples == buf.depth()[0] == 0


def test_write_returns_sealed_batches_with_bodies_and_removes_acks(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    rows = RowLimits(max_samples=5)
    limits = BatchLimits(max_samples=10, max_bytes=MB)
    w = write(buf, samples("m1", 23), rows=rows, seal_full=limits, now_ms=1)
    stored, made = w.stored, w.sealed
    assert stored == 23 and [(b.seq, b.n) for b in made] == [(1, 10), (2, 10)]
    # the bodies handed back are the ones on disk
    assert [b.samples_json for b in made] == [b.samples_json for b in buf.unsent()]
    assert buf.pending_samples == buf.depth()[0] == 3
    # acknowledgements ride on the next write: removed and counted in the same transaction
    made = write(buf, samples("m1", 7, start=1_700_000_100_000), rows=rows, seal_full=limits,
                 now_ms=2, acks=[1, 2, 99]).sealed
    assert [(b.seq, b.n) for b in made] == [(3, 10)]
    assert [b.seq for b in buf.unsent()] == [3] and buf.pending_samples == 0
    c = buf.counters()
    assert c.batches_published == 2 and c.devices["m1"].published == 20
    buf.close()
    again = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    assert again.counters().batches_published == 2 and again.pending_samples == 0
    # a batch too big for the cache comes back without its body, which is read from disk
    tiny = DiskBuffer(tmp_path / "c.sqlite", max_bytes=64 * MB, cache_max_bytes=10)
    made = write(tiny, samples("m2", 10), rows=rows, seal_full=limits, now_ms=3).sealed
    assert made[0].samples_json == "" and len(json.loads(tiny.batches([1])[0].samples_json)) == 10


def test_counts_ride_on_a_write_in_its_transaction(tmp_path: Path) -> None:
    """Read errors and disk-error losses are counted in the same transaction as the rows they
    come with, and a write with counts alone is a durable commit of its own."""
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    write(buf, samples("m1", 3), counts={("m1", "read_errors"): 2, ("m2", "dropped:disk_error"): 5})
    buf.write([], counts={("m1", "read_errors"): 1})
    buf.close()
    c = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB).counters().devices
    assert (c["m1"].read, c["m1"].read_errors) == (3, 3)
    assert c["m2"].dropped == {"disk_error": 5} and c["m2"].read == 0


def test_pending_samples_follow_drops_of_unsealed_rows(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=96 * 1024)
    for r in range(150):
        write(buf, samples("m1", 16, start=1_700_000_000_000 + r * 100), rows=RowLimits(max_samples=16))
        assert buf.pending_samples == buf.depth()[0]
    assert buf.counters().devices["m1"].dropped.get("buffer_full", 0) > 0


def test_write_seal_ack_counts_and_wire_form(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    mixed = [*samples("m1", 25), Sample.bad("m2", "x", ts=5, reason="device offline")]
    assert write(buf, mixed, rows=RowLimits(max_samples=5)).stored == 26
    b1 = seal_one(buf, max_samples=10, max_bytes=1 * MB, now_ms=1)
    b2 = seal_one(buf, max_samples=100, max_bytes=1 * MB, now_ms=2)
    assert b1 is not None and b2 is not None
    assert (b1.seq, b1.n, b2.seq, b2.n) == (1, 10, 2, 16)
    assert seal_one(buf, max_samples=10, max_bytes=MB, now_ms=3) is None
    assert [(b.seq, b.n) for b in buf.unsent()] == [(1, 10), (2, 16)]
    wire = json.loads(buf.unsent()[1].samples_json)
    assert len(wire) == 16 and len(json.loads(buf.unsent()[0].samples_json)) == 10
    assert wire[-1] == {"d": "m2", "t": "x", "ts": 5, "rt": 5, "v": None, "q": "bad",
                        "r": "device offline"}
    # the stored form is exactly what the cloud validates
    DataMessage.model_validate({"enterprise": "e", "gateway": "g", "session": "s", "seq": 2,
                                "sent": 9, "samples": wire})
    assert [b.seq for b in buf.unsent()] == [1, 2]
    buf.ack(1)
    buf.ack(1)  # a duplicate PUBACK after a resend changes nothing
    c = buf.counters()
    assert c.devices["m1"].read == 25 and c.devices["m1"].buffered == 25
    assert c.devices["m1"].published == 10 and c.batches_published == 1
    assert [b.seq for b in buf.unsent()] == [2]


def test_seq_and_counters_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    buf = DiskBuffer(path, max_bytes=64 * MB)
    write(buf, samples("m1", 5))
    seal_one(buf, max_samples=100, max_bytes=MB, now_ms=1)
    buf.close()
    again = DiskBuffer(path, max_bytes=64 * MB)
    assert again.next_seq == 2
    assert [b.seq for b in again.unsent()] == [1]  # unacknowledged data is still there
    assert again.depth() == (0, 1) and again.backlog_samples() == 5
    write(again, samples("m1", 5))
    batch = seal_one(again, max_samples=100, max_bytes=MB, now_ms=2)
    assert batch is not None and batch.seq == 2
    assert again.counters().devices["m1"].read == 10


def test_unsealed_rows_survive_reopen_and_are_sealed_from_disk(tmp_path: Path) -> None:
    """Rows committed but not yet sealed when the agent stopped are sealed after the next
    start, their bodies read back from disk."""
    path = tmp_path / "b.sqlite"
    buf = DiskBuffer(path, max_bytes=64 * MB)
    write(buf, samples("m1", 7))
    buf.close()
    again = DiskBuffer(path, max_bytes=64 * MB)
    assert again.pending_samples == 7
    [batch] = again.seal(BatchLimits(max_samples=100, max_bytes=MB), now_ms=1, max_batches=32)
    assert batch.samples_json == "" and batch.n == 7  # the body was only on disk
    assert len(json.loads(again.batches([batch.seq])[0].samples_json)) == 7


def test_batch_byte_limit(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    write(buf, samples("m1", 100), rows=RowLimits(max_bytes=300))
    batch = seal_one(buf, max_samples=1000, max_bytes=1024, now_ms=1)
    assert batch is not None and 0 < batch.n < 100
    assert len(buf.unsent()[0].samples_json) <= 1024


def test_one_device_batches_and_non_finite_values(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    write(buf, [*samples("a", 6), *samples("b", 3), Sample("a", "nan", 1, float("nan"))],
          rows=RowLimits(max_samples=4))
    assert seal_one(buf, max_samples=100, max_bytes=MB, now_ms=1, one_device=True) is not None
    first, second = buf.unsent()
    assert (first.device, first.n, second.device, second.n) == ("a", 7, "b", 3)
    assert {s["d"] for s in json.loads(second.samples_json)} == {"b"}
    nan = json.loads(first.samples_json)[-1]
    assert nan["v"] is None and nan["q"] == "bad" and "finite" in nan["r"]


def fill(buf: DiskBuffer, rounds: int) -> None:
    for r in range(rounds):
        write(buf, samples("m1", 500, start=r * 1000))
        seal_one(buf, max_samples=500, max_bytes=MB, now_ms=r)


def test_full_drop_oldest_keeps_newest_and_counts(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=1 * MB, full_policy="drop_oldest")
    fill(buf, 60)
    assert buf.used_bytes() <= 1 * MB + 64 * 1024
    c = buf.counters().devices["m1"]
    assert c.dropped["buffer_full"] > 0
    kept = buf.backlog_samples()
    assert kept + c.dropped["buffer_full"] == c.read == 30_000  # every sample accounted for
    assert buf.unsent(limit=1)[0].seq > 1  # the oldest went first


def test_full_drop_oldest_passes_over_batches_in_flight(tmp_path: Path) -> None:
    """A batch the broker may already have is not dropped: it would reach the cloud while
    counted as dropped, and the counters would no longer reconcile with what is stored."""
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=96 * 1024)
    rows = RowLimits(max_samples=16)
    limits = BatchLimits(max_samples=16, max_bytes=MB)
    r = 0
    while buf.depth()[1] < 3:
        write(buf, samples("m1", 16, start=1_700_000_000_000 + r * 100), rows=rows,
              seal_full=limits, now_ms=r)
        r += 1
    first = buf.unsent(limit=1)[0].seq
    while buf.counters().devices["m1"].dropped.get("buffer_full", 0) == 0:
        write(buf, samples("m1", 16, start=1_700_000_000_000 + r * 100), rows=rows,
              seal_full=limits, now_ms=r, in_flight={first})
        r += 1
    assert buf.unsent(limit=1)[0].seq == first, "the batch in flight is still there"
    assert buf.dropped_through > first
    buf.ack(first)
    c = buf.counters().devices["m1"]
    assert c.published == 16 and c.read == c.published + c.dropped["buffer_full"] + buf.backlog_samples()


def test_full_drop_newest_rejects_new(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=1 * MB, full_policy="drop_newest")
    fill(buf, 60)
    c = buf.counters().devices["m1"]
    assert c.dropped["buffer_full"] > 0
    assert buf.unsent(limit=1)[0].seq == 1  # the oldest is kept
    assert buf.backlog_samples() + c.dropped["buffer_full"] == c.read


def test_a_buffer_of_another_format_is_refused_clearly(tmp_path: Path) -> None:
    import sqlite3

    import pytest

    from edge_agent.buffer import BufferFormatError

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE pending (id INTEGER PRIMARY KEY)")
    db.commit()
    db.close()
    with pytest.raises(BufferFormatError, match=r"format 0.*move it away"):
        DiskBuffer(path, max_bytes=MB)


def test_rows_added_after_everything_was_acked_are_sealed(tmp_path: Path) -> None:
    """Row ids must never be reused: the sealed watermark would hide a reused id."""
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    write(buf, samples("m1", 3))
    seal_one(buf, max_samples=100, max_bytes=MB, now_ms=1)
    buf.ack(1)
    assert buf.backlog_samples() == 0
    write(buf, samples("m1", 2))
    assert buf.depth() == (2, 0)
    assert seal_one(buf, max_samples=100, max_bytes=MB, now_ms=2) is not None
    assert [(b.seq, b.n) for b in buf.unsent()] == [(2, 2)]


def test_a_buffer_opened_while_it_is_being_created_is_whole(tmp_path: Path) -> None:
    """`edge-agent status` (or a test reading counters) may open the file while the agent
    creates it: it must find no tables or a complete buffer of this format with its stream,
    never "a buffer of format 0"; two openers agree on one stream."""
    import threading

    for i in range(40):
        path = tmp_path / f"b{i}.sqlite"
        seen: list[str] = []
        errors: list[Exception] = []

        def create(p: Path = path, seen: list[str] = seen, errors: list[Exception] = errors) -> None:
            try:
                seen.append(DiskBuffer(p, max_bytes=MB).stream)
            except Exception as err:
                errors.append(err)

        creator = threading.Thread(target=create)
        creator.start()
        while creator.is_alive() or not seen:
            if path.exists():
                try:
                    seen.append(DiskBuffer(path, max_bytes=MB).stream)
                except Exception as err:
                    errors.append(err)
                break
            if not creator.is_alive():
                break
        creator.join()
        assert errors == [] and seen and len(set(seen)) == 1, (errors, seen)
