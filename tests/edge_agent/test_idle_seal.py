"""A partial batch leaves as soon as the sender is idle (nothing to send, room in the window):
a quiet gateway does not wait out linger_ms; while the sender is busy, rows wait to fill the
batch (for at most linger_ms). The committer runs on a real buffer, the sender's state is a
switch."""

from __future__ import annotations

from pathlib import Path

from edge_agent.buffer import BatchLimits, DiskBuffer, RowLimits
from edge_agent.committer import Committer
from edge_agent.disk_thread import DiskThread
from edge_agent.outbox import Outbox
from tests.edge_agent.buffer.test_store import MB, samples


async def test_a_partial_batch_is_sealed_at_once_only_when_the_sender_is_idle(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    disk = DiskThread()
    box = Outbox(first_live_seq=1, link_up=lambda: True)
    sender = {"idle": False}
    c = Committer(disk, buf, box, rows=RowLimits(max_samples=16), linger_ms=60_000,
                  batches=BatchLimits(max_samples=1000, max_bytes=MB), idle=lambda: sender["idle"])
    try:
        await c.accept(samples("m1", 5))
        await c.commit()  # busy sender: the 5 samples wait to fill a batch
        assert (buf.pending_samples, box.has_ready()) == (5, False)
        sender["idle"] = True
        await c.accept(samples("m1", 5, start=1_700_000_001_000))
        await c.commit()  # idle: this commit seals the partial batch, the linger is not waited out
        assert buf.pending_samples == 0 and box.has_ready()
        [ready] = box.take_live(10, dropped_through=0)
        assert ready.n == 10
    finally:
        await disk.close(buf.close)
