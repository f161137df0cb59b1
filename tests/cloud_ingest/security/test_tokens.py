"""API tokens in the database: issued by the command line and shown once, stored only as a
digest, listed, revoked and expired without restarting the API; the tokens file still works as
the bootstrap and can be imported."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from cloud_ingest import migrate
from cloud_ingest.api import tokens
from cloud_ingest.api.app import create_app
from cloud_ingest.cli import main
from cloud_ingest.cli.token_commands import parse_expiry
from cloud_ingest.config import ApiConfig, CloudConfig, DatabaseConfig
from tests.cloud_ingest.helpers import scalar
from tests.support import eventually

pytestmark = pytest.mark.integration


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _client(dsn: str, *, db_timeout_s: float = 10.0, **api: object) -> TestClient:
    cfg = CloudConfig(database=DatabaseConfig(dsn=dsn, connect_timeout_s=db_timeout_s),
                      api=ApiConfig(**api))
    return TestClient(create_app(cfg))


@pytest.fixture
def db(pg_dsn: str) -> Iterator[str]:
    migrate.migrate(pg_dsn)
    yield pg_dsn


def _status(c: TestClient, token: str, path: str = "/enterprises") -> int:
    return c.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}).status_code


def test_create_list_revoke_without_restart(db: str) -> None:
    out = cli("tokens", "create", "--dsn", db, "--role", "admin", "--name", "ops-team")
    assert out.exit_code == 0, out.output
    token = out.output.strip().splitlines()[-1]
    assert token.startswith("sfg_") and len(token) == 4 + 43  # 256 random bits
    assert "shown only this once" in out.output and "id 1, name 'ops-team', role admin" in out.output
    # only the digest is stored, nowhere the token itself
    assert scalar(db, "SELECT encode(token_sha256, 'hex') FROM api_tokens") == hashlib.sha256(
        token.encode()).hexdigest()
    assert scalar(db, "SELECT count(*) FROM api_tokens t WHERE t::text LIKE %s", (f"%{token[4:]}%",)) == 0

    with _client(db, token_cache_s=1.0) as c:
        assert _status(c, token) == 200  # a running API sees a new token at once
        listed = cli("tokens", "list", "--dsn", db)
        assert listed.exit_code == 0 and token not in listed.output
        assert "ops-team" in listed.output and "有效 active" in listed.output
        assert scalar(db, "SELECT last_used_at IS NOT NULL FROM api_tokens WHERE id = 1")

        revoked = cli("tokens", "revoke", "--dsn", db, "1")
        assert revoked.exit_code == 0 and "token 1 (ops-team) revoked" in revoked.output
        eventually(lambda: _status(c, token) == 401, timeout=10, what="revoked token refused")
        r = c.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token}"})
        assert r.json() == {"detail": "token revoked"}
    assert "已吊销 revoked" in cli("tokens", "list", "--dsn", db).output
    again = cli("tokens", "revoke", "--dsn", db, "1")
    assert again.exit_code == 0 and "already revoked" in again.output
    missing = cli("tokens", "revoke", "--dsn", db, "99")
    assert missing.exit_code == 1 and "no token with id 99" in missing.output


def test_enterprise_token_reads_only_its_enterprise(db: str) -> None:
    out = cli("tokens", "create", "--dsn", db, "--role", "enterprise", "--enterprise", "ent-a", "--quiet")
    assert out.exit_code == 0
    token = out.output.strip()
    assert token.startswith("sfg_") and "\n" not in token
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO enterprises (code) VALUES ('ent-a'), ('ent-b')")
    with _client(db) as c:
        r = c.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token}"})
        assert [e["code"] for e in r.json()] == ["ent-a"]
        assert _status(c, token, "/enterprises/ent-a") == 200
        assert _status(c, token, "/enterprises/ent-b") == 404
        assert _status(c, token, "/dead-letters") == 403


def test_expiry(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        _, token = tokens.issue(conn, name="short", role="reviewer", enterprise=None,
                                expires_at=datetime.now(UTC) + timedelta(seconds=1.5), created_by="test")
    with _client(db) as c:
        assert _status(c, token) == 200
        # exact even while the lookup is cached: the cached row's expiry is checked per request
        eventually(lambda: _status(c, token) == 401, timeout=10, what="expired token refused")
        r = c.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token}"})
        assert r.json() == {"detail": "token expired"}
    assert "过期 expired" in cli("tokens", "list", "--dsn", db).output


def test_parse_expiry() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_expiry("90d", now=now) == now + timedelta(days=90)
    assert parse_expiry("12h", now=now) == now + timedelta(hours=12)
    assert parse_expiry("2w", now=now) == now + timedelta(weeks=2)
    assert parse_expiry("2026-12-31", now=now) == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_expiry("2026-06-01T08:00:00+08:00", now=now) == datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    assert parse_expiry("never", now=now) is None and parse_expiry(None, now=now) is None


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "enterprise"], "--enterprise is required with --role enterprise"),
    (["--role", "admin", "--enterprise", "ent-a"], "--enterprise is required with --role enterprise"),
    (["--role", "admin", "--expires", "soon"], "give a duration (90d, 12h, 30m, 2w)"),
    (["--role", "admin", "--expires", "2020-01-01"], "is in the past"),
    (["--role", "admin", "--expires", "2030-01-01T00:00:00"], "give the time's offset"),
    (["--role", "boss"], "Invalid value for '--role'"),
])
def test_create_refuses_bad_arguments(db: str, args: list[str], message: str) -> None:
    out = CliRunner().invoke(main, ["tokens", "create", "--dsn", db, *args])
    assert out.exit_code == 2 and message in out.output
    assert scalar(db, "SELECT count(*) FROM api_tokens") == 0


def test_commands_on_a_database_not_migrated(pg_dsn: str) -> None:
    out = cli("tokens", "list", "--dsn", pg_dsn)
    assert out.exit_code == 1 and "run `cloud-ingest migrate` first" in out.output


def test_tokens_file_bootstrap_is_read_again_and_can_be_imported(db: str, tmp_path: Path) -> None:
    plain, hashed = "file-admin-token-0123456789", "file-reviewer-token-0123456789"
    f = tmp_path / "tokens.yaml"
    f.write_text(f"- {{name: boot, role: admin, token: {plain}}}\n")
    f.chmod(0o600)
    # the polls below fail until the file is read again: no failed-authentication limit here
    with _client(db, tokens_file=str(f), auth_failures_max=10_000) as c:
        assert _status(c, plain, "/ingest/stats") == 200
        assert _status(c, hashed) == 401
        digest = hashlib.sha256(hashed.encode()).hexdigest()
        f.write_text(f"- {{name: boot, role: admin, token: {plain}}}\n"
                     f"- {{name: rev, role: reviewer, token_sha256: {digest}}}\n")
        eventually(lambda: _status(c, hashed) == 200, timeout=10, what="file read again")

        out = cli("tokens", "import", "--dsn", db, str(f))
        assert out.exit_code == 0 and "imported 2, 0 already in the database" in out.output
        assert cli("tokens", "import", "--dsn", db, str(f)).output.startswith("已导入 0 个, 2 个已存在")
        f.write_text("[]\n")  # emptied: both now work from the database
        eventually(lambda: _status(c, plain, "/ingest/stats") == 200 and _status(c, hashed) == 200
                   and scalar(db, "SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL") == 2,
                   timeout=10, what="imported tokens used from the database")
    listed = cli("tokens", "list", "--dsn", db, "--config", str(_config(tmp_path, f)))
    assert "boot" in listed.output and "rev" in listed.output and plain not in listed.output
    assert "plus 0 in the tokens file" in listed.output


def _config(folder: Path, tokens_file: Path) -> Path:
    cfg = folder / "cloud.yaml"
    cfg.write_text(f"api:\n  tokens_file: {tokens_file}\n")
    return cfg


def test_file_tokens_work_while_the_database_is_away(tmp_path: Path) -> None:
    f = tmp_path / "tokens.yaml"
    f.write_text("- {name: boot, role: admin, token: break-glass-token-0123}\n")
    f.chmod(0o600)
    with _client("postgresql://postgres@127.0.0.1:1/none", db_timeout_s=1, tokens_file=str(f)) as c:
        assert _status(c, "break-glass-token-0123", "/ingest/stats") == 200
        r = c.get("/api/v1/ingest/stats", headers={"Authorization": "Bearer sfg_not-in-the-file"})
        assert r.status_code == 503 and r.json() == {"detail": "database unavailable"}
