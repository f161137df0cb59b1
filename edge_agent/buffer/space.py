"""How full the buffer file is, and what ``drop_oldest`` removes to make room.

``max_bytes`` bounds the file. Reading the page counts costs two statements, so they are read
only when an upper estimate of the used size (the last count plus everything added since,
nothing removed) comes within 10 % of the limit.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter as Tally
from collections.abc import Container

from edge_agent.buffer.cutting import TailRow

ROW_OVERHEAD = 32  # bytes a row costs beyond its body, as counted against max_bytes


class Space:
    def __init__(self, db: sqlite3.Connection, *, max_bytes: int) -> None:
        self._db = db
        self.max_bytes = max_bytes
        self._page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
        self._used_hint = self.used_bytes()  # at least what is used: see `room_for`

    def used_bytes(self) -> int:
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages - free) * self._page_size

    def room_for(self, incoming: int) -> bool:
        """Whether ``incoming`` more bytes fit under ``max_bytes``."""
        if self._used_hint + incoming <= self.max_bytes * 0.9:
            return True
        self._used_hint = self.used_bytes()
        return self._used_hint + incoming <= self.max_bytes

    def added(self, incoming: int) -> None:
        """After a commit that stored ``incoming`` bytes."""
        self._used_hint += incoming

    def drop_oldest(self, need: int, tail: list[TailRow], *, sealed_to: int,
                    tally: Tally[tuple[str, str]],
                    in_flight: Container[int]) -> tuple[list[TailRow], list[int]]:
        """In the caller's transaction, make room for ``need`` bytes by dropping the oldest
        data: sealed batches first, passing over those in flight (one the broker may already
        have would reach the cloud while counted as dropped), then the oldest unsealed rows.
        Counts what it drops per device in ``tally``; returns the unsealed rows left and the
        seqs of the batches dropped."""
        db = self._db
        target = self.used_bytes() + need - self.max_bytes
        freed = 0
        dropped: list[int] = []
        for seq, per_device, row_ids, size in db.execute(
            "SELECT seq, per_device, row_ids, (SELECT coalesce(sum(size), 0) FROM rows "
            "WHERE id IN (SELECT value FROM json_each(row_ids))) FROM batches ORDER BY seq"
        ).fetchall():
            if freed >= target:
                break
            if seq in in_flight:
                continue
            db.execute("DELETE FROM rows WHERE id IN (SELECT value FROM json_each(?))", (row_ids,))
            db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
            for dev, n in json.loads(per_device).items():
                tally[(dev, "dropped:buffer_full")] += n
            freed += size + ROW_OVERHEAD * len(json.loads(row_ids))
            dropped.append(int(seq))
        gone = 0
        while freed < target and gone < len(tail):
            _, dev, n, size, _ = tail[gone]
            tally[(dev, "dropped:buffer_full")] += n
            freed += size + ROW_OVERHEAD
            gone += 1
        if gone:
            db.execute("DELETE FROM rows WHERE id <= ? AND id > ?", (tail[gone - 1][0], sealed_to))
        self._used_hint = self.used_bytes() - freed
        return tail[gone:], dropped
