"""Which asyncio event loop a long-running process runs on: uvloop where it is installed.

The edge agent spends about a third of its CPU in the event loop itself (timers, the
selector, socket transports), not in its own code: uvloop (libuv, in C) does that work for
about 12 % less of the agent's CPU at 10,000 points/s (bench/edge_scale.py, measured on the
development machine). It is installed with the project on Linux x86_64 and aarch64 (its
wheels); elsewhere (armv7 gateways, other systems) ``auto`` falls back to asyncio's own loop,
which behaves the same, only slower.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any, Literal, TypeVar

EventLoop = Literal["auto", "asyncio", "uvloop"]
T = TypeVar("T")


class EventLoopUnavailable(RuntimeError):
    pass


def _uvloop() -> ModuleType | None:
    try:
        import uvloop
    except ImportError:  # not installed here, or broken: asyncio's loop does the same work
        return None
    return uvloop


def chosen(kind: EventLoop) -> Literal["asyncio", "uvloop"]:
    """The loop ``kind`` means on this machine (``auto``: uvloop when it can be imported)."""
    return "asyncio" if _factory(kind) is None else "uvloop"


def _factory(kind: EventLoop) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop maker, or None for asyncio's own."""
    if kind == "asyncio":
        return None
    uv = _uvloop()
    if uv is not None:
        return uv.new_event_loop
    if kind == "uvloop":
        raise EventLoopUnavailable(
            "event_loop: uvloop 在这台机器上无法导入 / cannot be imported on this machine; "
            "安装它 / install it (pip install uvloop), or set event_loop: auto (or asyncio)")
    return None


def running() -> Literal["asyncio", "uvloop"]:
    """The running loop's kind (for a process's start line)."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], *, kind: EventLoop = "auto") -> T:
    """``asyncio.run(main)`` on the loop ``kind`` names."""
    try:
        factory = _factory(kind)
    except EventLoopUnavailable:
        main.close()  # never awaited: no "coroutine was never awaited" warning on top
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
