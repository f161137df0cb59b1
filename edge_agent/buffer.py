"""The durable store-and-forward buffer: SQLite in WAL mode, one file on the gateway's disk.

Life of a sample, each step one transaction::

    add()    samples read  ──> pending       (committed before the poll cycle moves on)
    seal()   pending       ──> batches(seq)  (seq assigned once; a resend is byte-identical)
    ack()    batches(seq)  ──> gone          (only after the broker's PUBACK)

Because a batch's seq and payload are fixed when it is sealed, the cloud can store
idempotently on (gateway, seq) however often a batch goes over the wire. Counters live in the
same file and change in the same transactions as the rows they count, so a SIGKILL or a power
cut never leaves them disagreeing with the data.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from collectors.sample import Quality, Sample
from edge_agent.wire import Counters, DeviceCounters

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    n INTEGER NOT NULL,
    body TEXT NOT NULL           -- n samples of one device, in wire form, comma-separated
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    sealed_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    per_device TEXT NOT NULL,    -- JSON {device: samples}, to count what was published
    samples TEXT NOT NULL        -- JSON array of wire samples
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


_QUALITY = {q: q.label for q in Quality}


@functools.lru_cache(maxsize=65536)
def _jstr(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _jvalue(v: object) -> str | None:
    """JSON text of a value; None when it cannot be represented (NaN, infinity)."""
    if type(v) is float:  # the common case first
        return repr(v) if math.isfinite(v) else None
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else None
    if isinstance(v, int):
        return str(v)
    return _jstr(str(v))


def sample_json(s: Sample) -> str:
    """The wire form of one sample (keys documented in docs/wire-format.md).

    Hand-assembled because it runs for every sample the gateway reads; names are escaped once
    and cached. A value JSON cannot carry (NaN, infinity) becomes null with bad quality and
    the reason, instead of an invalid document.
    """
    value = _jvalue(s.value)
    quality, reason = _QUALITY[s.quality], s.reason
    if value is None:
        value, quality, reason = "null", "bad", f"not a finite number: {s.value!r}"
    out = (f'{{"d":{_jstr(s.device)},"t":{_jstr(s.tag)},"ts":{s.ts},"rt":{s.read_ts},'
           f'"v":{value},"q":"{quality}"')
    if s.code is not None:
        out += f',"c":{int(s.code)}'
    if reason is not None:
        out += f',"r":{_jstr(reason)}'
    return out + "}"


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
    ) -> None:
        self.path = Path(path)
        # Samples are stored a few dozen to a row (one device, one commit): far fewer rows to
        # write and delete; a batch is made of whole rows, so rows stay smaller than batches.
        self.row_max_samples = row_max_samples
        self.row_max_bytes = row_max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.full_policy = full_policy
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives a power cut, not only a crash of the process.
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.synchronous = synchronous
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self._page_size = int(self.db.execute("PRAGMA page_size").fetchone()[0])

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

    def _bump(self, tally: Tally[tuple[str, str]]) -> None:
        self.db.executemany(
            "INSERT INTO counters(device, name, n) VALUES (?, ?, ?) "
            "ON CONFLICT(device, name) DO UPDATE SET n = n + excluded.n",
            [(dev, name, n) for (dev, name), n in tally.items() if n],
        )

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
        return int(self.meta("next_seq", "1"))

    # -- sizes ------------------------------------------------------------------------------

    def used_bytes(self) -> int:
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages - free) * self._page_size

    def depth(self) -> tuple[int, int]:
        """(pending samples, sealed batches not yet acknowledged)."""
        p = self.db.execute("SELECT coalesce(sum(n), 0) FROM pending").fetchone()[0]
        b = self.db.execute("SELECT count(*) FROM batches").fetchone()[0]
        return int(p), int(b)

    def backlog_samples(self) -> int:
        p, _ = self.depth()
        b = self.db.execute("SELECT coalesce(sum(n), 0) FROM batches").fetchone()[0]
        return p + int(b)

    def oldest_ms(self) -> int | None:
        row = self.db.execute("SELECT min(sealed_ms) FROM batches").fetchone()
        if row and row[0] is not None:
            return int(row[0])
        row = self.db.execute("SELECT body FROM pending ORDER BY id LIMIT 1").fetchone()
        return int(json.loads("[" + row[0] + "]")[0]["rt"]) if row else None

    # -- the three steps --------------------------------------------------------------------

    def add(self, samples: Iterable[Sample]) -> int:
        """Commit samples to disk; returns how many were stored (the rest were dropped)."""
        samples = list(samples)
        bodies = [sample_json(s) for s in samples]
        by_device: dict[str, list[str]] = {}
        if samples and all(s.device == samples[0].device for s in samples):
            by_device[samples[0].device] = bodies  # the usual case: one device's poll
        else:
            for smp, body in zip(samples, bodies, strict=True):
                by_device.setdefault(smp.device, []).append(body)
        rows: list[tuple[str, int, str]] = []
        step = self.row_max_samples
        for dev, group in by_device.items():
            for i in range(0, len(group), step):
                self._split_row(dev, group[i:i + step], rows)
        if not rows:
            return 0
        per_device: Tally[str] = Tally()
        for dev, n, _ in rows:
            per_device[dev] += n
        read = Tally({(dev, "read"): n for dev, n in per_device.items()})
        total = sum(n for _, n, _ in rows)
        incoming = sum(len(body) + 32 for _, _, body in rows)
        with self._txn():
            self._bump(read)
            if self.used_bytes() + incoming > self.max_bytes:
                if self.full_policy == "drop_newest":
                    self._bump(Tally({(dev, "dropped:buffer_full"): n for dev, n in per_device.items()}))
                    return 0
                self._drop_oldest(incoming)
            self.db.executemany("INSERT INTO pending(device, n, body) VALUES (?, ?, ?)", rows)
            self._bump(Tally({(dev, "buffered"): n for dev, n in per_device.items()}))
        return total

    def _split_row(self, device: str, bodies: list[str], rows: list[tuple[str, int, str]]) -> None:
        text = ",".join(bodies)
        if len(text) <= self.row_max_bytes or len(bodies) == 1:
            rows.append((device, len(bodies), text))
            return
        half = len(bodies) // 2
        self._split_row(device, bodies[:half], rows)
        self._split_row(device, bodies[half:], rows)

    def _drop_oldest(self, need: int) -> None:
        """Make room by dropping the oldest data, sealed batches first, counted per device."""
        dropped: Tally[tuple[str, str]] = Tally()
        freed = 0
        target = self.used_bytes() + need - self.max_bytes
        for seq, per_device, samples in self.db.execute(
            "SELECT seq, per_device, samples FROM batches ORDER BY seq"
        ).fetchall():
            if freed >= target:
                break
            self.db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
            for dev, n in json.loads(per_device).items():
                dropped[(dev, "dropped:buffer_full")] += n
            freed += len(samples)
        while freed < target:
            rows = self.db.execute(
                "SELECT id, device, n, length(body) FROM pending ORDER BY id LIMIT 100"
            ).fetchall()
            if not rows:
                break
            for row_id, dev, n, size in rows:
                self.db.execute("DELETE FROM pending WHERE id = ?", (row_id,))
                dropped[(dev, "dropped:buffer_full")] += n
                freed += size + 32
                if freed >= target:
                    break
        self._bump(dropped)

    def seal(self, *, max_samples: int, max_bytes: int, now_ms: int,
             one_device: bool = False, max_batches: int = 1) -> Batch | None:
        """Turn the oldest pending samples into numbered batches (each of one device, if
        asked), up to ``max_batches`` in one durable transaction; returns the last one.

        A batch takes whole pending rows (one device's samples of one commit), at least one.
        """
        last: Batch | None = None
        with self._txn():
            for _ in range(max_batches):
                batch = self._seal_one(max_samples=max_samples, max_bytes=max_bytes,
                                       now_ms=now_ms, one_device=one_device)
                if batch is None:
                    break
                last = batch
        return last

    def _seal_one(self, *, max_samples: int, max_bytes: int, now_ms: int,
                  one_device: bool) -> Batch | None:
        if one_device:
            first = self.db.execute("SELECT device FROM pending ORDER BY id LIMIT 1").fetchone()
            if first is None:
                return None
            rows = self.db.execute(
                "SELECT id, device, n, body FROM pending WHERE device = ? ORDER BY id LIMIT ?",
                (first[0], max_samples),
            ).fetchall()
        else:
            rows = self.db.execute(
                "SELECT id, device, n, body FROM pending ORDER BY id LIMIT ?", (max_samples,)
            ).fetchall()
        if not rows:
            return None
        bodies: list[str] = []
        ids: list[int] = []
        size, count = 2, 0
        per_device: Tally[str] = Tally()
        for row_id, dev, n, body in rows:
            if bodies and (count + n > max_samples or size + len(body) + 1 > max_bytes):
                break
            bodies.append(body)
            ids.append(row_id)
            size += len(body) + 1
            count += n
            per_device[dev] += n
        seq = self.next_seq
        samples = "[" + ",".join(bodies) + "]"
        self.db.execute(
            "INSERT INTO batches(seq, sealed_ms, n, per_device, samples) VALUES (?, ?, ?, ?, ?)",
            (seq, now_ms, count, json.dumps(per_device), samples),
        )
        if one_device:
            self.db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])
        else:
            self.db.execute("DELETE FROM pending WHERE id <= ?", (ids[-1],))
        self._set_meta("next_seq", str(seq + 1))
        return Batch(seq, now_ms, count, samples, next(iter(per_device)) if one_device else None)

    def unsent(self, *, from_seq: int = 0, below_seq: int | None = None,
               limit: int = 100) -> list[Batch]:
        """Sealed, unacknowledged batches in ``[from_seq, below_seq)``, oldest first."""
        rows = self.db.execute(
            "SELECT seq, sealed_ms, n, samples, per_device FROM batches "
            "WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?",
            (from_seq, below_seq if below_seq is not None else 1 << 62, limit),
        ).fetchall()
        out = []
        for seq, sealed, n, samples, per_device in rows:
            devices = json.loads(per_device)
            out.append(Batch(int(seq), int(sealed), int(n), str(samples),
                             next(iter(devices)) if len(devices) == 1 else None))
        return out

    def ack(self, seq: int) -> None:
        """The broker has the batch: forget it and count it published."""
        with self._txn(durable=False):
            row = self.db.execute("SELECT per_device FROM batches WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return  # acknowledged twice (a resend), or dropped while in flight
            self.db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
            self._bump(Tally({(dev, "published"): n for dev, n in json.loads(row[0]).items()}))
            self._set_meta("batches_published", str(int(self.meta("batches_published", "0")) + 1))
