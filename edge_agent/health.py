"""What `/metrics` and `edge-agent status` report, and the small protocol `/metrics` reads.

The metrics module knows the agent only through `HealthSource`, so it imports nothing of the
agent (no import cycle) and can be tested against any object that has these figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from edge_agent.buffer import DiskBuffer
from wire.json_v1 import Counters

POLL_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(kw_only=True)
class PollTimes:
    """A histogram of poll durations (Prometheus buckets, cumulative on exposition)."""

    counts: list[int] = field(default_factory=lambda: [0] * len(POLL_BUCKETS_S))
    total: int = 0
    sum_s: float = 0.0

    def observe(self, seconds: float) -> None:
        for i, le in enumerate(POLL_BUCKETS_S):
            if seconds <= le:
                self.counts[i] += 1
                break
        self.total += 1
        self.sum_s += seconds

    def buckets(self) -> list[tuple[str, int]]:
        """Cumulative (upper bound, count) pairs, ending with +Inf."""
        out, running = [], 0
        for le, n in zip(POLL_BUCKETS_S, self.counts, strict=True):
            running += n
            out.append((repr(le), running))
        out.append(("+Inf", self.total))
        return out


@dataclass(kw_only=True)
class DeviceHealth:
    """A device's live figures; its poller is the one writer."""

    connected: bool = False
    last_good_ms: int | None = None
    read_errors: int = 0
    last_error: str | None = None
    polls: int = 0
    skipped_polls: int = 0  # since start (the cumulative figure is in the buffer's counters)
    requests: int = 0  # protocol requests sent since start
    planned_requests: int | None = None  # requests one poll takes, where a planner says
    poll_times: PollTimes = field(default_factory=PollTimes)


@dataclass(frozen=True, kw_only=True)
class BufferHealth:
    """The buffer's figures, read together on the buffer's thread."""

    pending: int
    batches: int
    backlog: int
    used_bytes: int
    oldest_ms: int | None
    counters: Counters


@dataclass(kw_only=True)
class AgentState:
    """Live figures of one run of the agent."""

    session: str
    started_ms: int
    health: dict[str, DeviceHealth] = field(default_factory=dict)
    published_batches: int = 0
    published_samples: int = 0
    connected_since_ms: int | None = None


class HealthSource(Protocol):
    """What `/metrics` reads. Called from the metrics server's thread, not the agent's loop."""

    @property
    def state(self) -> AgentState: ...

    def broker_connected(self) -> bool: ...

    def buffer_health(self) -> BufferHealth:
        """The buffer's figures now; raises `BufferUnavailable` when they cannot be read."""
        ...


class BufferUnavailable(RuntimeError):
    """The buffer's figures cannot be read (the agent is stopping, or its disk is stuck)."""


def read_buffer_health(buffer: DiskBuffer) -> BufferHealth:
    """On the buffer's thread: its figures, all from one moment."""
    pending, batches = buffer.depth()
    return BufferHealth(pending=pending, batches=batches, backlog=buffer.backlog_samples(),
                        used_bytes=buffer.used_bytes(), oldest_ms=buffer.oldest_ms(),
                        counters=buffer.counters())
