"""The drain rate after an outage: a token bucket of samples.

The bucket holds at most one second's worth and is empty at each connection, so the backlog
starts at the configured rate and never bursts above it; live batches do not take tokens.
A batch larger than a second's worth goes out when the bucket is full (it would never fit
otherwise), leaving the bucket in debt.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate_per_s: float, *, now: float) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"a drain rate must be positive, not {rate_per_s}")
        self.rate = float(rate_per_s)
        self.tokens = 0.0
        self._last = now

    def reset(self, now: float) -> None:
        """Empty, refilling from ``now`` (a new connection)."""
        self.tokens, self._last = 0.0, now

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate, self.tokens + (now - self._last) * self.rate)
        self._last = now

    def has_tokens(self) -> bool:
        return self.tokens >= 1

    def take(self, n: int) -> bool:
        """Take ``n`` samples' worth if the bucket holds them (or is full, for a batch larger
        than its capacity); False leaves the bucket as it was."""
        if self.tokens < min(n, self.rate):
            return False
        self.tokens -= n
        return True
