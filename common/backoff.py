"""Retry delays for everything that reconnects: devices, brokers, the database.

``initial_s`` doubling up to ``max_s``, with a little jitter so that fifty meters (or ten ingest
workers) that lost their peer together do not all knock at the same instant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    jitter: float = 0.1  # a fraction of the delay, either way

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1 is the first retry)."""
        base = min(self.max_s, self.initial_s * (2 ** max(0, min(attempt, 64) - 1)))
        return base * (1 + random.uniform(-self.jitter, self.jitter))
