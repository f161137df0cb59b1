"""The one thread that runs every buffer call, in the order the calls were made.

The loop never waits for an fsync, a checkpoint or a slow SD card: pollers, OPC UA
subscriptions and MQTT callbacks keep their timing. SQLite releases the GIL while it works, so
the disk work overlaps the encoding of the next samples on the loop. One thread also means the
buffer needs no locks: its in-memory state changes only there, after each commit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class DiskClosed(RuntimeError):
    """The disk thread has been shut down; nothing more runs on it."""


class DiskThread:
    def __init__(self, *, name: str = "edge-buffer") -> None:
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the disk thread and wait for it. A cancelled caller does not undo a
        call begun (nor one queued): the call runs, and its result is lost."""
        return await self.submit(fn, *args, **kwargs)

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        """Queue ``fn`` behind the calls made before; the future resolves on the loop."""
        if self._closed:
            raise DiskClosed("the buffer's thread has been shut down")
        return asyncio.get_running_loop().run_in_executor(
            self._io, functools.partial(fn, *args, **kwargs))

    def call_blocking(self, fn: Callable[[], T], *, timeout_s: float) -> T:
        """From another thread (not the loop's): run ``fn`` in turn and wait at most
        ``timeout_s`` for it. Raises `DiskClosed` after shutdown, TimeoutError when the disk
        is too busy (the call still runs when its turn comes)."""
        try:
            future = self._io.submit(fn)
        except RuntimeError as err:  # submit after shutdown
            raise DiskClosed("the buffer's thread has been shut down") from err
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError as err:
            raise TimeoutError(f"the buffer's thread did not answer within {timeout_s} s") from err

    async def close(self, last: Callable[[], object]) -> None:
        """Run ``last`` (closing the buffer) after every call made before, then end the
        thread."""
        try:
            await self(last)
        finally:
            self._closed = True
            self._io.shutdown(wait=True)
