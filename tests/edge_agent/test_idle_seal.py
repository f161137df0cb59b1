"""A partial batch leaves as soon as the sender is idle (nothing to send, room in the window):
a quiet gateway does not wait out linger_ms; while the sender is busy, rows wait to fill the
batch (for at most linger_ms). The committer runs on a real buffer, the sender's state is a
switch."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge_agent.buffer import BatchLimits, DiskBuffer, RowLimits
from edge_agent.committer import Committer
from edge_agent.disk_thread import DiskThread
from edge_agent.outbox import Outbox
from tests.edge_agent.buffer.test_store import MB, samples


def _committer(tmp_path: Path) -> tuple[DiskBuffer, DiskThread, Outbox, dict[str, bool], Committer]:
    """A committer on a real buffer, long linger, with a switch for the sender's idleness."""
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    disk = DiskThread()
    box = Outbox(first_live_seq=1, link_up=lambda: True)
    sender = {"idle": False}
    c = Committer(disk, buf, box, rows=RowLimits(max_samples=16), linger_ms=60_000,
                  batches=BatchLimits(max_samples=1000, max_bytes=MB), idle=lambda: sender["idle"])
    return buf, disk, box, sender, c


async def test_a_partial_batch_is_sealed_at_once_only_when_the_sender_is_idle(tmp_path: Path) -> None:
    buf, disk, box, sender, c = _committer(tmp_path)
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


async def test_a_quiet_committer_sleeps_until_woken_and_ticks_only_while_rows_wait(tmp_path: Path) -> None:
    """With nothing due by time the committer's task takes no step at all (an idle gateway
    spent most of its CPU on a 50 ms clock); rows waiting for a busy sender are sealed by the
    clock when it falls idle, with no wake of its own."""
    buf, disk, box, sender, c = _committer(tmp_path)
    steps = 0
    step = c._step

    async def counted(now: float) -> None:
        nonlocal steps
        steps += 1
        await step(now)

    c._step = counted  # type: ignore[method-assign]
    task = asyncio.create_task(c.run())
    try:
        await asyncio.sleep(0.5)
        assert steps == 0  # nothing to do: no step, ten ticks of the old clock
        await c.accept(samples("m1", 5))  # the wake: committed, the sender busy so it waits
        for _ in range(100):
            if buf.pending_samples == 5:
                break
            await asyncio.sleep(0.01)
        assert buf.pending_samples == 5 and not box.has_ready()
        before = steps
        sender["idle"] = True  # no wake: the clock, ticking while rows wait, seals them
        for _ in range(100):
            if box.has_ready():
                break
            await asyncio.sleep(0.01)
        assert box.has_ready() and buf.pending_samples == 0 and steps > before
        await asyncio.sleep(0.3)
        settled = steps
        await asyncio.sleep(0.5)
        assert steps == settled  # nothing waits by time again: the clock stopped
    finally:
        await c.close()
        await task
        await disk.close(buf.close)
