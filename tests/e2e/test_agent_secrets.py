"""Secrets of a whole run never show: a gateway with a broker password and an encrypted key,
one with a wrong password, the ingest with its own password, an API token used — then every log
(agents, ingest, simulator, broker), every output a technician reads (`edge-agent status`,
`check`, `/metrics`, the API's answers), the dead letters and the agent's buffer file are
searched for each secret. Files that hold secrets are refused when others may read them, with
the chmod that fixes it."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.harness import BIN, Stack, stack
from tests.support import free_port, wait_port
from tests.tls.broker import TlsMosquitto
from tests.tls.fixtures import INGEST_PASSWORD, Pki

pytestmark = pytest.mark.e2e

GATEWAY, GATEWAY_PASSWORD = "gw-secret-pw", "gw-secret-Vb29-password"
WRONG_PASSWORD = "wrong-Nq71-password"
KEY_PASSWORD = "gw-key-Jc84-password"
INGEST_ENV = "SFG_TEST_INGEST_MQTT_PASSWORD"


@pytest.fixture(scope="module")
def secret_broker(pki: Pki) -> Any:
    m = TlsMosquitto(pki.ca, pki.broker, users={"cloud-ingest": INGEST_PASSWORD, GATEWAY: GATEWAY_PASSWORD})
    m.start()
    try:
        yield m
    finally:
        m.close()


def _private(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def _gateway(s: Stack, name: str, gateway: str, broker: dict[str, Any], device_port: int) -> Path:
    folder = s.tmp / name
    folder.mkdir()
    cfg = {"gateway": {"id": gateway, "enterprise": {"id": s.enterprise}},
           "broker": {"host": "localhost", "keepalive_s": 5, **broker},
           "buffer": {"path": str(folder / "edge-buffer.sqlite"), "linger_ms": 200},
           "metrics_port": free_port(),
           "devices": [{"id": "meter", "profile": "energy_meter_3ph",
                        "endpoint": f"tcp://127.0.0.1:{device_port}", "interval_ms": 200}]}
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _edge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "edge-agent"), *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_no_secret_in_any_log_output_or_file_of_a_run(
        tmp_path: Path, pg_dsn: str, uid: str, pki: Pki, secret_broker: TlsMosquitto,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INGEST_ENV, INGEST_PASSWORD)
    locked = pki.ca.issue("gw-secret-key", key_password=KEY_PASSWORD.encode())  # CN gw-secret-key
    key_pass = _private(tmp_path / "key.pass", KEY_PASSWORD)
    good_pass = _private(tmp_path / "mqtt.pass", GATEWAY_PASSWORD)
    wrong_pass = _private(tmp_path / "wrong.pass", WRONG_PASSWORD)
    port = free_port()
    outputs: list[str] = []
    api_answers: list[str] = []
    with stack(tmp_path, uid=uid, dsn=pg_dsn, broker_port=secret_broker.password_port) as s:
        s.simulator(f"energy_meter_3ph@{port}")
        cloud = s.cloud_config(host="localhost", username="cloud-ingest", password_env=INGEST_ENV,
                               tls={"ca_file": str(pki.ca.cert)})
        api_port = yaml.safe_load(cloud.read_text())["api"]["port"]
        subprocess.run([str(BIN / "cloud-ingest"), "migrate", "--config", str(cloud)], check=True,
                       capture_output=True, timeout=120)
        created = subprocess.run([str(BIN / "cloud-ingest"), "tokens", "create", "--config", str(cloud),
                                  "--role", "admin", "--quiet"], capture_output=True, text=True, timeout=60)
        token = created.stdout.strip()  # the one place a token is shown
        assert token.startswith("sfg_"), created.stderr
        ingest = s.start("cloud-ingest", [str(BIN / "cloud-ingest"), "serve", "--config", str(cloud)])
        s.wait("ingest subscribed", lambda: "subscribed to" in ingest.log.read_text())
        tls = {"ca_file": str(pki.ca.cert)}
        configs = {
            "agent-password": _gateway(s, "agent-password", GATEWAY, {
                "port": secret_broker.password_port, "tls": tls, "username": GATEWAY,
                "password_file": str(good_pass)}, port),
            "agent-key": _gateway(s, "agent-key", "gw-secret-key", {
                "port": secret_broker.mtls_port, "tls": {**tls, "cert_file": str(locked.cert),
                                                         "key_file": str(locked.key),
                                                         "key_password_file": str(key_pass)}}, port),
            "agent-wrong": _gateway(s, "agent-wrong", GATEWAY, {
                "port": secret_broker.password_port, "tls": tls, "username": GATEWAY,
                "password_file": str(wrong_pass)}, port),
        }
        agents = {name: s.start(name, [str(BIN / "edge-agent"), "run", "--config", str(cfg)])
                  for name, cfg in configs.items()}
        s.wait("both good gateways stored", lambda: s.query(
            "SELECT count(DISTINCT gateway) FROM v_samples")[0][0] == 2)
        s.wait("the wrong password refused", lambda: "代理拒绝登录 the broker at"
               in agents["agent-wrong"].log.read_text())
        # what a technician and an operator read while it runs
        for cfg in configs.values():
            for args in (("status", "--config", str(cfg)), ("status", "--json", "--config", str(cfg)),
                         ("check", "--config", str(cfg))):
                done = _edge(*args)
                outputs += [done.stdout, done.stderr]
            metrics_port = yaml.safe_load(cfg.read_text())["metrics_port"]
            wait_port("127.0.0.1", metrics_port)
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
                outputs.append(r.read().decode())
        api = f"http://127.0.0.1:{api_port}/api/v1"
        wait_port("127.0.0.1", api_port)
        for path in ("/enterprises", f"/enterprises/{s.enterprise}/latest", "/dead-letters", "/ingest/stats",
                     f"/enterprises/{s.enterprise}/gateways/status"):
            r = httpx.get(api + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert r.status_code == 200, (path, r.text)
            api_answers.append(r.text)
            outputs.append(f"{r.headers} {r.text}")
        r = httpx.get(api + "/enterprises", headers={"Authorization": f"Bearer {GATEWAY_PASSWORD}"},
                      timeout=10)
        assert r.status_code == 401
        outputs.append(f"{r.headers} {r.text}")
        for name in agents:
            assert agents[name].terminate() == 0, s.logs()
        ingest.terminate()
    for f in tmp_path.rglob("*"):  # every log, config and buffer file of the run
        if f.is_file() and f not in (key_pass, good_pass, wrong_pass) and f.suffix != ".key":
            outputs.append(f.read_bytes().decode("utf-8", errors="replace"))
    outputs.append(secret_broker.log_text())
    outputs += [str(r) for r in s.query("SELECT * FROM dead_letters")]
    everything = "\n".join(outputs)
    # the run did what it should: published, refused the wrong password naming its file, served
    assert f"broker.password_file ({wrong_pass})" in everything
    assert "配置正确 / config ok" in everything and "edge_broker_connected 1.0" in everything
    assert s.enterprise in api_answers[0] and "gw-secret-key" in api_answers[-1]
    for secret in (GATEWAY_PASSWORD, WRONG_PASSWORD, KEY_PASSWORD, INGEST_PASSWORD, token):
        assert secret not in everything, f"a secret leaked: {secret[:6]}…"


@pytest.mark.parametrize("what", ["broker.password_file", "broker.tls.key_file",
                                  "broker.tls.key_password_file"])
def test_a_secret_file_others_may_read_is_refused_with_the_chmod(tmp_path: Path, pki: Pki, what: str) -> None:
    key = pki.ca.issue(f"gw-mode-{what.rsplit('.', 1)[-1]}", key_password=KEY_PASSWORD.encode())
    files = {"broker.password_file": _private(tmp_path / "mqtt.pass", GATEWAY_PASSWORD),
             "broker.tls.key_file": key.key,
             "broker.tls.key_password_file": _private(tmp_path / "key.pass", KEY_PASSWORD)}
    files[what].chmod(0o644)
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(yaml.safe_dump({
        "gateway": {"id": "gw-mode", "enterprise": {"id": "ent-mode"}},
        "broker": {"host": "localhost", "port": free_port(), "username": "gw-mode",
                   "password_file": str(files["broker.password_file"]),
                   "tls": {"ca_file": str(pki.ca.cert), "cert_file": str(key.cert), "key_file": str(key.key),
                           "key_password_file": str(files["broker.tls.key_password_file"])}},
        "buffer": {"path": str(tmp_path / "edge-buffer.sqlite")},
        "devices": [{"id": "m", "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{free_port()}"}]}))
    done = _edge("check", "--config", str(cfg))
    text = done.stdout + done.stderr
    assert done.returncode != 0 and f"chmod 600 {files[what]}" in text, text
    assert GATEWAY_PASSWORD not in text and KEY_PASSWORD not in text
