"""The sign-in session: the API token a person typed, sealed in an HttpOnly, SameSite=Strict cookie.

The cookie holds the token itself, encrypted and authenticated (Fernet from ``cryptography``:
AES-128-CBC + HMAC-SHA256, with the time it was sealed). Every request opens it and asks the
same token lookup as the API's bearer authentication, so a token revoked or changed in the
token store ends its web sessions at once, and the page never knows more about a person than
the API does. A signed-only cookie (itsdangerous) would show the token to anyone who reads the
cookie jar or a proxy log; encryption keeps it unreadable.

The key comes from ``SFG_WEB_SESSION_KEY`` or the 0600 file named by
``SFG_WEB_SESSION_KEY_FILE`` (any text of 32 or more characters; several workers behind one
address need the same one). Without either, each process makes a random key: sessions then
end when the service restarts and do not carry between workers, which the log says once.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from common.secrets import SecretError, read_secret

log = logging.getLogger(__name__)

COOKIE = "sfg_session"
KEY_ENV = "SFG_WEB_SESSION_KEY"
KEY_FILE_ENV = "SFG_WEB_SESSION_KEY_FILE"
MAX_AGE_S = 12 * 3600
"""A session lasts a working day; then the person signs in again."""
MIN_KEY_CHARS = 32


class SessionError(Exception):
    """The cookie cannot be used; ``why`` is what the sign-in page tells the person."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Keys:
    """The session cookie's key and the CSRF key, both derived from one secret."""

    fernet: Fernet
    csrf: bytes


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sfg-web " + purpose).derive(secret)


def keys_from(secret: bytes) -> Keys:
    return Keys(fernet=Fernet(base64.urlsafe_b64encode(_derive(secret, b"session"))),
                csrf=_derive(secret, b"csrf"))


def load_keys() -> Keys:
    """The keys from the configured secret, or random ones for this process (logged)."""
    env = KEY_ENV if os.environ.get(KEY_ENV) is not None else None
    file = os.environ.get(KEY_FILE_ENV) or None
    secret = read_secret(env=env, file=file, field="web.session_key")
    if secret is None:
        log.warning("web sessions: neither %s nor %s is set; using a random key, so sign-ins end "
                    "when the service restarts and do not carry between workers", KEY_ENV, KEY_FILE_ENV)
        return keys_from(secrets.token_bytes(32))
    text = secret.get_secret_value()
    if len(text) < MIN_KEY_CHARS:
        raise SecretError(f"web.session_key: the key has {len(text)} characters, at least "
                          f"{MIN_KEY_CHARS} are needed (make one with: openssl rand -base64 48)")
    return keys_from(text.encode())


def seal(keys: Keys, token: str) -> str:
    return keys.fernet.encrypt(json.dumps({"t": token}).encode()).decode()


def open_cookie(keys: Keys, cookie: str, *, now: float | None = None) -> str:
    """The token sealed in ``cookie``; raises SessionError saying whether it expired or is
    not ours (another key, edited, truncated)."""
    raw = cookie.encode()
    try:
        body = keys.fernet.decrypt(raw)
        sealed_at = keys.fernet.extract_timestamp(raw)
    except InvalidToken:
        raise SessionError("invalid") from None
    if (now if now is not None else time.time()) - sealed_at > MAX_AGE_S:
        raise SessionError("expired")
    try:
        token = json.loads(body)["t"]
    except (ValueError, KeyError, TypeError):
        raise SessionError("invalid") from None
    if not isinstance(token, str):
        raise SessionError("invalid")
    return token
