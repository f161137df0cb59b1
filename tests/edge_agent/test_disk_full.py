"""A buffer on a disk that really fills: a small filesystem of its own (tmpfs with ``size=``)
filled with a ballast file, so SQLite meets ENOSPC ("database or disk is full") as it would on
a gateway's SD card. The agent goes on; what the buffer held before is kept; what was read
while the disk was full is counted as read and as dropped with the reason ``disk_error``; and
once the space comes back the buffer works again. Mounting needs root: elsewhere the test says
why it is skipped (tests/edge_agent/test_disk_errors.py injects the failure instead)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.buffer import BufferDiskFull, DiskBuffer
from tests.edge_agent.test_disk_errors import agent, poll
from tests.support import SmallDisk

pytestmark = pytest.mark.skipif(bool(SmallDisk.unavailable()),
                                reason=f"no small disk: {SmallDisk.unavailable()}")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    d = SmallDisk(tmp_path / "disk", size_bytes=8 << 20)
    yield d
    d.close()


async def test_a_full_disk_loses_only_what_was_read_meanwhile_counted_and_recovers(
    disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    a = agent(disk.path)  # the buffer file is on the small disk
    for r in range(4):  # 20 samples: two batches of 10, sealed with the rows
        await a.accept(poll("m1", r))
    await a.committer.commit()
    before = [(b.seq, b.samples_json) for b in a.buffer.unsent()]
    assert [seq for seq, _ in before] == [1, 2]

    assert disk.fill() > 0
    for r in range(10, 60):  # polls go on while the disk is full; nothing raises
        await a.accept(poll("m1", r))
        await a.accept(poll("m2", r))
        await a.committer.commit()
    disk.free()
    await a.accept(poll("m1", 100))
    await a.committer.commit()  # the space is back: this commit works and reports the loss

    c = a.buffer.counters().devices
    lost = c["m1"].dropped.get("disk_error", 0) + c["m2"].dropped.get("disk_error", 0)
    assert lost > 0, "the disk never filled up for SQLite"
    # one line when the disk failed, one when it worked again, with the loss: not one a commit
    said = [r.getMessage() for r in caplog.records if r.name == "edge_agent.committer"]
    assert len(said) == 2 and said[0].startswith("the buffer's disk failed (database or disk is full)")
    assert said[1].startswith("the buffer's disk works again after ")
    assert f"; {lost} samples were lost" in said[1]
    for dev, polls in (("m1", 55), ("m2", 50)):  # every sample read is counted as read
        assert c[dev].read == 5 * polls
        assert c[dev].read == c[dev].buffered + c[dev].dropped.get("disk_error", 0)
    # what the buffer held before the disk filled is there, unchanged, and so is all it stored
    unsent = a.buffer.unsent(limit=1000)
    assert [(b.seq, b.samples_json) for b in unsent[:2]] == before
    assert a.buffer.backlog_samples() == c["m1"].buffered + c["m2"].buffered
    await a.committer.flush()
    await a.disk.close(a.buffer.close)

    again = DiskBuffer(disk.path / "buf.sqlite", max_bytes=1 << 30)  # after a restart, too
    try:
        assert again.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert again.backlog_samples() == c["m1"].buffered + c["m2"].buffered
    finally:
        again.close()


async def test_a_buffer_on_a_full_disk_is_refused_by_name_and_opens_once_space_is_back(
    disk: SmallDisk
) -> None:
    """A restart while the disk is full: SQLite cannot make the file it shares with readers
    and says "disk I/O error"; the agent says the disk is full, where, and what to do, and the
    samples already buffered are there once space is back."""
    a = agent(disk.path)
    await a.accept(poll("m1", 1))
    await a.committer.flush()
    await a.disk.close(a.buffer.close)
    disk.fill()
    with pytest.raises(BufferDiskFull, match="the buffer's disk is full") as caught:
        DiskBuffer(disk.path / "buf.sqlite", max_bytes=1 << 30)
    assert str(disk.path) in str(caught.value) and "磁盘已满" in str(caught.value)
    disk.free()
    b = DiskBuffer(disk.path / "buf.sqlite", max_bytes=1 << 30)
    try:
        assert b.backlog_samples() == 5 and [x.n for x in b.unsent()] == [5]
    finally:
        b.close()
