"""The buffer's one writer: group commit of what the pollers read, sealing by time, and the
removal of acknowledged batches, all in one task and in order.

- **Group commit.** Pollers stage encoded rows and go on reading; each commit writes
  everything staged since the last one in one transaction (one fsync for many devices'
  reads), seals in it the batches that are now full, and removes the batches the broker has
  acknowledged since. A poller waits only when more than ``STAGED_MAX`` samples are staged,
  so memory stays bounded (at most twice that: what is staged, and what is being written).
- **Seal by time, or when the sender is idle.** Rows that do not fill a batch are sealed as a
  partial batch at once when the sender has nothing to send and room in the broker's window
  (a quiet gateway does not wait out ``linger_ms``); while the sender is busy they wait at
  most ``linger_ms``, filling batches under load. Either way the next commit seals the partial
  batch too, or, when no samples are coming, a seal of its own.
- **Acknowledgements** ride on the next commit; when none is coming they are removed on
  their own, in a transaction without fsync.
- **A failed disk** (full, read-only, I/O error) loses the samples of that commit: they are
  counted as read and as ``dropped:disk_error`` once the disk works again (they were read:
  the gateway's balance read = published + dropped + held stays exact), the acknowledgements
  that rode on it are removed on their own, and polling goes on. An acknowledgement whose
  removal fails too stays in flight (``drop_oldest`` must not count a batch the cloud has as
  dropped) and is retried with the next step. One line is logged when the disk fails and one
  when it works again, not one a commit: a full disk must not fill the log as well.

Batches sealed go to the outbox as soon as their transaction returns. A step is never
cancelled half-way: the stop asks for the last commit (`flush`) and waits for the step under
way, so no batch a commit sealed is left on disk, live yet never handed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import Counter as Tally
from collections.abc import Callable, Sequence

from edge_agent.buffer import BatchLimits, DiskBuffer, Row, RowLimits, SealedBatch, encode_rows
from edge_agent.disk_thread import DiskThread
from edge_agent.outbox import Outbox
from wire.sample import Reading, count, now_ms

log = logging.getLogger(__name__)

STAGED_MAX = 50_000  # samples read but not yet committed before pollers wait for the disk
SEAL_STEP = 32       # batches a transaction when sealing by time


class Committer:
    def __init__(self, disk: DiskThread, buffer: DiskBuffer, outbox: Outbox, *, rows: RowLimits,
                 batches: BatchLimits, linger_ms: int, staged_max: int = STAGED_MAX,
                 idle: Callable[[], bool] = lambda: False) -> None:
        self._disk, self._buffer, self._outbox = disk, buffer, outbox
        self._row_limits, self._limits = rows, batches
        self._linger_ms = linger_ms
        self._idle = idle  # the sender has nothing to send and room in the window
        self._tick = min(0.05, linger_ms / 1000 or 0.05)
        self._staged_max = staged_max
        self._staged: list[list[Row]] = []
        self._staged_n = 0
        self._counts: Tally[tuple[str, str]] = Tally()  # ride on the next commit
        self._wake = asyncio.Event()
        self._taken = asyncio.Event()  # pulsed when a commit takes what was staged
        self._lock = asyncio.Lock()    # one step at a time, whoever asks for it
        self._pending_since: float | None = None  # when rows began waiting for their seal
        self._closed = False
        self._failing: list[int] | None = None  # [commits failed, samples lost] while it fails

    # -- what the pollers call ----------------------------------------------------------------

    async def accept(self, samples: Reading) -> None:
        """Encode samples to their stored form (here, on the loop) and stage them for the
        next commit; waits only while too much is staged."""
        if self._closed:
            raise RuntimeError("the buffer's writer has stopped: no more samples are accepted")
        if not samples:
            return
        self._staged.append(encode_rows(samples, self._row_limits))
        self._staged_n += count(samples)
        self._wake.set()
        while self._staged_n > self._staged_max:
            await self._taken.wait()

    def count(self, device: str, name: str, n: int = 1) -> None:
        """A counter increment (e.g. read errors), committed with the next rows."""
        self._counts[(device, name)] += n
        self._wake.set()

    @property
    def staged_samples(self) -> int:
        """Samples accepted and not yet taken by a commit."""
        return self._staged_n

    def wake(self) -> None:
        """Something to write (acknowledgements to remove)."""
        if not self._closed:
            self._wake.set()

    # -- the task and its steps -------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            # the linger clock, only while something is due by time (None: no timer at all)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._tick if self._waits_on_time() else None):
                    await self._wake.wait()
            self._wake.clear()
            async with self._lock:
                if not self._closed:
                    await self._step(loop.time())

    def _waits_on_time(self) -> bool:
        """Something is due by time, not only on a wake: rows waiting for their batch's
        linger (or for the sender to fall idle, which it says by no wake of its own), or a
        step that failed and is to be tried again. Everything else wakes the committer: a poll
        accepted, a counter, an acknowledgement, the stop."""
        return bool(self._buffer.pending_samples or self._counts or self._failing is not None
                    or self._outbox.has_acked())

    async def _step(self, now: float) -> None:
        due = self._linger_due(now)
        if self._staged or self._counts:
            await self._commit(seal_partial=due or (bool(self._staged) and self._idle()))
        elif due:
            await self._seal_all()
        elif self._outbox.has_acked():
            await self._remove_acks()

    async def commit(self) -> None:
        """One group commit of what is staged now, as the task would make it."""
        async with self._lock:
            await self._commit(seal_partial=self._linger_due(asyncio.get_running_loop().time()))

    async def flush(self) -> None:
        """At a clean stop, once the pollers have stopped: commit what was read and seal every
        row, partial batches included, after the step under way has ended."""
        async with self._lock:
            if self._staged or self._counts:
                await self._commit(seal_partial=True)
            await self._seal_all()

    async def close(self) -> None:
        """The last step: the acknowledgements that came in are removed (one arriving after
        this is resent after the next start, and the cloud ignores it), and the task ends."""
        async with self._lock:
            if self._staged or self._counts:  # accepted after `flush`: kept, sent next start
                await self._commit(seal_partial=True)
            await self._remove_acks()
            self._closed = True
        self._wake.set()

    def _linger_due(self, now: float) -> bool:
        pending = self._buffer.pending_samples
        if not pending:
            self._pending_since = None
            return False
        if self._pending_since is None:
            self._pending_since = now
        return (pending >= self._limits.max_samples
                or (now - self._pending_since) * 1000 >= self._linger_ms
                or self._idle())

    async def _commit(self, *, seal_partial: bool) -> None:
        staged, self._staged, self._staged_n = self._staged, [], 0
        counts, self._counts = self._counts, Tally()
        self._taken.set()  # pollers may stage the next group while this one is written
        self._taken.clear()
        rows = [row for part in staged for row in part]
        acks = self._outbox.take_acked()  # removed in the same transaction: one commit, not two
        sealed, failed, acks_failed = await self._disk(
            _write, self._buffer, rows, now=now_ms(), limits=self._limits,
            seal_partial=seal_partial, acks=acks, claimed=self._outbox.claimed, counts=counts)
        self._acks_done(acks, acks_failed)
        if sealed is None:  # the disk failed: count the loss once it works again
            lost = 0
            for dev, n, _ in rows:
                self._counts[(dev, "read")] += n
                self._counts[(dev, "dropped:disk_error")] += n
                lost += n
            self._counts.update(counts)
            self._disk_failed(lost, failed)
            return
        self._disk_works()
        if seal_partial:
            self._pending_since = None
        self._outbox.sealed(sealed)
        if self._pending_since is None and self._buffer.pending_samples:
            self._pending_since = asyncio.get_running_loop().time()

    async def _seal_all(self) -> None:
        sealed, failed = await self._disk(_seal_all, self._buffer, self._limits, self._outbox.claimed)
        self._pending_since = None
        self._outbox.sealed(sealed)
        if failed is not None:  # the rows wait for the next try: nothing is lost
            self._disk_failed(0, failed)
        else:
            self._disk_works()

    async def _remove_acks(self) -> None:
        acks = self._outbox.take_acked()
        failed = await self._disk(_ack, self._buffer, acks) if acks else None
        self._acks_done(acks, failed)
        if failed is not None:
            self._disk_failed(0, failed)
        elif acks:
            self._disk_works()

    def _acks_done(self, acks: Sequence[int], failed: sqlite3.Error | None) -> None:
        """After the transaction that was to remove ``acks``: they leave the flight, or, when
        the removal failed, wait in flight for the next try."""
        if failed is None:
            self._outbox.removed(acks)
        else:
            self._outbox.retry_removal(acks)

    def _disk_failed(self, lost: int, err: sqlite3.Error | None) -> None:
        if self._failing is None:
            self._failing = [0, 0]
            log.error("the buffer's disk failed (%s): samples read meanwhile are lost and counted "
                      "as dropped:disk_error; what the buffer holds is kept", err)
        self._failing[0] += 1
        self._failing[1] += lost

    def _disk_works(self) -> None:
        if self._failing is not None:
            commits, lost = self._failing
            log.warning("the buffer's disk works again after %d failed commits; %d samples "
                        "were lost, counted as dropped:disk_error", commits, lost)
            self._failing = None


# -- on the buffer's thread -------------------------------------------------------------------

def _write(buffer: DiskBuffer, rows: list[Row], *, now: int, limits: BatchLimits,
           seal_partial: bool, acks: Sequence[int], claimed: set[int],
           counts: Tally[tuple[str, str]]
           ) -> tuple[list[SealedBatch] | None, sqlite3.Error | None, sqlite3.Error | None]:
    """Commit rows with their counters (and remove acknowledged batches). Returns the batches
    sealed, claimed for sending before anything else runs on this thread (the outbox lets go
    of those it does not keep; None when the disk failed), the write's error, and the error of
    removing the acknowledgements (None: they are gone)."""
    try:
        sealed = buffer.write(rows, now_ms=now, seal_full=limits, seal_partial=seal_partial,
                              acks=acks, in_flight=claimed, counts=counts).sealed
    except sqlite3.Error as err:
        # The disk itself failed (full, read-only, I/O error): the samples cannot be kept;
        # the acknowledgements are not lost: their removal is tried again on its own, at once
        return None, err, _ack(buffer, acks) if acks else None
    claimed.update(b.seq for b in sealed)
    return sealed, None, None


def _seal_all(buffer: DiskBuffer, limits: BatchLimits, claimed: set[int]
              ) -> tuple[list[SealedBatch], sqlite3.Error | None]:
    """Seal every pending row, partial batches included, ``SEAL_STEP`` batches a transaction.
    Returns the batches sealed and the disk's error (the rows left wait for the next try; the
    event loop logs it once a burst of failures, as for commits)."""
    made: list[SealedBatch] = []
    failed: sqlite3.Error | None = None
    try:
        while more := buffer.seal(limits, now_ms=now_ms(), max_batches=SEAL_STEP):
            made += more
    except sqlite3.Error as err:
        failed = err
    claimed.update(b.seq for b in made)  # as in `_write`
    return made, failed


def _ack(buffer: DiskBuffer, acks: Sequence[int]) -> sqlite3.Error | None:
    """Remove acknowledged batches; returns the error when the disk failed."""
    try:
        buffer.ack(*acks)
    except sqlite3.Error as err:
        return err
    return None
