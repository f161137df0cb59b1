"""One owner of every task the agent starts.

Each task is started here with a name and kept until it ends. A task that fails (an exception
other than cancellation) is logged with its traceback and reported to the agent, which then
stops cleanly: what was read is committed, and `Agent.run` raises the failure afterwards, so
the service manager sees the agent end with an error instead of a gateway that polls on and
never sends. Stopping tasks is bounded: a task that does not listen never hangs the stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)


class TaskOwner:
    def __init__(self, *, on_failure: Callable[[], None]) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_failure = on_failure
        self.failure: tuple[str, BaseException] | None = None  # the first task that failed

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        err = task.exception()
        if err is None:
            return
        log.error("task %s failed; the agent stops", task.get_name(), exc_info=err)
        if self.failure is None:
            self.failure = (task.get_name(), err)
        self._on_failure()

    @property
    def running(self) -> list[str]:
        return sorted(t.get_name() for t in self._tasks)

    async def cancel(self, tasks: Iterable[asyncio.Task[Any]], *, timeout_s: float = 5.0) -> None:
        """Cancel and wait, bounded: on Python 3.11 ``asyncio.wait_for`` can swallow a
        cancellation that races with its inner future, so a task may need telling twice, and
        a stop must never hang on one that does not listen."""
        pending = {t for t in tasks if not t.done()}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while pending:
            for t in pending:
                t.cancel()
            left = deadline - loop.time()
            if left <= 0:
                log.warning("tasks did not stop: %s", sorted(t.get_name() for t in pending))
                return
            _, pending = await asyncio.wait(pending, timeout=min(0.5, left))

    async def join(self, tasks: Iterable[asyncio.Task[Any]], *, timeout_s: float) -> None:
        """Let ``tasks`` end on their own within ``timeout_s``, then cancel what is left."""
        pending = {t for t in tasks if not t.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=timeout_s)
        await self.cancel(pending)

    async def close(self) -> None:
        """Cancel whatever is still running (the last step of a stop)."""
        await self.cancel(list(self._tasks))
