"""`cloud-ingest evidence build / verify` and `keys` against the real database, and the API's
package routes: the chain and log are append-only (the triggers refuse UPDATE, DELETE and
TRUNCATE), a window built twice gets a new sequence, bad input gets a message naming the fix.
The figures come from the documented fixture until the real computation lands (one call)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cloud_ingest import migrate
from cloud_ingest.api.app import create_app
from cloud_ingest.api.auth import TokenEntry, TokenStore
from cloud_ingest.attest import source
from cloud_ingest.attest import verify_package as v
from cloud_ingest.cli import main
from cloud_ingest.config import load_config
from tests.cloud_ingest.attest.figures_fixture import make_figures

pytestmark = pytest.mark.integration
ADMIN, ENT_A, ENT_B = "admin-token-0123456789", "ent-a-token-0123456789", "ent-b-token-0123456789"


def fake_figures(
    conn: psycopg.Connection[Any], enterprise: str, start: datetime, end: datetime
) -> dict[str, Any]:
    days = (end - start).total_seconds() / 86400
    if enterprise == "ent-empty":
        return make_figures(enterprise=enterprise, devices=0, not_networked=0, start=start, days=days)
    return make_figures(enterprise=enterprise, devices=5, tags=2, start=start, days=days)


@pytest.fixture
def env(pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    migrate.migrate(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for code in ("ent-a", "ent-b", "ent-empty"):
            conn.execute(
                "INSERT INTO enterprises (code, name, industry, district) VALUES (%s, %s, %s, %s)",
                (code, f"企业 {code}", "食品加工", "新城区"),
            )
    cfg = tmp_path / "cloud.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "database": {"dsn": pg_dsn},
                "signing": {"key_file": str(tmp_path / "keys" / "signing.key"), "log_name": "sfg.test"},
            }
        )
    )
    monkeypatch.setattr(source, "figures_from_database", fake_figures)
    monkeypatch.delenv("SFG_EVIDENCE_KEY_FILE", raising=False)
    yield {"dsn": pg_dsn, "cfg": cfg, "tmp": tmp_path, "key": tmp_path / "keys" / "signing.key"}


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def build(env: dict[str, Any], out: str, *extra: str, ent: str = "ent-a") -> Any:
    return cli(
        "evidence",
        "build",
        "--config",
        str(env["cfg"]),
        "--enterprise",
        ent,
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-03",
        "--out",
        str(env["tmp"] / out),
        *extra,
    )


def test_keys_init_show_rotate_and_unsafe_files(env: dict[str, Any]) -> None:
    r = cli("keys", "show", "--config", str(env["cfg"]))
    assert r.exit_code == 1 and "cloud-ingest keys init" in r.output
    r = cli("keys", "init", "--config", str(env["cfg"]))
    assert r.exit_code == 0, r.output
    assert env["key"].stat().st_mode & 0o777 == 0o600
    assert cli("keys", "init", "--config", str(env["cfg"])).exit_code == 1  # never overwritten
    env["key"].chmod(0o644)
    r = cli("keys", "show", "--config", str(env["cfg"]))
    assert r.exit_code == 1 and f"chmod 600 {env['key']}" in r.output
    env["key"].chmod(0o600)
    r = cli("keys", "rotate", "--config", str(env["cfg"]))
    assert r.exit_code == 0, r.output
    r = cli("keys", "show", "--config", str(env["cfg"]))
    assert r.output.count("BEGIN PUBLIC KEY") == 2 and "轮换记录 rotations: 1" in r.output


def test_build_verify_rebuild_and_the_append_only_tables(env: dict[str, Any]) -> None:
    r = build(env, "p1")
    assert r.exit_code == 1 and "cloud-ingest keys init" in r.output  # no key yet
    assert not (env["tmp"] / "p1").exists()
    assert cli("keys", "init", "--config", str(env["cfg"])).exit_code == 0
    r = build(env, "p1")
    assert r.exit_code == 0, r.output
    assert "序号 sequence 1" in r.output
    r = cli("evidence", "verify", str(env["tmp"] / "p1"))
    assert r.exit_code == 0 and "校验通过 VERIFIED" in r.output
    r = build(env, "p1")
    assert r.exit_code == 2 and "--force" in r.output
    r = build(env, "p2")  # the same window again: a new package, never an overwrite
    assert r.exit_code == 0 and "序号 sequence 2" in r.output
    r = cli(
        "evidence",
        "verify",
        str(env["tmp"] / "p2"),
        "--previous",
        str(env["tmp"] / "p1"),
        "--checkpoint",
        str(env["tmp"] / "p1" / "log" / "checkpoint.txt"),
        "--key",
        str(env["tmp"] / "p1" / "keys" / "signing-key.pub"),
    )
    assert r.exit_code == 0, r.output
    assert "the key you gave (--key)" in r.output
    (env["tmp"] / "p2" / "data" / "gaps.csv").write_bytes(b"tampered")
    r = cli("evidence", "verify", str(env["tmp"] / "p2"))
    assert r.exit_code == 1 and "data/gaps.csv: 文件内容与签名记录的摘要不符" in r.output
    assert "sha256 differs from the signed digest" in r.output
    r = build(env, "p2", "--force")
    assert r.exit_code == 0 and "序号 sequence 3" in r.output
    assert cli("evidence", "verify", str(env["tmp"] / "p2")).exit_code == 0
    with psycopg.connect(env["dsn"], autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM evidence_log_leaves").fetchone() == (3,)
        for sql in (
            "UPDATE evidence_packages SET key_id = 'x'",
            "DELETE FROM evidence_packages WHERE sequence = 2",
            "TRUNCATE evidence_log_leaves",
            "DELETE FROM evidence_checkpoints",
            "UPDATE evidence_log_leaves SET leaf_hash = leaf_hash",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(sql)


def test_a_log_altered_behind_the_triggers_back_is_not_extended(env: dict[str, Any]) -> None:
    cli("keys", "init", "--config", str(env["cfg"]))
    assert build(env, "p1").exit_code == 0
    assert build(env, "p2").exit_code == 0
    with psycopg.connect(env["dsn"], autocommit=True) as conn:
        conn.execute("ALTER TABLE evidence_log_leaves DISABLE TRIGGER USER")
        conn.execute(
            "UPDATE evidence_log_leaves SET entry = convert_to(replace(convert_from(entry, 'UTF8'),"
            " '2026-01-01', '2025-01-01'), 'UTF8') WHERE sequence = 1"
        )
    r = build(env, "p3")
    assert r.exit_code == 1 and "no longer hashes to its last checkpoint" in r.output


def test_bad_input(env: dict[str, Any]) -> None:
    cli("keys", "init", "--config", str(env["cfg"]))
    r = build(env, "x", ent="nope")
    assert r.exit_code == 1 and "unknown enterprise 'nope'" in r.output
    r = cli(
        "evidence",
        "build",
        "--config",
        str(env["cfg"]),
        "--enterprise",
        "ent-a",
        "--from",
        "2026-01-03",
        "--to",
        "2026-01-01",
        "--out",
        str(env["tmp"] / "y"),
    )
    assert r.exit_code == 2 and "must be later than --from" in r.output
    r = cli(
        "evidence",
        "build",
        "--config",
        str(env["cfg"]),
        "--enterprise",
        "ent-a",
        "--from",
        "yesterday",
        "--to",
        "2026-01-01",
        "--out",
        str(env["tmp"] / "y"),
    )
    assert r.exit_code == 2 and "ISO 8601" in r.output
    (env["tmp"] / "notpkg").mkdir()
    r = cli("evidence", "verify", str(env["tmp"] / "notpkg"))
    assert r.exit_code == 2 and "not an evidence package" in r.output


def test_an_empty_window_gives_a_package_that_says_no_data(env: dict[str, Any]) -> None:
    cli("keys", "init", "--config", str(env["cfg"]))
    r = build(env, "empty", ent="ent-empty")
    assert r.exit_code == 0, r.output
    html = (env["tmp"] / "empty" / "report" / "report.html").read_text(encoding="utf-8")
    assert "本时段没有收到任何数据" in html and "No data was received in this window" in html
    assert "not computable: no inventory" in html
    pred = json.loads(v.b64decode(json.loads((env["tmp"] / "empty" / v.ENVELOPE).read_bytes())["payload"]))
    assert pred["predicate"]["summary"]["no_data"] is True
    assert cli("evidence", "verify", str(env["tmp"] / "empty")).exit_code == 0


def test_api_lists_and_downloads_packages_with_roles(env: dict[str, Any]) -> None:
    cli("keys", "init", "--config", str(env["cfg"]))
    assert build(env, "p1").exit_code == 0
    assert build(env, "p2").exit_code == 0
    tokens = TokenStore(
        [
            TokenEntry(name="ops", role="admin", token=ADMIN),
            TokenEntry(name="a", role="enterprise", enterprise="ent-a", token=ENT_A),
            TokenEntry(name="b", role="enterprise", enterprise="ent-b", token=ENT_B),
        ]
    )
    with TestClient(create_app(load_config(env["cfg"]), tokens=tokens)) as client:

        def get(path: str, token: str) -> Any:
            return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})

        keys = get("/evidence/keys", ENT_B).json()
        assert len(keys["keys"]) == 1 and keys["keys"][0]["valid_until"] is None
        rows = get("/enterprises/ent-a/evidence/packages", ENT_A).json()
        assert [r["sequence"] for r in rows] == [1, 2]
        assert rows[1]["previous_envelope_sha256"] == rows[0]["envelope_sha256"]
        assert get("/enterprises/ent-a/evidence/packages", ENT_B).status_code == 404
        assert get("/enterprises/ent-a/evidence/packages/1", ENT_B).status_code == 404
        assert get("/enterprises/nope/evidence/packages", ADMIN).status_code == 404
        assert get("/enterprises/ent-a/evidence/packages/9", ADMIN).status_code == 404
        r = get("/enterprises/ent-a/evidence/packages/2", ENT_A)
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            files = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}
        assert files == {
            p.relative_to(env["tmp"] / "p2").as_posix(): p.read_bytes()
            for p in (env["tmp"] / "p2").rglob("*")
            if p.is_file()
        }
        assert v.verify_package(files).failed == []
        assert hashlib_hex(files[v.ENVELOPE]) == rows[1]["envelope_sha256"]


def hashlib_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
