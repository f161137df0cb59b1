"""The durable store-and-forward buffer: SQLite in WAL mode, one file on the gateway's disk.

Life of a sample, each step one transaction::

    write()  rows          ──> stored          committed (fsync) as they are read; batches that
                                               are full are sealed in the same transaction
    seal()   rows          ──> batch(seq)      the rest, once their linger time is up
    ack()    batch(seq)    ──> gone            only after the broker's PUBACK (or riding on
                                               the next `write`)

Counters live in the same file and change in the same transactions as the rows they count, so
a SIGKILL or a power cut never leaves them disagreeing with the data. The agent is the file's
one writer and calls it from one thread; what the buffer alone writes (the next seq, the
sealed-to watermark, the unsealed rows) is kept in memory as well, changed only after the
commit that changed it on disk, so that a commit needs no query to find it.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter as Tally
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge_agent.buffer import schema
from edge_agent.buffer.cache import BodyCache
from edge_agent.buffer.cutting import BatchLimits, SealedBatch, TailRow, cut_batches
from edge_agent.buffer.rows import Row
from edge_agent.buffer.space import ROW_OVERHEAD, Space
from wire.json_v1 import Counters, DeviceCounters


@dataclass(frozen=True, slots=True, kw_only=True)
class Written:
    """What a `DiskBuffer.write` did: samples stored (the rest were dropped by the full
    policy) and the batches it sealed."""

    stored: int
    sealed: list[SealedBatch]


class DiskBuffer:
    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int,
        full_policy: Literal["drop_oldest", "drop_newest"] = "drop_oldest",
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        cache_max_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.full_policy = full_policy
        self.synchronous = synchronous
        self.db = schema.open_database(self.path, max_bytes=max_bytes, synchronous=synchronous)
        # Parameters a statement: fewer and larger statements are better (`schema.insert_many`).
        self._max_params = min(20_000, self.db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        # Bodies of batches sealed from rows in memory; the same bound caps the bodies of
        # unsealed rows kept in memory.
        self._cache = BodyCache(cache_max_bytes)
        self._space = Space(self.db, max_bytes=max_bytes)
        self.dropped_through = 0  # the highest seq the full policy dropped (oldest go first)
        if self.meta("stream", "") == "":
            # The sequence space of this buffer: a new file (reinstall, new disk) is a new stream,
            # so its seq 1 can never be mistaken by the cloud for a replay of an older seq 1.
            self._set_metas(stream=uuid.uuid4().hex)
        self.stream = self.meta("stream", "")
        self._next_seq = int(self.meta("next_seq", "1"))
        self._sealed_to = int(self.meta("sealed_to", "0"))
        self._batches_published = int(self.meta("batches_published", "0"))
        self._tail: list[TailRow] = [
            (i, d, n, z, None) for i, d, n, z in self.db.execute(
                "SELECT id, device, n, size FROM rows WHERE id > ? ORDER BY id", (self._sealed_to,))]

    def close(self) -> None:
        self.db.close()

    @property
    def max_bytes(self) -> int:
        return self._space.max_bytes

    # -- what the agent reads ---------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """The seq the next sealed batch gets (from memory: any thread)."""
        return self._next_seq

    @property
    def pending_samples(self) -> int:
        """Samples stored and not yet sealed into a batch (from memory: any thread)."""
        return sum(n for _, _, n, _, _ in self._tail)

    def meta(self, key: str, default: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def counters(self) -> Counters:
        devices: dict[str, dict[str, object]] = {}
        for dev, name, n in self.db.execute("SELECT device, name, n FROM counters ORDER BY 1, 2"):
            entry = devices.setdefault(dev, {"dropped": {}})
            if name.startswith("dropped:"):
                entry["dropped"][name.removeprefix("dropped:")] = n  # type: ignore[index]
            else:
                entry[name] = n
        return Counters(
            batches_published=int(self.meta("batches_published", "0")),
            devices={dev: DeviceCounters.model_validate(v) for dev, v in devices.items()},
        )

    def used_bytes(self) -> int:
        return self._space.used_bytes()

    def depth(self) -> tuple[int, int]:
        """(samples not yet sealed, sealed batches not yet acknowledged)."""
        b = self.db.execute("SELECT count(*) FROM batches").fetchone()[0]
        return self.pending_samples, int(b)

    def backlog_samples(self) -> int:
        """Every sample on disk not yet acknowledged by the broker."""
        return int(self.db.execute("SELECT coalesce(sum(n), 0) FROM rows").fetchone()[0])

    def oldest_ms(self) -> int | None:
        row = self.db.execute("SELECT body FROM rows ORDER BY id LIMIT 1").fetchone()
        return int(json.loads("[" + row[0] + "]")[0]["rt"]) if row else None

    def unsent(self, *, from_seq: int = 0, below_seq: int | None = None,
               limit: int = 100, skip: Container[int] = ()) -> list[SealedBatch]:
        """Sealed, unacknowledged batches in ``[from_seq, below_seq)``, oldest first, leaving
        out the seqs in ``skip`` (already in flight) before any body is read."""
        heads = self.db.execute(schema.BATCH_HEADS + "WHERE seq >= ? AND seq < ? ORDER BY seq",
                                (from_seq, below_seq if below_seq is not None else 1 << 62))
        out = []
        for seq, sealed, n, per_device, row_ids in heads:
            if seq in skip:
                continue
            out.append(self._batch(seq, sealed, n, per_device, row_ids))
            if len(out) >= limit:
                break
        heads.close()
        return out

    def batches(self, seqs: Iterable[int]) -> list[SealedBatch]:
        """These sealed, unacknowledged batches with their bodies, in seq order; a seq that
        is gone (acknowledged, or dropped by the full policy) is left out."""
        found = self.db.execute(
            schema.BATCH_HEADS + "WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq",
            (json.dumps(list(seqs)),)).fetchall()
        return [self._batch(*row) for row in found]

    def _batch(self, seq: int, sealed: int, n: int, per_device: str, row_ids: str) -> SealedBatch:
        body = self._cache.get(seq)
        if body is None:
            body = "[" + (self.db.execute(schema.BODIES, (row_ids,)).fetchone()[0] or "") + "]"
        devices = json.loads(per_device)
        return SealedBatch(seq=int(seq), sealed_ms=int(sealed), n=int(n), samples_json=body,
                           device=next(iter(devices)) if len(devices) == 1 else None)

    # -- the write verbs ----------------------------------------------------------------------

    def write(self, rows: Sequence[Row], *, now_ms: int = 0, seal_full: BatchLimits | None = None,
              seal_partial: bool = False, acks: Sequence[int] = (),
              in_flight: Container[int] = (),
              counts: Mapping[tuple[str, str], int] | None = None) -> Written:
        """Commit encoded rows, in one transaction with their counters.

        With ``seal_full``, batches that are full once these rows are in are sealed in the
        same transaction (one commit instead of two); with ``seal_partial`` as well the last,
        partial batch (its linger time is up). A sealed batch comes with its body while the
        cache has room, else without (`batches` reads it when it is wanted).
        ``acks`` are acknowledged batches removed in the same transaction (see `ack`);
        ``in_flight`` are batches the broker may already have, which ``drop_oldest`` passes
        over; ``counts`` are counter increments ((device, name) → n) that ride along, such as
        read errors.

        Each kind of change is one statement (rows, batches, counters, meta), because on the
        agent's buffer thread every statement's return waits for the GIL.
        """
        per_device: Tally[str] = Tally()
        for dev, n, _ in rows:
            per_device[dev] += n
        incoming = sum(len(body) + ROW_OVERHEAD for _, _, body in rows)
        tally: Tally[tuple[str, str]] = Tally()
        for dev, n in per_device.items():
            tally[(dev, "read")] += n
        if counts:
            tally.update(counts)
        made: list[SealedBatch] = []
        dropped: list[int] = []
        stored, tail, next_seq, sealed_to = 0, self._tail, self._next_seq, self._sealed_to
        # only a bare removal of acknowledgements may skip the fsync (see `ack`)
        with self._txn(durable=bool(rows or counts) or seal_full is not None):
            published = self._remove_acked(acks, tally) if acks else 0
            if rows and not self._space.room_for(incoming):
                if self.full_policy == "drop_newest":
                    for dev, n in per_device.items():
                        tally[(dev, "dropped:buffer_full")] += n
                    rows = []
                else:
                    tail, dropped = self._space.drop_oldest(incoming, tail, sealed_to=sealed_to,
                                                            tally=tally, in_flight=in_flight)
            if rows:
                first_id = self._insert(rows)
                stored = sum(per_device.values())
                for dev, n in per_device.items():
                    tally[(dev, "buffered")] += n
                kept = sum(size for _, _, _, size, body in tail if body is not None)
                keep = kept <= self._cache.max_bytes
                tail = tail + [(first_id + i, dev, n, len(body), body if keep else None)
                               for i, (dev, n, body) in enumerate(rows)]
            if seal_full is not None:
                cut = cut_batches(tail, seal_full, next_seq=next_seq, sealed_to=sealed_to,
                                  now_ms=now_ms, max_batches=1 << 30, full_only=not seal_partial)
                self._many(schema.INSERT_BATCHES, cut.records)
                made, tail, next_seq, sealed_to = cut.batches, cut.tail, cut.next_seq, cut.sealed_to
            self._many(schema.UPSERT_COUNTERS,
                       [(dev, name, n) for (dev, name), n in tally.items() if n])
            self._set_metas(next_seq=next_seq, sealed_to=sealed_to,
                            batches_published=self._batches_published + published)
        self._tail, self._next_seq, self._sealed_to = tail, next_seq, sealed_to
        if stored:
            self._space.added(incoming)
        self._forget(acks, dropped, published)
        return Written(stored=stored, sealed=self._cache.keep(made))

    def seal(self, limits: BatchLimits, *, now_ms: int, max_batches: int) -> list[SealedBatch]:
        """Number the oldest unsealed rows as batches, partial ones included, up to
        ``max_batches`` in one durable transaction; returns the batches made, each with its
        body while the cache has room (none: nothing was left to seal)."""
        with self._txn():
            cut = cut_batches(self._tail, limits, next_seq=self._next_seq, sealed_to=self._sealed_to,
                              now_ms=now_ms, max_batches=max_batches, full_only=False)
            if cut.batches:
                self._many(schema.INSERT_BATCHES, cut.records)
                self._set_metas(next_seq=cut.next_seq, sealed_to=cut.sealed_to)
        self._tail, self._next_seq, self._sealed_to = cut.tail, cut.next_seq, cut.sealed_to
        return self._cache.keep(cut.batches)

    def ack(self, *seqs: int) -> None:
        """The broker has these batches: forget them and count them published (one
        transaction, a few statements, for all the acknowledgements that arrived together;
        not made durable: after a power cut an ack lost means a resend the cloud ignores)."""
        self.write([], acks=seqs)

    # -- inside a transaction -------------------------------------------------------------------

    @contextmanager
    def _txn(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction. ``durable=False`` skips the fsync of this commit: for steps whose
        loss in a power cut only means doing them again (an ack → a resend the cloud ignores).
        WAL keeps commits in order, so a later durable commit makes it durable too."""
        relax = not durable and self.synchronous == "FULL"
        if relax:
            self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        finally:
            if relax:
                self.db.execute(f"PRAGMA synchronous={self.synchronous}")

    def _many(self, template: str, records: Sequence[tuple[object, ...]]) -> int:
        return schema.insert_many(self.db, template, records, max_params=self._max_params)

    def _set_metas(self, **values: int | str) -> None:
        self._many(schema.UPSERT_META, [(k, str(v)) for k, v in values.items()])

    def _insert(self, rows: Sequence[Row]) -> int:
        """Insert rows; returns the id of the first. Ids are consecutive: one writer, one
        transaction."""
        last = self._many(schema.INSERT_ROWS, [(dev, n, len(body), body) for dev, n, body in rows])
        return last - len(rows) + 1

    def _remove_acked(self, seqs: Sequence[int], tally: Tally[tuple[str, str]]) -> int:
        """Remove these batches and count them published in ``tally``; returns how many were
        found (the others were acknowledged twice, after a resend, or dropped by the full
        policy while in flight)."""
        wanted = json.dumps(list(seqs))
        found = self.db.execute(
            "SELECT per_device FROM batches WHERE seq IN (SELECT value FROM json_each(?))",
            (wanted,)).fetchall()
        if not found:
            return 0
        self.db.execute(
            "DELETE FROM rows WHERE id IN (SELECT j.value FROM batches b, json_each(b.row_ids) j "
            "WHERE b.seq IN (SELECT value FROM json_each(?)))", (wanted,))
        self.db.execute("DELETE FROM batches WHERE seq IN (SELECT value FROM json_each(?))",
                        (wanted,))
        for (per_device,) in found:
            for dev, n in json.loads(per_device).items():
                tally[(dev, "published")] += n
        return len(found)

    def _forget(self, acks: Sequence[int], dropped: Sequence[int], published: int) -> None:
        """After the commit that removed these batches (acknowledged or dropped)."""
        self._batches_published += published
        for seq in (*acks, *dropped):
            self._cache.forget(seq)
        if dropped:
            self.dropped_through = max(self.dropped_through, *dropped)
