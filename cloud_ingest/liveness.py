"""Is a device delivering right now: one rule for the API's ``/devices/status`` and the
dashboard's live grid (``web/queries/live.py``), so they never disagree about the same device.

A device is **delivering** only when its data is fresh *and* good: its newest sample was stored
within ``stale_factor`` times its fastest expected interval (the heartbeat for tags reported by
exception; 60 s when unknown), by the cloud's clock only, and every tag's newest sample has good
quality. Fresh data that is all bad means the gateway runs but cannot read the device (it sends
bad-quality samples instead of silence): **device_offline**. Fresh data with some tags bad or
uncertain: **degraded**. Nothing fresh: **stale**; nothing ever: **never**.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

Liveness = Literal["delivering", "degraded", "device_offline", "stale", "never"]
STALE_FACTOR = 3.0
DEFAULT_INTERVAL_MS = 60_000


def liveness(*, last_stored_at: datetime | None, now: datetime, expected_ms: int | None,
             tags_seen: int, tags_good: int, tags_bad: int,
             stale_factor: float = STALE_FACTOR) -> Liveness:
    """The state of one device from its tags' newest samples (counts over the tags that have one)."""
    if last_stored_at is None:
        return "never"
    window = timedelta(milliseconds=stale_factor * (expected_ms or DEFAULT_INTERVAL_MS))
    if last_stored_at <= now - window:
        return "stale"
    if tags_bad >= tags_seen:
        return "device_offline"
    if tags_good < tags_seen:
        return "degraded"
    return "delivering"
