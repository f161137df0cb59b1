"""The birth/death sequence number (bdSeq), kept in a small file beside the disk buffer.

Sparkplug pairs each NBIRTH with the NDEATH registered as the last will of the same MQTT
CONNECT through bdSeq, and requires a new value for every CONNECT. Keeping it on disk means a
restarted agent does not reuse the bdSeq of its previous life, whose NDEATH the broker may
deliver late; a host would otherwise take that late NDEATH for the death of the new session.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class BdSeqStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.last: int | None = self._read()

    def _read(self) -> int | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            value = int(self.path.read_text().strip())
        except (OSError, ValueError):
            log.warning("unreadable bdSeq file %s; starting again at 0", self.path)
            return None
        return value if 0 <= value <= 255 else None

    def advance(self) -> int:
        """The bdSeq of the next CONNECT: one more than the last, 255 wraps to 0."""
        value = 0 if self.last is None else (self.last + 1) % 256
        self.last = value
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_name(self.path.name + ".tmp")
                tmp.write_text(f"{value}\n")
                os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new value
            except OSError:
                log.warning("could not persist bdSeq to %s", self.path, exc_info=True)
        return value
