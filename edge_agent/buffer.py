"""The durable store-and-forward buffer: SQLite in WAL mode, one file on the gateway's disk.

Life of a sample, each step one transaction::

    add()    samples read  ──> rows           committed (fsync) as they are read
    seal()   rows          ──> batch(seq)     seq and content fixed once, durably
    ack()    batch(seq)    ──> gone           only after the broker's PUBACK

A sample is written once: a row holds a few dozen samples of one device in their wire form,
and a batch only names its rows (no copy), which spares the flash of small gateway boxes.
Rows with an id above ``sealed_to`` belong to no batch yet. Because a batch's seq and content
are fixed when it is sealed, the cloud can store idempotently on (gateway, seq) however often
a batch goes over the wire. Counters live in the same file and change in the same
transactions as the rows they count, so a SIGKILL or a power cut never leaves them
disagreeing with the data.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import json
import operator
import sqlite3
import uuid
from collections import Counter as Tally
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wire.json_v1 import Counters, DeviceCounters
from wire.sample import Sample
from wire.sample_text import sample_json

FORMAT_VERSION = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: sealed_to is a watermark on it
    device TEXT NOT NULL,
    n INTEGER NOT NULL,
    size INTEGER NOT NULL,       -- len(body): length() would read the whole body from disk
    body TEXT NOT NULL           -- n samples of one device, in wire form, comma-separated
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    sealed_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    per_device TEXT NOT NULL,    -- JSON {device: samples}, to count what was published
    row_ids TEXT NOT NULL        -- JSON list of the rows it is made of
);
CREATE TABLE IF NOT EXISTS counters (
    device TEXT NOT NULL,
    name TEXT NOT NULL,          -- read | buffered | published | read_errors | dropped:<reason>
    n INTEGER NOT NULL,
    PRIMARY KEY (device, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Batch:
    seq: int
    sealed_ms: int
    n: int
    samples_json: str
    device: str | None = None  # set when every sample of the batch is of one device


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """What one batch may hold: whole rows up to these sizes."""

    max_samples: int
    max_bytes: int
    one_device: bool = False  # Sparkplug: one device per batch (one DDATA each)


_device = operator.attrgetter("device")


def _group_by(window: list[TailRow]) -> dict[str | None, list[TailRow]]:
    groups: dict[str | None, list[TailRow]] = {}
    for row in window:
        groups.setdefault(row[1], []).append(row)
    return groups

Row = tuple[str, int, str]  # (device, samples, body): a row as stored, before it has an id
TailRow = tuple[int, str, int, int, "str | None"]  # an unsealed row: id, device, n, size, body
_INSERT_ROWS = "INSERT INTO rows(device, n, size, body) VALUES {}"
_INSERT_BATCHES = "INSERT INTO batches(seq, sealed_ms, n, per_device, row_ids) VALUES {}"
_UPSERT_COUNTERS = ("INSERT INTO counters(device, name, n) VALUES {} "
                    "ON CONFLICT(device, name) DO UPDATE SET n = n + excluded.n")
_UPSERT_META = ("INSERT INTO meta(key, value) VALUES {} "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
# a batch's rows: ids as the JSON list the batch stores, bodies joined in id order in one step
_BODIES = ("SELECT group_concat(body, ',') FROM (SELECT body FROM rows "
           "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id)")


@functools.lru_cache(maxsize=128)
def _statement(template: str, width: int, k: int) -> str:
    """``template`` with ``k`` rows of ``width`` parameters in its VALUES."""
    return template.format(",".join(["(" + ",".join("?" * width) + ")"] * k))


class BufferFormatError(ValueError):
    """The file was written by an incompatible version of the agent."""


class DiskBuffer:
    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int,
        full_policy: Literal["drop_oldest", "drop_newest"] = "drop_oldest",
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        row_max_samples: int = 64,
        row_max_bytes: int = 64 * 1024,
        cache_max_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.full_policy = full_policy
        # A row holds at most this much, so that batches (made of whole rows) keep their limits.
        self.row_max_samples = row_max_samples
        self.row_max_bytes = row_max_bytes
        # Bodies of batches sealed from rows still in memory, so the sender need not read back
        # what was just written. Only a bounded amount: after an outage the backlog is read
        # from disk. Changed only after the transaction that made the batch has committed.
        self.cache_max_bytes = cache_max_bytes
        self._cache: dict[int, str] = {}
        self._cache_bytes = 0
        self.dropped_through = 0  # the highest seq the full policy dropped (oldest go first)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # 16 KiB pages: a row of one poll fits in one page, and SQLite writes half as many pages
        # as with 4 KiB (measured: inserts and deletes ~2x cheaper). Only a new file takes it;
        # a tiny buffer keeps 4 KiB, or its empty tables alone (six pages) would fill it.
        self.db.execute(f"PRAGMA page_size={16384 if max_bytes >= 8 << 20 else 4096}")
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives a power cut, not only a crash of the process.
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.synchronous = synchronous
        self.db.execute("PRAGMA busy_timeout=5000")
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables and version != FORMAT_VERSION:
            raise BufferFormatError(
                f"{self.path} is a buffer of format {version}, this agent writes format "
                f"{FORMAT_VERSION}: drain it with the agent version that wrote it, or move it away"
            )
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version={FORMAT_VERSION}")
        if self.meta("stream", "") == "":
            # The sequence space of this buffer: a new file (reinstall, new disk) is a new stream,
            # so its seq 1 can never be mistaken by the cloud for a replay of an older seq 1.
            self._set_meta("stream", uuid.uuid4().hex)
        self.stream = self.meta("stream", "")
        # Kept in memory as well, changed only after the commit that changed them on disk (the
        # agent is the file's one writer), so that a commit needs no query to find them.
        self._next_seq = int(self.meta("next_seq", "1"))
        self._sealed_to = int(self.meta("sealed_to", "0"))
        self._batches_published = int(self.meta("batches_published", "0"))
        # The unsealed rows: (id, device, samples, size, body or None when only on disk).
        self._tail: list[TailRow] = [
            (i, d, n, z, None) for i, d, n, z in self.db.execute(
                "SELECT id, device, n, size FROM rows WHERE id > ? ORDER BY id", (self._sealed_to,))]
        self._page_size = int(self.db.execute("PRAGMA page_size").fetchone()[0])
        self._used_hint = self.used_bytes()  # at least what is used: see `_room_for`
        # Parameters a statement: every statement is a trip out of and back into Python, and on
        # the agent's buffer thread every return waits for the GIL, so fewer and larger is
        # better (see `_many`).
        self._max_params = min(20_000, self.db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        try:
            self.db.execute("SELECT value FROM json_each('[1]')").fetchall()
        except sqlite3.OperationalError as err:
            raise BufferFormatError(
                f"this Python's SQLite {sqlite3.sqlite_version} has no JSON functions ({err}); "
                "the buffer needs SQLite 3.38 or newer, or one built with JSON1"
            ) from err

    def close(self) -> None:
        self.db.close()

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

    # -- counters and meta ------------------------------------------------------------------

    def _many(self, template: str, records: Sequence[tuple[object, ...]]) -> int:
        """``template`` (an INSERT … VALUES {}) for all ``records``, as many a statement as
        SQLite takes parameters: one step of SQLite then does them all (measured 25 % cheaper
        than a statement a record, and SQLite works without the GIL the while). Returns the
        rowid of the last record inserted."""
        if not records:
            return 0
        width = len(records[0])
        k = max(1, self._max_params // width)
        last = 0
        for i in range(0, len(records), k):
            chunk = records[i:i + k]
            cur = self.db.execute(_statement(template, width, len(chunk)),
                                  [x for record in chunk for x in record])
            last = int(cur.lastrowid or 0)
        return last

    def _bump(self, tally: Tally[tuple[str, str]]) -> None:
        self._many(_UPSERT_COUNTERS, [(dev, name, n) for (dev, name), n in tally.items() if n])

    def count(self, device: str, name: str, n: int = 1) -> None:
        with self._txn():
            self._bump(Tally({(device, name): n}))

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

    def meta(self, key: str, default: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def next_seq(self) -> int:
        """The seq the next sealed batch gets. Kept in memory as well (set after each commit)
        so that it can be read from any thread without touching the connection."""
        return self._next_seq

    @property
    def pending_samples(self) -> int:
        """Samples stored and not yet sealed into a batch (from memory: any thread)."""
        return sum(r[2] for r in self._tail)

    def _set_metas(self, **values: int) -> None:
        self._many(_UPSERT_META, [(k, str(v)) for k, v in values.items()])

    # -- sizes ------------------------------------------------------------------------------

    def used_bytes(self) -> int:
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages - free) * self._page_size

    def depth(self) -> tuple[int, int]:
        """(samples not yet sealed, sealed batches not yet acknowledged)."""
        b = self.db.execute("SELECT count(*) FROM batches").fetchone()[0]
        return self.pending_samples, int(b)

    def _room_for(self, incoming: int) -> bool:
        """Whether ``incoming`` more bytes fit under ``max_bytes``. The page counts are read
        only when an upper estimate (the last count plus everything added since, nothing
        removed) comes near the limit: two statements fewer in most commits."""
        if self._used_hint + incoming <= self.max_bytes * 0.9:
            return True
        self._used_hint = self.used_bytes()
        return self._used_hint + incoming <= self.max_bytes

    def backlog_samples(self) -> int:
        """Every sample on disk not yet acknowledged by the broker."""
        return int(self.db.execute("SELECT coalesce(sum(n), 0) FROM rows").fetchone()[0])

    def oldest_ms(self) -> int | None:
        row = self.db.execute("SELECT body FROM rows ORDER BY id LIMIT 1").fetchone()
        return int(json.loads("[" + row[0] + "]")[0]["rt"]) if row else None

    # -- the three steps --------------------------------------------------------------------

    def encode(self, samples: Iterable[Sample]) -> list[Row]:
        """Samples in their stored form: rows of one device's samples in wire JSON, within
        the row limits. Pure computation, no disk: the agent does it as samples arrive."""
        if (isinstance(samples, list) and 0 < len(samples) <= self.row_max_samples
                and len(set(map(_device, samples))) == 1):
            # the common case, one poll of one device: one row, no grouping
            text = ",".join(map(sample_json, samples))
            if len(text) <= self.row_max_bytes:
                return [(samples[0].device, len(samples), text)]
        rows: list[Row] = []
        step = self.row_max_samples
        # runs of one device (a poll is one): no per-sample bookkeeping beyond the encoding
        for dev, run in itertools.groupby(samples, key=_device):
            bodies = [sample_json(s) for s in run]
            for i in range(0, len(bodies), step):
                self._split_row(dev, bodies[i:i + step], rows)
        return rows

    def add(self, samples: Iterable[Sample], *, seal_full: BatchLimits | None = None,
            now_ms: int = 0) -> int:
        """Commit samples to disk; returns how many were stored (the rest were dropped)."""
        return self.add_rows(self.encode(samples), seal_full=seal_full, now_ms=now_ms)

    def add_rows(self, rows: list[Row], *, seal_full: BatchLimits | None = None,
                 now_ms: int = 0) -> int:
        """`write`, returning only how many samples were stored."""
        return self.write(rows, seal_full=seal_full, now_ms=now_ms)[0]

    def write(self, rows: list[Row], *, seal_full: BatchLimits | None = None,
              now_ms: int = 0, acks: Sequence[int] = (), seal_partial: bool = False,
              in_flight: Container[int] = ()) -> tuple[int, list[Batch]]:
        """Commit encoded rows to disk, in one transaction with their counters; returns how
        many samples were stored (the rest were dropped by the full policy) and the batches
        sealed.

        With ``seal_full``, batches that are full once these rows are in are sealed in the
        same transaction (one commit instead of two); a partial batch is left to `seal`.
        With ``seal_partial`` the last, partial batch is sealed too (its linger time is up).
        A sealed batch comes with its body while the cache has room (``cache_max_bytes``),
        else with an empty ``samples_json``: `batches` reads it when it is wanted.
        ``acks`` are acknowledged batches removed in the same transaction (see `ack`).
        ``in_flight`` are batches the broker may already have: ``drop_oldest`` passes over
        them, since one dropped would reach the cloud while counted as dropped.

        Each kind of change is one statement (rows, batches, counters, meta), because on the
        agent's buffer thread every statement's return waits for the GIL.
        """
        per_device: Tally[str] = Tally()
        for dev, n, _ in rows:
            per_device[dev] += n
        incoming = sum(len(body) + 32 for _, _, body in rows)
        tally: Tally[tuple[str, str]] = Tally()
        for dev, n in per_device.items():
            tally[(dev, "read")] = n
        made: list[Batch] = []
        stored, tail, next_seq, sealed_to = 0, self._tail, self._next_seq, self._sealed_to
        with self._txn(durable=bool(rows)):
            published = self._remove_acked(acks, tally) if acks else 0
            if rows and not self._room_for(incoming):
                if self.full_policy == "drop_newest":
                    for dev, n in per_device.items():
                        tally[(dev, "dropped:buffer_full")] = n
                    rows = []
                else:
                    tail = self._drop_oldest(incoming, tally, in_flight)
            if rows:
                first_id = self._insert(rows)
                stored = sum(per_device.values())
                for dev, n in per_device.items():
                    tally[(dev, "buffered")] = n
                keep = self._tail_bytes(tail) <= self.cache_max_bytes
                tail = tail + [(first_id + i, dev, n, len(body), body if keep else None)
                               for i, (dev, n, body) in enumerate(rows)]
            if seal_full is not None:
                made, tail, next_seq, sealed_to = self._cut(
                    tail, seal_full, now_ms=now_ms, max_batches=1 << 30, full_only=not seal_partial)
            self._bump(tally)
            self._set_metas(next_seq=next_seq, sealed_to=sealed_to,
                            batches_published=self._batches_published + published)
        self._tail, self._next_seq, self._sealed_to = tail, next_seq, sealed_to
        self._used_hint += incoming if stored else 0
        self._acked(acks, published)
        return stored, self._cached(made)

    def _tail_bytes(self, tail: list[TailRow]) -> int:
        return sum(r[3] for r in tail if r[4] is not None)

    def _cached(self, made: list[Batch]) -> list[Batch]:
        """After the commit: keep the bodies of the batches made while the cache has room;
        the others are handed back without their bodies."""
        out = []
        for b in made:
            if b.samples_json and self._cache_bytes + len(b.samples_json) <= self.cache_max_bytes:
                self._cache[b.seq] = b.samples_json
                self._cache_bytes += len(b.samples_json)
                out.append(b)
            else:
                out.append(dataclasses.replace(b, samples_json=""))
        return out

    def _insert(self, rows: list[Row]) -> int:
        """Insert rows; returns the id of the first. Ids are consecutive: one writer, one
        transaction."""
        last = self._many(_INSERT_ROWS, [(dev, n, len(body), body) for dev, n, body in rows])
        return last - len(rows) + 1

    def _split_row(self, device: str, bodies: list[str], rows: list[Row]) -> None:
        text = ",".join(bodies)
        if len(text) <= self.row_max_bytes or len(bodies) == 1:
            rows.append((device, len(bodies), text))
            return
        half = len(bodies) // 2
        self._split_row(device, bodies[:half], rows)
        self._split_row(device, bodies[half:], rows)

    def _drop_oldest(self, need: int, tally: Tally[tuple[str, str]],
                     in_flight: Container[int] = ()) -> list[TailRow]:
        """Make room by dropping the oldest data, sealed batches first (not those in flight),
        counted per device in ``tally``; returns the unsealed rows left."""
        target = self.used_bytes() + need - self.max_bytes
        freed = 0
        for seq, per_device, row_ids, size in self.db.execute(
            "SELECT seq, per_device, row_ids, (SELECT coalesce(sum(size), 0) FROM rows "
            "WHERE id IN (SELECT value FROM json_each(row_ids))) FROM batches ORDER BY seq"
        ).fetchall():
            if freed >= target:
                break
            if seq in in_flight:
                continue
            self.db.execute("DELETE FROM rows WHERE id IN (SELECT value FROM json_each(?))",
                            (row_ids,))
            self.db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
            for dev, n in json.loads(per_device).items():
                tally[(dev, "dropped:buffer_full")] += n
            freed += size + 32 * len(json.loads(row_ids))
            self._uncache(seq)  # (kept out of the cache also if this transaction rolls back)
            self.dropped_through = max(self.dropped_through, seq)
        tail, gone = self._tail, 0
        while freed < target and gone < len(tail):
            _, dev, n, size, _ = tail[gone]
            tally[(dev, "dropped:buffer_full")] += n
            freed += size + 32
            gone += 1
        if gone:
            self.db.execute("DELETE FROM rows WHERE id <= ? AND id > ?",
                            (tail[gone - 1][0], self._sealed_to))
        self._used_hint = self.used_bytes() - freed
        return tail[gone:]

    def seal(self, *, max_samples: int, max_bytes: int, now_ms: int,
             one_device: bool = False, max_batches: int = 1) -> Batch | None:
        """Number the oldest unsealed rows as batches, up to ``max_batches`` in one durable
        transaction; returns the last batch made, None when there was nothing to seal.

        A batch is whole rows within ``max_samples`` and ``max_bytes`` (at least one row).
        With ``one_device`` each batch holds one device's rows (Sparkplug: one DDATA each).
        """
        made = self.seal_batches(BatchLimits(max_samples, max_bytes, one_device), now_ms=now_ms,
                                 max_batches=max_batches)
        return made[-1] if made else None

    def seal_batches(self, limits: BatchLimits, *, now_ms: int, max_batches: int) -> list[Batch]:
        """`seal`, returning every batch made, with its body while the cache has room."""
        with self._txn():
            made, tail, next_seq, sealed_to = self._cut(
                self._tail, limits, now_ms=now_ms, max_batches=max_batches, full_only=False)
            if made:
                self._set_metas(next_seq=next_seq, sealed_to=sealed_to)
        self._tail, self._next_seq, self._sealed_to = tail, next_seq, sealed_to
        return self._cached(made)

    def _cut(self, tail: list[TailRow], limits: BatchLimits, *, now_ms: int, max_batches: int,
             full_only: bool) -> tuple[list[Batch], list[TailRow], int, int]:
        """Cut the unsealed rows into batches, inside the caller's transaction; returns the
        batches made, the rows left, the next seq and the new sealed-to id. ``full_only`` cuts
        only batches that are full (a partial one waits for more rows or for its linger time).
        A batch whose bodies are all in memory comes with its body.

        A batch is the longest run of rows within both limits (at least one row), found by
        bisecting running totals: this runs for every commit.
        """
        max_samples, max_bytes = limits.max_samples, limits.max_bytes
        seq, sealed_to = self._next_seq, self._sealed_to
        cum_n = list(itertools.accumulate((r[2] for r in tail), initial=0))
        cum_b = list(itertools.accumulate((r[3] + 1 for r in tail), initial=0))
        made: list[Batch] = []
        records: list[tuple[int, int, int, str, str]] = []  # inserted together at the end
        at, rows = 0, len(tail)
        while at < rows and len(made) < max_batches:
            end = max(at + 1, min(bisect.bisect_right(cum_n, cum_n[at] + max_samples) - 1,
                                  bisect.bisect_right(cum_b, cum_b[at] + max_bytes) - 1))
            taken, size = cum_n[end] - cum_n[at], cum_b[end] - cum_b[at]
            if full_only and end == rows and taken < max_samples and size < max_bytes:
                break  # partial: it waits for more rows or for its linger time
            window = tail[at:end]
            groups = {None: window} if not limits.one_device else _group_by(window)
            for device, members in groups.items():
                per_device: Tally[str] = Tally()
                for r in members:
                    per_device[r[1]] += r[2]
                n_total = sum(per_device.values())
                records.append((seq, now_ms, n_total, json.dumps(per_device),
                                json.dumps([r[0] for r in members])))
                bodies = [r[4] for r in members]
                body = "" if None in bodies else "[" + ",".join(bodies) + "]"  # type: ignore[arg-type]
                made.append(Batch(seq, now_ms, n_total, body, device))
                seq += 1
            sealed_to = window[-1][0]
            at = end
        self._many(_INSERT_BATCHES, records)
        return made, tail[at:], seq, sealed_to

    def unsent(self, *, from_seq: int = 0, below_seq: int | None = None,
               limit: int = 100, skip: Container[int] = ()) -> list[Batch]:
        """Sealed, unacknowledged batches in ``[from_seq, below_seq)``, oldest first, leaving
        out the seqs in ``skip`` (already in flight) before any body is read."""
        heads = self.db.execute(
            "SELECT seq, sealed_ms, n, per_device, row_ids FROM batches "
            "WHERE seq >= ? AND seq < ? ORDER BY seq",
            (from_seq, below_seq if below_seq is not None else 1 << 62),
        )
        out = []
        for seq, sealed, n, per_device, row_ids in heads:
            if seq in skip:
                continue
            out.append(self._batch(seq, sealed, n, per_device, row_ids))
            if len(out) >= limit:
                break
        heads.close()
        return out

    def batches(self, seqs: Iterable[int]) -> list[Batch]:
        """These sealed, unacknowledged batches with their bodies, in seq order; a seq that
        is gone (acknowledged, or dropped by the full policy) is left out."""
        found = self.db.execute(
            "SELECT seq, sealed_ms, n, per_device, row_ids FROM batches "
            "WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq", (json.dumps(list(seqs)),)
        ).fetchall()
        return [self._batch(*row) for row in found]

    def _batch(self, seq: int, sealed: int, n: int, per_device: str, row_ids: str) -> Batch:
        body = self._cache.get(seq)
        if body is None:
            body = "[" + (self.db.execute(_BODIES, (row_ids,)).fetchone()[0] or "") + "]"
        devices = json.loads(per_device)
        return Batch(int(seq), int(sealed), int(n), body,
                     next(iter(devices)) if len(devices) == 1 else None)

    def ack(self, *seqs: int) -> None:
        """The broker has these batches: forget them and count them published (one
        transaction, a few statements, for all the acknowledgements that arrived together;
        not made durable: after a power cut an ack lost means a resend the cloud ignores)."""
        self.write([], acks=seqs)

    def _remove_acked(self, seqs: Sequence[int], tally: Tally[tuple[str, str]]) -> int:
        """In the caller's transaction: remove these batches and count them published in
        ``tally``; returns how many were found (the others were acknowledged twice, after a
        resend, or dropped by the full policy while in flight)."""
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

    def _acked(self, seqs: Sequence[int], published: int) -> None:
        """After the commit that removed them."""
        self._batches_published += published
        for seq in seqs:
            self._uncache(seq)

    def _uncache(self, seq: int) -> None:
        body = self._cache.pop(seq, None)
        if body is not None:
            self._cache_bytes -= len(body)
