"""Every task has one owner: a task that fails stops the agent cleanly (what was read is kept)
and `Agent.run` then raises; stopping tasks is bounded even for one that does not listen."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from common.config_files import validate
from edge_agent import agent as agent_module
from edge_agent.agent import Agent, AgentError
from edge_agent.buffer import DiskBuffer
from edge_agent.committer import Committer
from edge_agent.config import GatewayConfig
from edge_agent.tasks import TaskOwner
from wire.sample import Quality, Sample


async def test_a_failed_task_is_reported_once_and_cancellation_is_no_failure(
    caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[str] = []
    owner = TaskOwner(on_failure=lambda: failures.append("stop"))

    async def boom() -> None:
        raise RuntimeError("boom")

    async def forever() -> None:
        await asyncio.Event().wait()

    quiet = owner.spawn(forever(), name="quiet")
    with caplog.at_level(logging.ERROR, logger="edge_agent.tasks"):
        await asyncio.gather(owner.spawn(boom(), name="first"), owner.spawn(boom(), name="second"),
                             return_exceptions=True)
    await owner.cancel([quiet])
    assert owner.failure is not None and owner.failure[0] == "first"
    assert isinstance(owner.failure[1], RuntimeError)
    assert failures == ["stop", "stop"] and owner.running == []
    assert "task first failed; the agent stops" in caplog.text


async def test_cancel_tells_a_task_twice_and_gives_up_on_one_that_never_listens(
    caplog: pytest.LogCaptureFixture
) -> None:
    owner = TaskOwner(on_failure=lambda: None)
    release = asyncio.Event()
    told = {"once": 0}

    async def deaf_once() -> None:  # as a wait_for that swallowed a racing cancel on 3.11
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            told["once"] += 1
        await asyncio.Event().wait()

    async def deaf() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                pass

    once = owner.spawn(deaf_once(), name="deaf-once")
    await asyncio.sleep(0)  # let it start waiting
    await owner.cancel([once], timeout_s=5)
    assert once.cancelled() and told["once"] == 1
    stuck = owner.spawn(deaf(), name="deaf")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="edge_agent.tasks"):
        await owner.cancel([stuck], timeout_s=0.2)
    assert not stuck.done() and "tasks did not stop: ['deaf']" in caplog.text
    release.set()
    await stuck


async def test_join_lets_tasks_end_on_their_own_then_cancels_the_rest() -> None:
    owner = TaskOwner(on_failure=lambda: None)
    go = asyncio.Event()

    async def ends() -> None:
        await go.wait()

    async def hangs() -> None:
        await asyncio.Event().wait()

    done, stuck = owner.spawn(ends(), name="ends"), owner.spawn(hangs(), name="hangs")
    go.set()
    await owner.join([done, stuck], timeout_s=0.2)
    assert done.done() and not done.cancelled() and stuck.cancelled()


async def test_an_agent_whose_task_fails_stops_cleanly_then_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = validate(GatewayConfig, {
        "gateway": {"id": "gw", "enterprise": {"id": "ent"}},
        "broker": {"host": "127.0.0.1", "port": 1},  # no broker: everything stays on disk
        "buffer": {"path": str(tmp_path / "buf.sqlite")},
        "devices": [{"id": "m1", "profile": "energy_meter_3ph", "endpoint": "tcp://127.0.0.1:1"}],
    }, "test")

    async def failing_poller(*args: object, sink: Committer, **kw: object) -> None:
        await sink.accept([Sample("m1", f"t{i}", 1_700_000_000_000, float(i), Quality.GOOD,
                                  1_700_000_000_000) for i in range(7)])
        raise RuntimeError("the collector broke")

    monkeypatch.setattr(agent_module, "poll_device", failing_poller)
    agent = Agent(cfg, tmp_path / "gw.yaml")
    with pytest.raises(AgentError, match=r"task poll:m1 failed: RuntimeError\('the collector broke'\)"):
        await asyncio.wait_for(agent.run(), 30)
    again = DiskBuffer(tmp_path / "buf.sqlite", max_bytes=1 << 30)
    assert again.backlog_samples() == 7, "what was read before the failure is kept"
    assert again.depth() == (0, 1), "and sealed by the clean stop"
    again.close()
