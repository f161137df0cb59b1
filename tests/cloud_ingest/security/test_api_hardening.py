"""Security headers on every response (errors included), CORS off unless origins are listed,
and failed authentication limited per client address with 429 and Retry-After, in-process and
through the real uvicorn server behind a trusted proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from cloud_ingest import migrate
from cloud_ingest.api.app import create_app
from cloud_ingest.api.auth import TokenEntry, TokenStore
from cloud_ingest.api.server import ApiServer
from cloud_ingest.config import ApiConfig, CloudConfig, DatabaseConfig
from tests.support import eventually, free_port, wait_port

pytestmark = pytest.mark.integration

TOKEN, REVIEWER = "hardening-admin-token-0123", "hardening-reviewer-token-01"
SECRET_IN_ERROR = "internal-detail-must-not-show"


def _app(dsn: str, **api: Any) -> Any:
    cfg = CloudConfig(database=DatabaseConfig(dsn=dsn), api=ApiConfig(**api))
    app = create_app(cfg, tokens=TokenStore([TokenEntry(name="ops", role="admin", token=TOKEN),
                                              TokenEntry(name="rev", role="reviewer", token=REVIEWER)]))
    boom = APIRouter()

    @boom.get("/api/v1/boom")
    def fail() -> None:
        raise RuntimeError(SECRET_IN_ERROR)

    app.include_router(boom)
    # the dashboard is mounted at "/" behind every API route: a route added afterwards must go
    # in front of it, as create_app's own routes are
    app.router.routes.insert(0, app.router.routes.pop())
    return app


@pytest.fixture
def db(pg_dsn: str) -> Iterator[str]:
    migrate.migrate(pg_dsn)
    yield pg_dsn


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_secure(r: httpx.Response) -> None:
    h = r.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["cross-origin-opener-policy"] == "same-origin"


def test_security_headers_on_every_kind_of_response(db: str) -> None:
    with TestClient(_app(db), raise_server_exceptions=False) as c:
        answers = {
            200: c.get("/api/v1/health"),
            401: c.get("/api/v1/enterprises"),
            403: c.get("/api/v1/dead-letters", headers=_auth(REVIEWER)),
            404: c.get("/api/v1/enterprises/none", headers=_auth()),
            422: c.get("/api/v1/enterprises/e/devices/d/series", headers=_auth(), params={"limit": "many"}),
            500: c.get("/api/v1/boom", headers=_auth()),
            -1: c.get("/no-such-page"),
        }
        for code, r in answers.items():
            assert r.status_code == (404 if code == -1 else code), (code, r.status_code)
            _assert_secure(r)
        csp = answers[200].headers["content-security-policy"]
        assert "script-src 'self'" in csp and "object-src 'none'" in csp
        assert answers[200].headers["cache-control"] == "no-store"
        # an unhandled error: a plain 500 that shows nothing of the exception
        assert answers[500].json() == {"detail": "internal server error"}
        assert SECRET_IN_ERROR not in answers[500].text
        docs = c.get("/docs")
        assert docs.status_code == 200
        assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        _assert_secure(docs)
        assert "strict-transport-security" not in answers[200].headers  # plain http


def test_cors_is_off_by_default(db: str) -> None:
    with TestClient(_app(db)) as c:
        r = c.get("/api/v1/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        pre = c.options("/api/v1/enterprises", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert "access-control-allow-origin" not in pre.headers and pre.status_code >= 400


def test_cors_allow_list(db: str) -> None:
    ok = "https://dashboard.example.cn"
    with TestClient(_app(db, cors_allow_origins=[ok])) as c:
        pre = c.options("/api/v1/enterprises", headers={
            "Origin": ok, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ok
        assert "access-control-allow-credentials" not in pre.headers
        _assert_secure(pre)
        r = c.get("/api/v1/health", headers={"Origin": ok})
        assert r.headers["access-control-allow-origin"] == ok
        r = c.get("/api/v1/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_failed_authentication_is_limited_per_address(db: str) -> None:
    app = _app(db, auth_failures_max=3, auth_failure_window_s=2)
    with TestClient(app, client=("203.0.113.7", 4000)) as bad, \
            TestClient(app, client=("198.51.100.2", 4000)) as good:
        assert [bad.get("/api/v1/enterprises", headers=_auth(f"wrong-{i}" * 4)).status_code
                for i in range(3)] == [401] * 3
        limited = bad.get("/api/v1/enterprises", headers=_auth())  # even a right token, for now
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        assert "too many failed authentications" in limited.json()["detail"]
        _assert_secure(limited)
        # requests without a token guess nothing and are not counted; other addresses unaffected
        assert good.get("/api/v1/enterprises").status_code == 401
        assert good.get("/api/v1/enterprises", headers=_auth()).status_code == 200
        assert bad.get("/api/v1/health").status_code == 200
        eventually(lambda: bad.get("/api/v1/enterprises", headers=_auth()).status_code == 200,
                   timeout=10, what="the address allowed again once its failures left the window")


def test_behind_a_trusted_proxy(db: str) -> None:
    port = free_port()
    cfg = CloudConfig(database=DatabaseConfig(dsn=db), api=ApiConfig(
        port=port, auth_failures_max=2, auth_failure_window_s=60, trusted_proxies=["127.0.0.1"]))
    server = ApiServer(cfg)
    server.start()
    try:
        wait_port("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}/api/v1/enterprises"
        one = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        for _ in range(2):
            assert httpx.get(url, headers={**one, **_auth("wrong" * 5)}, timeout=5).status_code == 401
        r = httpx.get(url, headers={**one, **_auth("wrong" * 5)}, timeout=5)
        assert r.status_code == 429 and "retry-after" in r.headers
        assert r.headers["strict-transport-security"].startswith("max-age=")  # https at the proxy
        assert "server" not in r.headers
        # another client behind the same proxy is not limited
        other = httpx.get(url, headers={"X-Forwarded-For": "203.0.113.10", **_auth("wrong" * 5)}, timeout=5)
        assert other.status_code == 401
    finally:
        server.stop()
