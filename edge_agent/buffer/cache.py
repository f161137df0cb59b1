"""Bodies of sealed batches kept in memory, up to a number of bytes.

A batch sealed from rows still in memory comes with its body, so the sender publishes live
data without reading back what was just written. Only a bounded amount is kept: after an
outage the backlog is read from disk. The store changes the cache only after the transaction
that made or removed a batch has committed (the agent is the file's one writer).
"""

from __future__ import annotations

import dataclasses

from edge_agent.buffer.cutting import SealedBatch


class BodyCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bodies: dict[int, str] = {}
        self._bytes = 0

    def keep(self, made: list[SealedBatch]) -> list[SealedBatch]:
        """Keep the bodies of ``made`` while there is room; the batches whose body did not
        fit are handed back without it (``samples_json == ""``)."""
        out = []
        for b in made:
            if b.samples_json and self._bytes + len(b.samples_json) <= self.max_bytes:
                self._bodies[b.seq] = b.samples_json
                self._bytes += len(b.samples_json)
                out.append(b)
            else:
                out.append(dataclasses.replace(b, samples_json=""))
        return out

    def get(self, seq: int) -> str | None:
        return self._bodies.get(seq)

    def forget(self, seq: int) -> None:
        body = self._bodies.pop(seq, None)
        if body is not None:
            self._bytes -= len(body)

    @property
    def used_bytes(self) -> int:
        return self._bytes
