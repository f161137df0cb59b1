"""What page handlers depend on, as ``Annotated`` aliases: the signed-in viewer and a database
connection. Their failures are exceptions of ours that ``app.py`` turns into pages: a sign-in
redirect, the database-down page, a 404 page.

Roles are the API's (``cloud_ingest.api.auth.Principal``): an enterprise user reading another
enterprise gets the same 404 as for one that does not exist, on pages and partials alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from cloud_ingest.api.auth import Principal, Refused
from cloud_ingest.api.ratelimit import FailedAuthLimiter
from cloud_ingest.web import session
from cloud_ingest.web.session import Keys, SessionError

DB_WAIT_S = 3.0
"""How long a page waits for a pooled connection before saying the database is down: a
person waits for a page, a live grid polls again in a few seconds."""

TokenLookup = Callable[[str], Principal | None]


@dataclass(frozen=True)
class WebState:
    """What the web app holds: the cookie keys, how to look a token up, the API's pool (rows as
    dicts, autocommit, UTC)."""

    keys: Keys
    lookup: TokenLookup
    pool: Callable[[], ConnectionPool]
    signing_key_file: Path
    log_name: str
    limiter: Callable[[], FailedAuthLimiter | None]


class SignInNeeded(Exception):
    """No usable session; ``why`` is None (never signed in), expired, invalid or revoked."""

    def __init__(self, why: str | None) -> None:
        super().__init__(why or "signed out")
        self.why = why


class DatabaseDown(Exception):
    """The database cannot be reached now; the page says so and retries."""


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def warmer(request: Request) -> Any:
    """The web app's figures warmer (``web/warm.py``)."""
    return request.app.state.warmer


def viewer(request: Request) -> Principal:
    cookie = request.cookies.get(session.COOKIE)
    if not cookie:
        raise SignInNeeded(None)
    web = web_state(request)
    try:
        token = session.open_cookie(web.keys, cookie)
    except SessionError as err:
        raise SignInNeeded(err.why) from None
    try:
        principal = web.lookup(token)
    except Refused:  # expired or revoked in the token store
        raise SignInNeeded("revoked") from None
    except (psycopg.OperationalError, TimeoutError) as err:  # tokens kept in the database
        raise DatabaseDown(str(err).strip().splitlines()[0] if str(err).strip() else "unreachable") from err
    if principal is None:
        raise SignInNeeded("revoked")
    request.state.viewer = principal
    return principal


def admin(who: Annotated[Principal, Depends(viewer)]) -> Principal:
    if who.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "仅管理员可见 Admins only")
    return who


def connection(request: Request) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    pool = web_state(request).pool()
    try:
        with pool.connection(timeout=DB_WAIT_S) as conn:
            yield conn  # type: ignore[misc]
    except psycopg.OperationalError as err:  # PoolTimeout is one too
        raise DatabaseDown(str(err).strip().splitlines()[0] if str(err).strip() else "unreachable") from err


@contextmanager
def plain_rows(db: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """The pooled connection with psycopg's default tuple rows, for code of other modules (the
    evidence computation, the package build) written against a plain ``psycopg.connect``."""
    db.row_factory = tuple_row
    try:
        yield db
    finally:
        db.row_factory = dict_row


Viewer = Annotated[Principal, Depends(viewer)]
Admin = Annotated[Principal, Depends(admin)]
Db = Annotated[psycopg.Connection[dict[str, Any]], Depends(connection)]


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, what)


def enterprise_row(db: psycopg.Connection[dict[str, Any]], who: Principal, code: str) -> dict[str, Any]:
    """The enterprise ``code`` if ``who`` may read it; 404 otherwise, also when it exists but
    belongs to someone else, so an enterprise user cannot even learn that it exists."""
    if not who.may_read(code):
        raise not_found(f"企业 {code} 不存在 enterprise {code} not found")
    row = db.execute("SELECT id, code, name, industry, district, first_seen FROM enterprises WHERE code = %s",
                     (code,)).fetchone()
    if row is None:
        raise not_found(f"企业 {code} 不存在 enterprise {code} not found")
    return row
