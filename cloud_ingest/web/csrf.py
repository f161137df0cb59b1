"""CSRF protection for every form that changes state: a signed double-submit token.

A random nonce lives in its own HttpOnly, SameSite=Strict cookie; every form carries
HMAC(key, nonce) in a hidden field. A POST passes only if the cookie is there and the field
is its HMAC, so another site can neither read the field nor forge it (it cannot read the
cookie, and SameSite=Strict keeps the browser from sending it along anyway). The sign-in form
is covered too (login CSRF), and a successful sign-in or sign-out draws a new nonce. As a
second line, a POST whose ``Origin`` names another site is refused whatever it carries.
The pattern is Datasette's (asgi-csrf); the check is a dozen lines, so it lives here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "sfg_csrf"
FIELD = "csrf_token"


class CsrfRejected(Exception):
    """The form was not sent by one of our pages; ``why`` says what was wrong."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _sign(key: bytes, nonce: str) -> str:
    return hmac.new(key, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def nonce_of(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and 16 <= len(value) <= 128 else None


def token_for(request: Request, key: bytes) -> tuple[str, str | None]:
    """The token a page's forms carry, and a new nonce when the browser has none yet (the
    caller sets it as the cookie with `set_cookie`)."""
    nonce = nonce_of(request)
    fresh = None
    if nonce is None:
        nonce = fresh = secrets.token_urlsafe(24)
    return _sign(key, nonce), fresh


def set_cookie(response: Response, nonce: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, nonce, httponly=True, samesite="strict", secure=secure, path="/")


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def check(request: Request, key: bytes, submitted: str | None) -> None:
    """Raise CsrfRejected unless the form's token matches this browser's cookie."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        parts = urlsplit(origin)
        if f"{parts.scheme}://{parts.netloc}" != own:
            raise CsrfRejected(f"the form came from another site ({origin})")
    nonce = nonce_of(request)
    if nonce is None:
        raise CsrfRejected("the browser sent no form cookie (cookies blocked, or the page is old)")
    if not submitted or not hmac.compare_digest(_sign(key, nonce), submitted):
        raise CsrfRejected("the form's security token does not match (the page is old: reload it)")
