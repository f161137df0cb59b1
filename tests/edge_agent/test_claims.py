"""A batch picked for sending is claimed on the buffer's thread, in the job that picked it, so
the full policy can never drop it afterwards. Found by the buffer-full e2e test under load:
the sender read backlog batches, and a commit already queued on the buffer's thread dropped
them (drop_oldest) before the sender had marked them in flight; the cloud stored them while
the gateway counted them dropped, and the counters no longer reconciled."""

from __future__ import annotations

from collections import Counter as Tally
from pathlib import Path

from edge_agent.buffer import BatchLimits, DiskBuffer, RowLimits, encode_rows
from edge_agent.committer import _write
from edge_agent.outbox import Outbox
from edge_agent.sender import _claim_unsent
from tests.edge_agent.buffer.test_store import MB, samples, write
from tests.edge_agent.test_outbox import batch

LIMITS = BatchLimits(max_samples=16, max_bytes=MB)
ROWS = RowLimits(max_samples=16)


def _full_of_backlog(tmp_path: Path) -> tuple[DiskBuffer, int]:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=96 * 1024)
    r = 0
    while buf.depth()[1] < 4:
        write(buf, samples("m1", 16, start=1_700_000_000_000 + r * 100), rows=ROWS, seal_full=LIMITS,
              now_ms=r)
        r += 1
    return buf, r


def test_a_commit_queued_behind_the_backlog_read_does_not_drop_what_it_picked(tmp_path: Path) -> None:
    buf, r = _full_of_backlog(tmp_path)
    claimed: set[int] = set()
    picked = [b.seq for b in _claim_unsent(buf, claimed, limit=2)]  # the sender's job
    assert claimed == set(picked)
    # the commits that were queued behind it, before the loop saw the picked batches
    while buf.counters().devices["m1"].dropped.get("buffer_full", 0) == 0:
        rows = encode_rows(samples("m1", 16, start=1_700_000_000_000 + r * 100), limits=ROWS)
        _write(buf, rows, now=r, limits=LIMITS, seal_partial=False, acks=[], claimed=claimed, counts=Tally())
        r += 1
    on_disk = {b.seq for b in buf.unsent(limit=1000)}
    assert set(picked) <= on_disk, "a batch picked for sending was dropped"
    assert buf.dropped_through > max(picked)


def test_what_a_commit_seals_is_claimed_before_anything_else_runs(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.sqlite", max_bytes=64 * MB)
    claimed: set[int] = set()
    rows = encode_rows(samples("m1", 40), limits=ROWS)
    sealed, _, _ = _write(buf, rows, now=0, limits=LIMITS, seal_partial=True, acks=[], claimed=claimed,
                          counts=Tally())
    assert sealed and claimed == {b.seq for b in sealed}


def test_the_outbox_lets_go_of_batches_it_does_not_send() -> None:
    link = {"up": False}
    box = Outbox(first_live_seq=1, link_up=lambda: link["up"])
    box.claimed.update({1, 2})
    box.sealed([batch(1), batch(2)])  # sealed while disconnected: backlog, not kept
    assert box.claimed == set()
    link["up"] = True
    box.claimed.update({3, 4})
    box.sealed([batch(3), batch(4)])
    box.handed(batch(3), [101])
    box.connected(next_seq=5)  # the ready queue is backlog now; the batch in flight stays claimed
    assert box.claimed == {3}
    box.claimed.update({6, 7})
    box.unclaim([6, 7])  # read as backlog, over the drain rate
    assert box.claimed == {3}
    assert box.acknowledged(101) == 10
    box.removed(box.take_acked())
    assert box.claimed == set()
