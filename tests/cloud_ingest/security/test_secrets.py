"""Secrets: never in logs, outputs, dead letters or API answers of a real cloud run, and files
holding them refused when others may read them, with the chmod that fixes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from cloud_ingest import migrate
from cloud_ingest.config import ConfigError, load_config
from tests.cloud_ingest.helpers import birth, data, encode, scalar
from tests.cloud_ingest.security.test_mqtt_tls import _gateway_ctx, tls_publisher
from tests.support import eventually, free_port, stop_process, wait_port
from tests.tls.broker import TlsMosquitto
from tests.tls.fixtures import INGEST_PASSWORD, Pki

pytestmark = pytest.mark.integration

CLOUD = str(Path(sys.executable).parent / "cloud-ingest")
DB_PASSWORD = "db-pw-Hx93-secret"
KEY_PASSWORD = "key-pw-Lm27-secret"
FILE_TOKEN = "file-token-Qp55-secret-0123"


def test_config_with_a_password_in_the_dsn_must_be_private(tmp_path: Path) -> None:
    f = tmp_path / "cloud.yaml"
    f.write_text(f"database:\n  dsn: postgresql://ingest:{DB_PASSWORD}@db.example/shopfloor\n")
    f.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert f"chmod 600 {f}" in str(info.value) and DB_PASSWORD not in str(info.value)
    f.chmod(0o600)
    cfg = load_config(f)
    assert DB_PASSWORD in cfg.dsn()  # what psycopg gets
    for shown in (repr(cfg), str(cfg.model_dump()), cfg.model_dump_json()):  # what a person may see
        assert DB_PASSWORD not in shown and "ingest:********@db.example" in shown


def test_database_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "db.pass"
    secret.write_text(DB_PASSWORD + "\n")
    secret.chmod(0o640)
    f = tmp_path / "cloud.yaml"
    f.write_text(f"database:\n  dsn: postgresql://ingest@db.example/shopfloor\n  password_file: {secret}\n")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert f"chmod 600 {secret}" in str(info.value) and "database.password_file" in str(info.value)
    secret.chmod(0o600)
    assert f"password={DB_PASSWORD}" in load_config(f).dsn()
    f.write_text("database:\n  password_env: SFG_TEST_NO_SUCH_VARIABLE\n")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert "environment variable SFG_TEST_NO_SUCH_VARIABLE is not set" in str(info.value)


def test_tokens_file_with_plain_tokens_must_be_private(tmp_path: Path) -> None:
    f = tmp_path / "tokens.yaml"
    f.write_text(f"- {{name: a, role: admin, token: {FILE_TOKEN}}}\n")
    f.chmod(0o604)
    cfg = tmp_path / "cloud.yaml"
    cfg.write_text(f"api:\n  tokens_file: {f}\n")
    out = subprocess.run([CLOUD, "tokens", "import", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and f"chmod 600 {f}" in out.stderr
    assert FILE_TOKEN not in out.stderr + out.stdout
    f.write_text("- {name: a, role: admin, token: short}\n")
    f.chmod(0o600)
    out = subprocess.run([CLOUD, "tokens", "import", "--config", str(cfg)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "[0].token: String should have at least 16 characters" in out.stderr
    assert "short" not in out.stderr.replace("String should have", "")


def test_no_secret_in_any_output_of_a_cloud_run(pg_dsn: str, pki: Pki, tls_broker: TlsMosquitto,
                                                 tmp_path: Path) -> None:
    migrate.migrate(pg_dsn)
    locked = pki.ca.issue("cloud-ingest-locked", common_name="cloud-ingest",
                          key_password=KEY_PASSWORD.encode())
    key_pass = tmp_path / "key.pass"
    key_pass.write_text(KEY_PASSWORD)
    key_pass.chmod(0o600)
    tokens_file = tmp_path / "tokens.yaml"
    tokens_file.write_text(f"- {{name: boot, role: admin, token: {FILE_TOKEN}}}\n")
    tokens_file.chmod(0o600)
    port = free_port()
    cfg = tmp_path / "cloud.yaml"
    cfg.write_text(
        f"mqtt:\n  host: localhost\n  port: {tls_broker.mtls_port}\n  persistent_session: false\n"
        f"  username: cloud-ingest\n  password_env: SFG_TEST_MQTT_PASSWORD\n"
        f"  tls:\n    ca_file: {pki.ca.cert}\n    cert_file: {locked.cert}\n    key_file: {locked.key}\n"
        f"    key_password_file: {key_pass}\n"
        f"api:\n  port: {port}\n  tokens_file: {tokens_file}\n  auth_failures_max: 3\n")
    user, _, rest = pg_dsn.partition("://")[2].partition("@")
    env = {**os.environ, "SFG_TEST_MQTT_PASSWORD": INGEST_PASSWORD,
           "SFG_DATABASE_URL": f"postgresql://{user}:{DB_PASSWORD}@{rest}"}  # trust: accepted, unused
    outputs: list[str] = []

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([CLOUD, *args, "--config", str(cfg)], env=env, capture_output=True,
                              text=True, timeout=120)
        outputs.extend([done.stdout, done.stderr])
        return done

    created = subprocess.run([CLOUD, "tokens", "create", "--config", str(cfg), "--role", "admin",
                              "--quiet"], env=env, capture_output=True, text=True, timeout=60)
    db_token = created.stdout.strip()  # the one place a token may be shown
    outputs.append(created.stderr)
    assert db_token.startswith("sfg_")
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        serve = subprocess.Popen([CLOUD, "-v", "serve", "--config", str(cfg)], env=env, stdout=sink,
                                 stderr=subprocess.STDOUT)
    try:
        wait_port("127.0.0.1", port, timeout=60)
        api = f"http://127.0.0.1:{port}/api/v1"
        with tls_publisher(tls_broker.mtls_port, _gateway_ctx(pki, pki.gateway)) as gw:
            gw.publish(*encode(birth("ent-secret", "gw-a")))
            gw.publish(*encode(data("ent-secret", "gw-a", 1)))
            gw.publish("shopfloor/v1/ent-secret/gw-a/data", b'{"broken": ')
            gw.publish(*encode(data("ent-elsewhere", "gw-a", 2)))
            eventually(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 2
                       and scalar(pg_dsn, "SELECT count(*) FROM batches") == 1, timeout=60,
                       what="stored and rejected")
        answers = []
        for token in (db_token, FILE_TOKEN, "sfg_" + "x" * 43, DB_PASSWORD, INGEST_PASSWORD):
            for path in ("/enterprises", "/dead-letters", "/ingest/stats", "/enterprises/ent-secret/latest"):
                r = httpx.get(api + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                answers.append(f"{r.status_code} {r.headers} {r.text}")
        assert answers[0].startswith("200") and answers[-1].startswith("429")
        outputs += answers
        for args in (("status",), ("tokens", "list"), ("gateways", "list"), ("gateways", "acl")):
            assert run(*args).returncode == 0
    finally:
        assert stop_process(serve, sig=signal.SIGTERM, timeout=30) == 0
    outputs.append(log.read_text())
    with psycopg.connect(pg_dsn) as conn:
        outputs += [str(r) for r in conn.execute("SELECT * FROM dead_letters").fetchall()]
        outputs += [str(r) for r in conn.execute("SELECT * FROM api_tokens").fetchall()]
    everything = "\n".join(outputs)
    # the run did what it should: stored, rejected, logged, listed
    assert "rejected (identity_mismatch)" in everything and "bad_json" in everything
    assert "有效 active" in everything and "user gw-a" in everything
    for secret in (DB_PASSWORD, INGEST_PASSWORD, KEY_PASSWORD, FILE_TOKEN, db_token):
        assert secret not in everything, f"a secret leaked: {secret[:6]}…"
