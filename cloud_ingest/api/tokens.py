"""API tokens in the database: issue, look up, list, revoke (plain functions on a connection).

A token is ``sfg_`` and 43 URL-safe characters: 256 random bits from ``secrets``. Only its
SHA-256 is stored (migration 015). For a random secret of that size a fast digest is enough:
nobody can invert it or try enough guesses; a slow hash (argon2, scrypt) matters only for
secrets people choose, and the product issues none. A lookup is by digest through the table's
unique index, so no comparison of secrets happens in Python at all.

Used by ``cloud-ingest tokens`` (cli/token_commands.py) and by the API's authentication
(``auth.Credentials``), which caches lookups for ``api.token_cache_s`` seconds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

Role = Literal["admin", "reviewer", "enterprise"]
PREFIX = "sfg_"
TOKEN_BYTES = 32  # 256 bits; the issue asks for at least 128


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRow:
    """One token as stored: everything but the secret, which is not stored."""

    id: int
    name: str
    role: Role
    enterprise: str | None
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> Literal["active", "expired", "revoked"]:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


_COLUMNS = "id, name, role, enterprise, created_at, created_by, expires_at, revoked_at, last_used_at"


def _row(values: tuple[Any, ...]) -> TokenRow:
    return TokenRow(**dict(zip(_COLUMNS.split(", "), values, strict=True)))


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def issue(conn: psycopg.Connection[Any], *, name: str, role: Role, enterprise: str | None,
          expires_at: datetime | None, created_by: str | None) -> tuple[TokenRow, str]:
    """A new token: its row, and the token itself, which exists nowhere else afterwards."""
    if (role == "enterprise") != (enterprise is not None):
        raise ValueError("--enterprise is required for role enterprise, and only for it")
    token = new_token()
    row = conn.execute(
        "INSERT INTO api_tokens (name, role, enterprise, token_sha256, expires_at, created_by)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (name, role, enterprise, digest(token), expires_at, created_by),
    ).fetchone()
    assert row is not None
    return _row(_values(row)), token


def import_digest(conn: psycopg.Connection[Any], *, name: str, role: Role, enterprise: str | None,
                  sha256_hex: str, created_by: str | None) -> bool:
    """Take over a token of the tokens file (by its digest); False if it is already stored."""
    cur = conn.execute(
        "INSERT INTO api_tokens (name, role, enterprise, token_sha256, created_by)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (token_sha256) DO NOTHING",
        (name, role, enterprise, bytes.fromhex(sha256_hex), created_by),
    )
    return cur.rowcount == 1


def lookup(conn: psycopg.Connection[Any], token_digest: bytes) -> TokenRow | None:
    """The row of a presented token (in any state), marking an active one as used now."""
    row = conn.execute(
        "UPDATE api_tokens SET last_used_at = now() WHERE token_sha256 = %s AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now())"
        f" RETURNING {_COLUMNS}",
        (token_digest,),
    ).fetchone()
    if row is None:  # unknown, expired or revoked: read it to say which
        row = conn.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_sha256 = %s",
                           (token_digest,)).fetchone()
    return None if row is None else _row(_values(row))


def _values(row: Any) -> tuple[Any, ...]:
    """A row from a plain or a dict_row cursor (the API's pool uses dict rows)."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def list_tokens(conn: psycopg.Connection[Any]) -> list[TokenRow]:
    return [_row(_values(r)) for r in conn.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY id")]


def revoke(conn: psycopg.Connection[Any], token_id: int) -> tuple[TokenRow | None, bool]:
    """(the row, whether this call revoked it); (None, False) when there is no such token."""
    row = conn.execute(
        f"UPDATE api_tokens SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL RETURNING {_COLUMNS}",
        (token_id,),
    ).fetchone()
    if row is not None:
        return _row(_values(row)), True
    row = conn.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = %s", (token_id,)).fetchone()
    return (None if row is None else _row(_values(row))), False
