"""Failed authentication, limited per client address: after ``api.auth_failures_max`` wrong,
expired or revoked tokens within ``api.auth_failure_window_s`` seconds, an address gets 429
with ``Retry-After`` on every authenticated route until the oldest failure leaves the window.

Tokens have 256 random bits, so the limit is not what keeps them from being guessed; it keeps a
scanner or a misconfigured client from turning every request into a database lookup, and it
makes such a client visible in the log. Requests without any token are not counted (they guess
nothing). The window is the moving window of ``limits``, kept in this worker's memory: several
workers behind a load balancer each count their own. Behind a reverse proxy, the address is the
one uvicorn takes from ``X-Forwarded-For`` when the proxy is in ``api.trusted_proxies``.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


class FailedAuthLimiter:
    def __init__(self, *, max_failures: int, window_s: int) -> None:
        self._item = RateLimitItemPerSecond(max_failures, window_s, namespace="sfg-auth")
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.max_failures = max_failures
        self.window_s = window_s

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again; None when it may now."""
        if self._limiter.test(self._item, address):
            return None
        reset = self._limiter.get_window_stats(self._item, address).reset_time
        return max(1, math.ceil(reset - time.time()))

    def failed(self, address: str) -> None:
        if not self._limiter.hit(self._item, address):
            return  # already over the limit: counted, refused above
        if not self._limiter.test(self._item, address):
            log.warning("%d failed authentications from %s within %d s: refusing it for a while",
                        self.max_failures, address, self.window_s)
