"""The outbox's bookkeeping, without a broker: live batches only while connected and from the
current connection on, in flight until removed from disk, acknowledged when every message of a
batch is, and backlog again after each reconnection."""

from __future__ import annotations

import asyncio

from edge_agent.buffer import SealedBatch
from edge_agent.outbox import Outbox


def batch(seq: int, n: int = 10) -> SealedBatch:
    return SealedBatch(seq=seq, sealed_ms=0, n=n, samples_json=f"[{seq}]")


class Link:
    def __init__(self) -> None:
        self.up = True

    def __call__(self) -> bool:
        return self.up


def test_live_batches_are_those_sealed_while_connected_since_the_connection() -> None:
    link = Link()
    box = Outbox(first_live_seq=1, link_up=link)
    box.connected(next_seq=5)  # 1-4 are backlog
    box.sealed([batch(4), batch(5), batch(6)])
    link.up = False
    box.sealed([batch(7)])  # sealed while disconnected: backlog at the next connection
    assert [b.seq for b in box.take_live(10, dropped_through=0)] == [5, 6]
    link.up = True
    box.sealed([batch(8), batch(9)])
    box.connected(next_seq=10)  # everything before is backlog now, the queue with it
    assert box.take_live(10, dropped_through=0) == [] and box.backlog_left


def test_take_live_respects_the_room_and_leaves_out_dropped_batches() -> None:
    box = Outbox(first_live_seq=1, link_up=lambda: True)
    box.sealed([batch(s) for s in range(1, 6)])
    assert [b.seq for b in box.take_live(2, dropped_through=1)] == [2]  # 1 dropped when full
    assert [b.seq for b in box.take_live(10, dropped_through=1)] == [3, 4, 5]


def test_a_batch_stays_in_flight_until_its_removal_from_disk() -> None:
    box = Outbox(first_live_seq=1, link_up=lambda: True)
    box.handed(batch(1, n=7), [11, 12])  # two messages (Sparkplug: two devices)
    assert box.awaiting_ack == 1 and box.in_flight() == {1}
    assert box.acknowledged(11) is None, "one message of the batch is still due"
    assert box.acknowledged(99) is None, "a birth's ack is no batch"
    assert box.acknowledged(12) == 7
    assert box.awaiting_ack == 0 and box.has_acked()
    assert box.in_flight() == {1}, "acknowledged, not yet removed: never picked again"
    taken = box.take_acked()
    assert taken == [1] and not box.has_acked() and box.in_flight() == {1}
    box.removed(taken)
    assert box.in_flight() == frozenset()
    assert box.acknowledged(12) is None, "a duplicate PUBACK changes nothing"


def test_queued_is_what_the_sender_already_has() -> None:
    box = Outbox(first_live_seq=1, link_up=lambda: True)
    box.sealed([batch(2), batch(3)])
    box.handed(batch(1), [5])
    assert box.queued() == {1, 2, 3}


def test_backlog_is_done_until_the_next_connection() -> None:
    box = Outbox(first_live_seq=1, link_up=lambda: True)
    assert box.backlog_left
    box.backlog_done()
    assert not box.backlog_left
    box.connected(next_seq=3)
    assert box.backlog_left and box.first_live_seq == 3


async def test_wait_returns_when_nudged_or_after_its_timeout() -> None:
    box = Outbox(first_live_seq=1, link_up=lambda: True)
    box.sealed([batch(1)])  # new work wakes the sender
    async with asyncio.timeout(5):  # at once, not after its own minute
        await box.wait(60.0)
    async with asyncio.timeout(5):  # nothing new: its timeout ends it (the drain bucket refills)
        await box.wait(0.01)
