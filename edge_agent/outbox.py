"""What the sender has to send and what the broker still owes: the outbox's bookkeeping.

Invariants kept here, and only here:

- A batch sealed while connected is *live*: it waits in the ready queue (in seal order, body
  in memory while the buffer's cache had room) and goes out before any backlog. Everything
  sealed before the current connection is *backlog*, read from disk oldest first.
- A batch is *in flight* from the moment it is given to paho until its removal from disk has
  committed, acknowledgement included: the backlog query and ``drop_oldest`` pass over it, so
  an acknowledged batch waiting for its removal is never picked and sent again.
- A batch is acknowledged when every message of it was (Sparkplug sends one DDATA per
  device); paho message ids map to batch seqs until then.
- A batch is *claimed* (`claimed`, the one set shared with the buffer's thread) from the
  buffer job that picks it for sending — the commit that seals a live batch, the backlog read —
  until it leaves the ready queue unsent or its removal from disk has committed. ``drop_oldest``
  runs on the buffer's thread and passes over claimed batches, so no batch is dropped once
  the job that picked it has run: a batch the full policy dropped is never sent, and a batch
  sent is never counted dropped. (Claiming on the loop after such a job returned left a window
  in which the next commit, already queued on the buffer's thread, dropped a backlog batch
  the sender was about to publish: the cloud stored it while the gateway counted it dropped.)

No I/O and no awaiting but `wait`: the sender, the committer and the MQTT callbacks call these
methods on the loop, one at a time. Only buffer jobs add to ``claimed``, only the loop removes;
single set operations are atomic in CPython.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable

from edge_agent.buffer import SealedBatch


class Outbox:
    def __init__(self, *, first_live_seq: int, link_up: Callable[[], bool]) -> None:
        self.first_live_seq = first_live_seq  # batches below it are backlog
        self._link_up = link_up
        self._ready: deque[SealedBatch] = deque()
        self._backlog_left = True
        self._mids: dict[int, int] = {}      # paho message id -> batch seq
        self._unacked: dict[int, int] = {}   # batch seq -> messages not yet acknowledged
        self._in_flight: dict[int, int] = {}  # batch seq -> samples, until removed from disk
        self._acked: list[int] = []          # acknowledged, not yet taken for removal
        self.claimed: set[int] = set()       # see the module docstring: shared with the buffer's thread
        self._work = asyncio.Event()

    # -- the connection ------------------------------------------------------------------------

    def connected(self, *, next_seq: int) -> None:
        """A new connection: everything sealed before ``next_seq`` is backlog now (what paho
        still holds of it, paho resends itself; it stays in flight)."""
        self.first_live_seq = next_seq
        self.unclaim(b.seq for b in self._ready)
        self._ready.clear()
        self._backlog_left = True
        self.nudge()

    def unclaim(self, seqs: Iterable[int]) -> None:
        """Picked for sending but not handed out after all (not live, over the drain rate, or
        the connection changed): ``drop_oldest`` may take them again."""
        for seq in seqs:
            if seq not in self._in_flight:
                self.claimed.discard(seq)

    # -- from the committer -----------------------------------------------------------------

    def sealed(self, batches: Iterable[SealedBatch]) -> None:
        """Batches just sealed. Sealed while disconnected, they are backlog at the next
        connection (read from disk then), so they are not kept here."""
        batches = list(batches)
        keep = ([b for b in batches if b.seq >= self.first_live_seq] if self._link_up() else [])
        kept = {b.seq for b in keep}
        self.unclaim(b.seq for b in batches if b.seq not in kept)
        if keep:
            self._ready.extend(keep)
            self.nudge()

    def take_acked(self) -> list[int]:
        """Acknowledged batches, for removal from disk; they stay in flight until `removed`."""
        acked, self._acked = self._acked, []
        return acked

    def has_acked(self) -> bool:
        return bool(self._acked)

    def removed(self, seqs: Iterable[int]) -> None:
        """The transaction removing these acknowledged batches has ended."""
        for seq in seqs:
            self._in_flight.pop(seq, None)
            self.claimed.discard(seq)

    def retry_removal(self, seqs: Iterable[int]) -> None:
        """The transaction removing these acknowledged batches failed (the disk is full): they
        stay in flight and acknowledged, taken again by the next removal."""
        self._acked.extend(seqs)

    def in_flight(self) -> frozenset[int]:
        return frozenset(self._in_flight)

    # -- for the sender -------------------------------------------------------------------------

    def take_live(self, room: int, *, dropped_through: int) -> list[SealedBatch]:
        """Up to ``room`` live batches, oldest first, leaving out any the full policy dropped
        after they were sealed (oldest first, so every seq up to ``dropped_through``)."""
        take = [self._ready.popleft() for _ in range(min(room, len(self._ready)))]
        return [b for b in take if b.seq > dropped_through]

    def has_ready(self) -> bool:
        return bool(self._ready)

    def queued(self) -> frozenset[int]:
        """Seqs ready or in flight: what the sender already has."""
        return frozenset(b.seq for b in self._ready) | frozenset(self._in_flight)

    @property
    def backlog_left(self) -> bool:
        return self._backlog_left

    def backlog_done(self) -> None:
        """Every backlog batch has been handed out (a reconnection makes backlog again)."""
        self._backlog_left = False

    def handed(self, batch: SealedBatch, mids: list[int]) -> None:
        """``batch`` was given to paho as the messages ``mids``."""
        self._unacked[batch.seq] = len(mids)
        self._in_flight[batch.seq] = batch.n
        for mid in mids:
            self._mids[mid] = batch.seq

    def acknowledged(self, mid: int) -> int | None:
        """The broker acknowledged message ``mid``; returns the samples of the batch it
        completes, None when it completes none (another message of it is due, or it was a
        birth or other message that is not a batch)."""
        seq = self._mids.pop(mid, None)
        if seq is None:
            return None
        left = self._unacked[seq] - 1
        if left:
            self._unacked[seq] = left
            return None
        del self._unacked[seq]
        self._acked.append(seq)
        self.nudge()  # room in the window
        return self._in_flight.get(seq, 0)

    @property
    def awaiting_ack(self) -> int:
        """Batches handed out whose acknowledgement is still due (the in-flight window)."""
        return len(self._unacked)

    # -- waking the sender --------------------------------------------------------------------

    def nudge(self) -> None:
        self._work.set()

    async def wait(self, timeout_s: float) -> None:
        """Until there may be something to do, or ``timeout_s`` (the drain bucket refills
        with time)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):  # unlike wait_for, never swallows a cancel
                await self._work.wait()
        self._work.clear()
