"""Bearer-token authentication with three roles.

- ``admin``: everything, including ingest statistics and dead letters;
- ``reviewer``: reads every enterprise (third-party acceptance reviewers);
- ``enterprise``: reads only the enterprise the token is bound to; any other enterprise is
  answered 404, exactly as if it did not exist.

Tokens live in a file outside the YAML config (``api.tokens_file`` or ``SFG_API_TOKENS_FILE``):
a YAML/JSON list of ``{name, role, enterprise?, token | token_sha256}``. Storing only the
SHA-256 is preferred; comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from common.config_files import ConfigError, read_yaml

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

    def digest(self) -> str:
        return self.token_sha256 or hashlib.sha256((self.token or "").encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    enterprise: str | None = None

    def may_read(self, enterprise: str) -> bool:
        return self.role in ("admin", "reviewer") or self.enterprise == enterprise


class TokenStore:
    def __init__(self, entries: list[TokenEntry]) -> None:
        self._by_digest = {e.digest(): e for e in entries}

    @classmethod
    def load(cls, path: Path | None) -> TokenStore:
        if path is None:
            return cls([])
        data = read_yaml(path) or []
        if not isinstance(data, list):
            raise ConfigError(path, ["(top level): expected a list of tokens"])
        try:
            return cls(TypeAdapter(list[TokenEntry]).validate_python(data))
        except ValueError as err:
            raise ConfigError(path, [str(err)]) from err

    def find(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        for known, entry in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return Principal(entry.name, entry.role, entry.enterprise)
        return None


_bearer = HTTPBearer(auto_error=False, description="an API token from the tokens file")


def authenticate(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    store: TokenStore = request.app.state.tokens
    principal = store.find(creds.credentials) if creds else None
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown token",
                            headers={"WWW-Authenticate": "Bearer"})
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
