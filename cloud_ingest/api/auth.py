"""Bearer-token authentication with three roles, enforced on every route under /api/v1.

- ``admin``: everything, including ingest statistics and dead letters;
- ``reviewer``: reads every enterprise (third-party acceptance reviewers);
- ``enterprise``: reads only the enterprise the token is bound to; any other enterprise is
  answered 404, exactly as if it did not exist.

Tokens come from two places (``Credentials``):

1. the database (``api_tokens``, see ``tokens.py``): issued with ``cloud-ingest tokens create``,
   listed, revoked by id; a lookup is cached ``api.token_cache_s`` seconds (5), so a new token
   works at once and a revoked one stops within that time, without a restart;
2. the tokens file (``api.tokens_file`` / ``SFG_API_TOKENS_FILE``), kept as the bootstrap: the
   first admin token before the database has any, and a way in while the database is down.
   A YAML/JSON list of ``{name, role, enterprise?, token | token_sha256}``; a file holding
   plain ``token`` entries must be private (0600). It is read again when it changes.
   ``cloud-ingest tokens import`` moves its entries into the database.

The router of /api/v1 depends on `enterprise_scope`: every route is authenticated, and any
``{enterprise}`` in its path is checked against the token before the route runs, so a route
added later is covered without writing a check. Failed authentications are limited per client
address (``ratelimit.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from cloud_ingest.api import tokens as token_db
from cloud_ingest.api.ratelimit import FailedAuthLimiter
from common.config_files import ConfigError, field_path, read_yaml
from common.secrets import SecretError, check_private

log = logging.getLogger(__name__)

Role = Literal["admin", "reviewer", "enterprise"]


class TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: Role
    enterprise: str | None = None
    token: str | None = Field(None, min_length=16)
    token_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _check(self) -> TokenEntry:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token or token_sha256")
        if (self.role == "enterprise") != (self.enterprise is not None):
            raise ValueError("enterprise is required for role enterprise, and only for it")
        return self

    def __repr__(self) -> str:  # never show a plain token
        return f"TokenEntry(name={self.name!r}, role={self.role!r}, enterprise={self.enterprise!r})"

    __str__ = __repr__

    def digest(self) -> str:
        return self.token_sha256 or hashlib.sha256((self.token or "").encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    enterprise: str | None = None
    token_id: int | None = None  # the database token; None for one of the tokens file

    def may_read(self, enterprise: str) -> bool:
        return self.role in ("admin", "reviewer") or self.enterprise == enterprise


class TokenStore:
    """The tokens of the file (or given by a test), by digest."""

    def __init__(self, entries: list[TokenEntry]) -> None:
        self._by_digest = {e.digest(): e for e in entries}
        self.entries = list(entries)

    @classmethod
    def load(cls, path: Path | None) -> TokenStore:
        if path is None:
            return cls([])
        data = read_yaml(path) or []
        if not isinstance(data, list):
            raise ConfigError(path, ["(top level): expected a list of tokens"])
        try:
            entries = TypeAdapter(list[TokenEntry]).validate_python(data)
        except ValidationError as err:  # without the input: it may be a token
            raise ConfigError(path, [f"{field_path(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                                     for e in err.errors(include_input=False)]) from None
        if any(e.token is not None for e in entries):
            try:
                check_private(path, what="api.tokens_file (it holds plain tokens)")
            except SecretError as err:
                raise ConfigError(path, [str(err)]) from None
        return cls(entries)

    def find(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        for known, entry in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return Principal(entry.name, entry.role, entry.enterprise)
        return None


class Refused(Exception):
    """A token the database knows but that no longer opens anything."""


class Credentials:
    """Every token source of the API: the tokens file (read again when it changes), tokens
    given by the caller, and the database, with a short cache of database lookups."""

    MAX_CACHED = 10_000

    def __init__(self, *, pool: ConnectionPool | None, file: Path | None = None,
                 static: TokenStore | None = None, cache_s: float = 5.0) -> None:
        self._pool = pool
        self._file = file
        self._static = static
        self._file_store = TokenStore.load(file) if file else TokenStore([])
        self._file_mtime = self._mtime()
        self._file_checked = time.monotonic()
        self._cache_s = cache_s
        self._cache: dict[bytes, tuple[float, token_db.TokenRow | None]] = {}
        self._lock = threading.Lock()

    def _mtime(self) -> float | None:
        try:
            return self._file.stat().st_mtime if self._file else None
        except OSError:
            return None

    def _file_tokens(self) -> TokenStore:
        now = time.monotonic()
        if self._file is not None and now - self._file_checked >= 1.0:
            self._file_checked = now
            mtime = self._mtime()
            if mtime != self._file_mtime:
                try:
                    self._file_store = TokenStore.load(self._file)
                    log.info("tokens file %s read again: %d tokens", self._file,
                             len(self._file_store.entries))
                except ConfigError as err:
                    log.error("tokens file changed but cannot be used, keeping the previous one: %s", err)
                self._file_mtime = mtime
        return self._file_store

    def find(self, token: str) -> Principal | None:
        """The principal of ``token``; None when unknown. Raises Refused (expired, revoked) and
        psycopg errors (database away) for the caller to answer."""
        for store in (self._static, self._file_tokens()):
            if store is not None and (found := store.find(token)) is not None:
                return found
        if self._pool is None:
            return None
        row = self._row(token_db.digest(token))
        if row is None:
            return None
        state = row.state(datetime.now(UTC))
        if state != "active":
            raise Refused(f"token {state}")
        return Principal(row.name, row.role, row.enterprise, token_id=row.id)

    def _row(self, digest: bytes) -> token_db.TokenRow | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self._cache_s:
            return hit[1]
        assert self._pool is not None
        with self._pool.connection() as conn:
            row = token_db.lookup(conn, digest)
        if row is not None and self._cache_s > 0:  # unknown tokens are not cached: a new one works at once
            with self._lock:
                if len(self._cache) >= self.MAX_CACHED:
                    self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self._cache_s}
                self._cache[digest] = (now, row)
        return row


_bearer = HTTPBearer(auto_error=False, description="an API token (cloud-ingest tokens create)")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if creds is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown token", headers=challenge)
    limiter: FailedAuthLimiter | None = getattr(request.app.state, "auth_limiter", None)
    address = client_address(request)
    if limiter is not None and (wait := limiter.retry_after(address)) is not None:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed authentications from this address; retry after {wait} s",
                            headers={"Retry-After": str(wait)})
    store: Any = request.app.state.tokens
    try:
        principal: Principal | None = store.find(creds.credentials)
        detail = "missing or unknown token"
    except Refused as err:
        principal, detail = None, str(err)
    except (psycopg.OperationalError, TimeoutError) as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable") from err
    if principal is None:
        if limiter is not None:
            limiter.failed(address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers=challenge)
    return principal


def require_admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin only")
    return principal


User = Annotated[Principal, Depends(authenticate)]
Admin = Annotated[Principal, Depends(require_admin)]


def check_enterprise(user: Principal, enterprise: str) -> None:
    if not user.may_read(enterprise):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"enterprise {enterprise!r} not found")


def enterprise_scope(request: Request, user: User) -> Principal:
    """The dependency of the whole /api/v1 router: authenticated, and any ``{enterprise}`` of
    the path readable by this token (404 otherwise), before the route itself runs."""
    enterprise = request.path_params.get("enterprise")
    if enterprise is not None:
        check_enterprise(user, str(enterprise))
    return user
