"""The buffer file's schema, its pragmas and the statements that write many records at once.

A row holds a few dozen samples of one device in their wire form; a batch only names its rows
(no copy), which spares the flash of small gateway boxes. Rows with an id above the
``sealed_to`` watermark belong to no batch yet, which is why row ids must never be reused.
"""

from __future__ import annotations

import functools
import shutil
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

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

INSERT_ROWS = "INSERT INTO rows(device, n, size, body) VALUES {}"
INSERT_BATCHES = "INSERT INTO batches(seq, sealed_ms, n, per_device, row_ids) VALUES {}"
UPSERT_COUNTERS = ("INSERT INTO counters(device, name, n) VALUES {} "
                   "ON CONFLICT(device, name) DO UPDATE SET n = n + excluded.n")
UPSERT_META = ("INSERT INTO meta(key, value) VALUES {} "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
# a batch's rows: ids as the JSON list the batch stores, bodies joined in id order in one step
BODIES = ("SELECT group_concat(body, ',') FROM (SELECT body FROM rows "
          "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id)")
BATCH_HEADS = "SELECT seq, sealed_ms, n, per_device, row_ids FROM batches "


class BufferFormatError(ValueError):
    """The file was written by an incompatible version of the agent, or this Python's SQLite
    lacks what the buffer needs; the message says which and what to do."""


class BufferDiskFull(ValueError):
    """The buffer cannot be opened because its disk is full (SQLite needs a little space to
    open a file in WAL mode); the message names the folder and the fix."""


FULL_BELOW = 1 << 20  # free bytes under which a failure to open is put down to a full disk


def open_database(path: Path, *, max_bytes: int,
                  synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    """Open (or create) the buffer file with its pragmas, refusing a file of another format,
    or, on a full disk, saying so (SQLite's own words are "disk I/O error")."""
    try:
        return _open(path, max_bytes=max_bytes, synchronous=synchronous)
    except sqlite3.OperationalError as err:
        free = shutil.disk_usage(path.parent).free
        if free >= FULL_BELOW:
            raise
        raise BufferDiskFull(
            f"缓冲区所在磁盘已满 the buffer's disk is full: {free} bytes free in {path.parent} "
            f"({err}). 请在该磁盘上腾出空间 Free space there; the samples already in {path.name} "
            "are kept and sent once the agent starts") from err


def _open(path: Path, *, max_bytes: int,
          synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=5000")  # first: switching to WAL waits for a creator too
    # 16 KiB pages: a row of one poll fits in one page, and SQLite writes half as many pages
    # as with 4 KiB (measured: inserts and deletes ~2x cheaper). Only a new file takes it;
    # a tiny buffer keeps 4 KiB, or its empty tables alone (six pages) would fill it.
    db.execute(f"PRAGMA page_size={16384 if max_bytes >= 8 << 20 else 4096}")
    _wal(db)
    # FULL: a commit survives a power cut, not only a crash of the process.
    db.execute(f"PRAGMA synchronous={synchronous}")
    # one statement, one snapshot: read apart, a creator could commit between the two
    tables, version = db.execute(
        "SELECT (SELECT count(*) FROM sqlite_master), user_version FROM pragma_user_version").fetchone()
    if tables and version != FORMAT_VERSION:
        db.close()
        raise BufferFormatError(
            f"{path} is a buffer of format {version}, this agent writes format "
            f"{FORMAT_VERSION}: drain it with the agent version that wrote it, or move it away"
        )
    if not tables:
        # One transaction makes the tables, stamps the format and names the stream: another
        # process opening the file meanwhile (`edge-agent status`, a test reading the counters)
        # sees either no tables or a complete buffer, never tables of "format 0". IF NOT EXISTS
        # and OR IGNORE let two creators racing for a new file agree on the first one's stream.
        db.executescript(
            "BEGIN IMMEDIATE;" + SCHEMA + f";PRAGMA user_version={FORMAT_VERSION};"
            f"INSERT OR IGNORE INTO meta(key, value) VALUES ('stream', '{uuid.uuid4().hex}');COMMIT;")
    try:
        db.execute("SELECT value FROM json_each('[1]')").fetchall()
    except sqlite3.OperationalError as err:
        db.close()
        raise BufferFormatError(
            f"this Python's SQLite {sqlite3.sqlite_version} has no JSON functions ({err}); "
            "the buffer needs SQLite 3.38 or newer, or one built with JSON1"
        ) from err
    return db


def _wal(db: sqlite3.Connection, *, tries: int = 100) -> None:
    """WAL mode. Switching needs the file to itself and SQLite does not wait (busy_timeout does
    not apply) while another connection is opening it: retry for up to about five seconds."""
    for attempt in range(tries):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or attempt == tries - 1:
                raise
            time.sleep(0.05)


@functools.lru_cache(maxsize=128)
def _statement(template: str, width: int, k: int) -> str:
    """``template`` with ``k`` rows of ``width`` parameters in its VALUES."""
    return template.format(",".join(["(" + ",".join("?" * width) + ")"] * k))


def insert_many(db: sqlite3.Connection, template: str, records: Sequence[tuple[object, ...]],
                *, max_params: int) -> int:
    """``template`` (an INSERT … VALUES {}) for all ``records``, as many a statement as
    SQLite takes parameters: one step of SQLite then does them all (measured 25 % cheaper
    than a statement a record, and SQLite works without the GIL the while; on the agent's
    buffer thread every statement's return waits for the GIL). Returns the rowid of the last
    record inserted."""
    if not records:
        return 0
    width = len(records[0])
    k = max(1, max_params // width)
    last = 0
    for i in range(0, len(records), k):
        chunk = records[i:i + k]
        cur = db.execute(_statement(template, width, len(chunk)),
                         [x for record in chunk for x in record])
        last = int(cur.lastrowid or 0)
    return last
