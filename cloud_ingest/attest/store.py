"""The chain and the log in the database (migrations 012, 013): read the state of an
enterprise's log, append one package. Nothing here updates or deletes; the tables' triggers
refuse it from anyone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from cloud_ingest.attest import verify_package as v
from cloud_ingest.attest.package import Built, LogState

_LOCK_CLASS = 0x5F6E7644  # advisory lock namespace of evidence builds: one build per enterprise at a time


class LogDamaged(Exception):
    """The stored log does not match its own last checkpoint: someone changed it outside the service."""


@dataclass(frozen=True, kw_only=True)
class Enterprise:
    id: int
    code: str
    name: str | None
    industry: str | None
    district: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "industry": self.industry, "district": self.district}


def enterprise(conn: psycopg.Connection[Any], code: str) -> Enterprise | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT id, code, name, industry, district FROM enterprises WHERE code = %s", (code,)
        ).fetchone()
    return Enterprise(**row) if row else None


def lock(conn: psycopg.Connection[Any], ent: Enterprise) -> None:
    """Serializes builds of one enterprise until the transaction ends (any number of workers)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, ent.id))


def log_state(conn: psycopg.Connection[Any], ent: Enterprise) -> LogState:
    """The chain records and the last checkpoint, checked against each other before we build on
    them (a log altered behind the triggers' back is refused, not extended)."""
    entries = [
        json.loads(bytes(r[0]))
        for r in conn.execute(
            "SELECT entry FROM evidence_log_leaves WHERE enterprise_id = %s ORDER BY sequence", (ent.id,)
        )
    ]
    cp = conn.execute(
        "SELECT tree_size, root_hash, note FROM evidence_checkpoints WHERE enterprise_id = %s"
        " ORDER BY tree_size DESC LIMIT 1",
        (ent.id,),
    ).fetchone()
    if cp is None and not entries:
        return LogState()
    if cp is None or cp[0] != len(entries):
        raise LogDamaged(
            f"证据日志已被改动 the evidence log of {ent.code} holds {len(entries)} packages "
            f"but its last "
            f"checkpoint counts {cp[0] if cp else 0}: it was altered outside the service"
        )
    root = v.root_from_leaves([v.leaf_hash(v.log_entry(e)) for e in entries])
    if root != bytes(cp[1]):
        raise LogDamaged(
            f"证据日志已被改动 the evidence log of {ent.code} no longer hashes to its last "
            f"checkpoint: "
            "it was altered outside the service; do not build on it"
        )
    return LogState(entries=tuple(entries), checkpoint=cp[2].encode())


def append(conn: psycopg.Connection[Any], ent: Enterprise, built: Built, *, archive: bytes) -> None:
    e = built.entry
    conn.execute(
        "INSERT INTO evidence_packages (enterprise_id, sequence, window_start, window_end, created_at,"
        " envelope_sha256, previous_envelope_sha256, key_id, envelope, archive)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            ent.id,
            e["sequence"],
            _ts(e["window"]["start"]),
            _ts(e["window"]["end"]),
            _ts(e["created_at"]),
            e["envelope_sha256"],
            e["previous_envelope_sha256"],
            e["key_id"],
            built.files[v.ENVELOPE],
            archive,
        ),
    )
    conn.execute(
        "INSERT INTO evidence_log_leaves (enterprise_id, sequence, entry, leaf_hash) VALUES (%s, %s, %s, %s)",
        (ent.id, e["sequence"], v.log_entry(e), built.leaf_hash),
    )
    _origin, size, root = v.parse_checkpoint(built.checkpoint.decode().rpartition("\n\n")[0] + "\n")
    conn.execute(
        "INSERT INTO evidence_checkpoints (enterprise_id, tree_size, root_hash, note, created_at)"
        " VALUES (%s, %s, %s, %s, "
        "%s)",
        (ent.id, size, root, built.checkpoint.decode(), _ts(e["created_at"])),
    )


def packages(conn: psycopg.Connection[Any], ent: Enterprise) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return list(
            cur.execute(
                "SELECT sequence, window_start, window_end, created_at, envelope_sha256, "
                "previous_envelope_sha256,"
                " key_id, length(archive) AS archive_bytes FROM evidence_packages WHERE enterprise_id = %s"
                " ORDER BY sequence",
                (ent.id,),
            ).fetchall()
        )


def archive(conn: psycopg.Connection[Any], ent: Enterprise, sequence: int) -> bytes | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT archive FROM evidence_packages WHERE enterprise_id = %s AND sequence = %s",
            (ent.id, sequence),
        ).fetchone()
    return bytes(row["archive"]) if row else None


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
