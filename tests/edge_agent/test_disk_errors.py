"""The disk itself fails under the agent (full, read-only, I/O error): the samples of that
commit cannot be kept, so they are counted as dropped with the reason `disk_error` once the
disk works again, the acknowledgements that rode on the failed commit are still removed, and
the agent keeps going. The failure is injected into the buffer (a unit test: no real disk is
filled)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from common.config_files import validate
from edge_agent.agent import Agent
from edge_agent.buffer import DiskBuffer
from edge_agent.config import GatewayConfig
from wire.sample import Quality, Sample


def agent(tmp_path: Path) -> Agent:
    cfg = validate(GatewayConfig, {
        "gateway": {"id": "gw", "enterprise": {"id": "ent"}},
        "broker": {"host": "127.0.0.1", "port": 1},
        "buffer": {"path": str(tmp_path / "buf.sqlite"), "batch_max_samples": 10},
        "devices": [{"id": "unused", "profile": "energy_meter_3ph",
                     "endpoint": "tcp://127.0.0.1:1", "enabled": False}],
    }, "test")
    return Agent(cfg, tmp_path / "gw.yaml")


def fail_once(monkeypatch: pytest.MonkeyPatch, verb: str, error: sqlite3.Error, *, times: int = 1) -> None:
    """The buffer's ``verb`` raises ``error`` the first ``times`` it is called, then works again."""
    real = getattr(DiskBuffer, verb)
    calls = {"n": 0}

    def failing(self: DiskBuffer, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DiskBuffer, verb, failing)


def poll(device: str, r: int) -> list[Sample]:
    return [Sample(device, f"t{i}", 1_700_000_000_000 + r, float(i), Quality.GOOD,
                   1_700_000_000_000 + r) for i in range(5)]


async def test_a_failed_commit_is_counted_as_disk_error_and_acks_still_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = agent(tmp_path)
    for r in range(4):  # 20 samples: two batches of 10, sealed with the rows
        await a.accept(poll("m1", r))
    await a.committer.commit()
    assert a.buffer.next_seq == 3
    # batch 1 went out and the broker acknowledged it
    a.outbox.handed(a.buffer.unsent(limit=1)[0], [101])
    a.outbox.acknowledged(101)

    fail_once(monkeypatch, "write", sqlite3.OperationalError("database or disk is full"))
    await a.accept(poll("m1", 10))
    await a.accept(poll("m2", 10))
    await a.committer.commit()  # fails: 10 samples lost, the ack retried on its own
    assert [b.seq for b in a.buffer.unsent()] == [2], "the acknowledged batch is gone"
    assert a.outbox.in_flight() == frozenset()

    await a.accept(poll("m1", 11))
    await a.committer.commit()  # the disk works again: the loss is reported
    c = a.buffer.counters().devices
    assert c["m1"].dropped == {"disk_error": 5} and c["m2"].dropped == {"disk_error": 5}
    # the lost ones were read, never stored: read = buffered + dropped, the gateway's balance
    assert c["m1"].read == 30 and c["m1"].buffered == 25
    assert c["m2"].read == 5 and c["m2"].buffered == 0
    assert c["m1"].published == 10
    await a.disk.close(a.buffer.close)


async def test_a_failed_seal_leaves_the_rows_for_the_next_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = agent(tmp_path)
    await a.accept(poll("m1", 1))
    await a.committer.commit()  # 5 samples: a partial batch, waiting for its linger time
    assert a.buffer.pending_samples == 5

    fail_once(monkeypatch, "seal", sqlite3.OperationalError("disk I/O error"))
    await a.committer.flush()  # the seal fails: nothing is lost, nothing numbered
    assert a.buffer.pending_samples == 5 and a.buffer.next_seq == 1
    await a.committer.flush()
    assert a.buffer.pending_samples == 0 and [b.n for b in a.buffer.unsent()] == [5]
    await a.disk.close(a.buffer.close)


async def test_seals_failing_again_and_again_are_logged_once_and_once_recovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    a = agent(tmp_path)
    await a.accept(poll("m1", 1))
    await a.committer.commit()
    fail_once(monkeypatch, "seal", sqlite3.OperationalError("database or disk is full"), times=4)
    with caplog.at_level("WARNING", logger="edge_agent"):
        for _ in range(5):  # four fail, the fifth seals
            await a.committer.flush()
    lines = [r.getMessage() for r in caplog.records if "buffer's disk" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "failed (database or disk is full)" in lines[0]
    assert "works again after 4 failed commits; 0 samples were lost" in lines[1]
    assert [b.n for b in a.buffer.unsent()] == [5]
    await a.disk.close(a.buffer.close)


async def test_an_ack_whose_removal_fails_stays_in_flight_until_it_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch the broker has must never be counted as dropped: while its removal fails, it
    stays in flight (``drop_oldest`` passes over it) and the removal is tried again."""
    a = agent(tmp_path)
    for r in range(2):  # one batch of 10
        await a.accept(poll("m1", r))
    await a.committer.commit()
    a.outbox.handed(a.buffer.unsent(limit=1)[0], [7])
    a.outbox.acknowledged(7)

    fail_once(monkeypatch, "ack", sqlite3.OperationalError("database or disk is full"))
    await a.committer._remove_acks()  # fails: the batch stays, in flight, acknowledged
    assert a.outbox.in_flight() == frozenset({1}) and a.outbox.has_acked()
    assert [b.seq for b in a.buffer.unsent()] == [1]

    await a.committer._remove_acks()  # the disk works again
    assert a.outbox.in_flight() == frozenset() and not a.outbox.has_acked()
    assert a.buffer.unsent() == [] and a.buffer.counters().devices["m1"].published == 10
    await a.disk.close(a.buffer.close)
