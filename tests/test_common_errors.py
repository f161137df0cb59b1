"""The errors a user meets most, each as a person reads it: what is wrong, where, and what to do
next, in Chinese and English — from the real commands against real (or really absent) services."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cloud_ingest.db_errors import describe
from tests.support import BROKER_HOST, BROKER_PORT, free_port, stop_process, wait_port

BIN = Path(sys.executable).parent


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout)


def gateway_config(tmp_path: Path, *, broker_port: int, profile: str = "energy_meter_3ph",
                   device_port: int | None = None, username: str | None = None) -> Path:
    user = f", username: {username}, password_env: SFG_TEST_BROKER_PASSWORD" if username else ""
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "gateway: {id: gw-err, enterprise: {id: ent-err}}\n"
        f"broker: {{host: 127.0.0.1, port: {broker_port}{user}}}\n"
        f"buffer: {{path: {tmp_path / 'buffer.sqlite'}}}\n"
        "devices:\n"
        f"  - {{id: m1, profile: {profile}, endpoint: 'tcp://127.0.0.1:{device_port or free_port()}',"
        " unit_id: 1, interval_ms: 1000}\n", encoding="utf-8")
    return path


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def listening() -> Iterator[int]:
    """A port another program holds."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


# -- database -------------------------------------------------------------------------------

def test_database_down_names_it_and_says_what_to_check(closed_port: int) -> None:
    out = run("cloud-ingest", "migrate", "--dsn", f"postgresql://postgres@127.0.0.1:{closed_port}/shopfloor")
    assert out.returncode == 1
    at = f"postgres@127.0.0.1:{closed_port}/shopfloor"
    assert out.stderr.startswith(f"error: 数据库不可达 cannot reach PostgreSQL at {at}"), out.stderr
    assert "systemctl status postgresql" in out.stderr and "SFG_DATABASE_URL" in out.stderr


def test_a_database_that_does_not_exist_says_createdb() -> None:
    out = run("cloud-ingest", "status", "--dsn", "postgresql://postgres@127.0.0.1:5432/sfg_no_such_db")
    assert out.returncode == 1
    assert "数据库不存在 no database postgres@127.0.0.1:5432/sfg_no_such_db" in out.stderr, out.stderr
    assert "createdb" in out.stderr


def test_an_old_schema_says_migrate(pg_dsn: str) -> None:
    out = run("cloud-ingest", "tokens", "list", "--dsn", pg_dsn)
    assert out.returncode == 1 and "cloud-ingest migrate" in out.stderr, out.stderr


def test_a_wrong_database_password_says_where_the_password_comes_from() -> None:
    # the machine's PostgreSQL trusts local connections, so the server's own refusal is made
    # here as psycopg raises it for a refused password
    err = psycopg.OperationalError('connection failed: connection to server at "10.0.0.5", port 5432 '
                                   'failed: FATAL:  password authentication failed for user "ingest"')
    text = describe(err, "postgresql://ingest:s3cret@10.0.0.5:5432/shopfloor")
    assert text.startswith("数据库拒绝登录 ingest@10.0.0.5:5432/shopfloor refused the login (wrong password)")
    assert "database.password_file" in text and "s3cret" not in text


# -- broker ---------------------------------------------------------------------------------

def test_edge_agent_check_says_the_broker_is_down(tmp_path: Path, closed_port: int) -> None:
    out = run("edge-agent", "check", "--config", str(gateway_config(tmp_path, broker_port=closed_port)))
    assert out.returncode == 1
    assert f"FAIL 代理不可达 cannot reach the broker at 127.0.0.1:{closed_port}" in out.stdout, out.stdout
    assert "broker.host and broker.port" in out.stdout


def test_edge_agent_check_passes_the_broker_when_it_is_up(tmp_path: Path) -> None:
    wait_port(BROKER_HOST, BROKER_PORT, timeout=5)
    out = run("edge-agent", "check", "--config", str(gateway_config(tmp_path, broker_port=BROKER_PORT)))
    assert f"ok  127.0.0.1:{BROKER_PORT}" in out.stdout, out.stdout
    assert out.returncode == 1  # the device is absent: it alone fails
    assert "FAIL 设备不可达" in out.stdout and "检查设备电源、网线和地址" in out.stdout


@pytest.fixture
def password_broker() -> Iterator[int]:
    """A Mosquitto of the test's own that accepts only user 'gw' with password 'right'."""
    work = Path(tempfile.mkdtemp(prefix="sfg-mosq-pw-"))
    work.chmod(0o755)
    passwd = work / "passwd"
    subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b", "-c",
                    str(passwd), "gw", "right"], check=True, capture_output=True)
    passwd.chmod(0o644)
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n")
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port)
        yield port
    finally:
        stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


def test_a_wrong_broker_password_says_which_user_and_where_the_password_comes_from(
        tmp_path: Path, password_broker: int, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = gateway_config(tmp_path, broker_port=password_broker, username="gw")
    monkeypatch.setenv("SFG_TEST_BROKER_PASSWORD", "wrong")
    out = run("edge-agent", "check", "--config", str(cfg))
    assert out.returncode == 1
    assert f"FAIL 代理拒绝登录 the broker at 127.0.0.1:{password_broker} refused the login" in out.stdout
    assert "for user gw" in out.stdout and "broker.password_env" in out.stdout
    assert "wrong" not in out.stdout.replace("wrong password", "")
    monkeypatch.setenv("SFG_TEST_BROKER_PASSWORD", "right")
    assert f"ok  127.0.0.1:{password_broker}" in run("edge-agent", "check", "--config", str(cfg)).stdout


def test_cloud_ingest_serve_says_the_broker_is_down(pg_dsn: str, tmp_path: Path, closed_port: int) -> None:
    assert run("cloud-ingest", "migrate", "--dsn", pg_dsn).returncode == 0
    cfg = tmp_path / "cloud.yaml"
    cfg.write_text(f"mqtt: {{host: 127.0.0.1, port: {closed_port}, connect_timeout_s: 3}}\n"
                   f"api: {{port: {free_port()}}}\n")
    out = run("cloud-ingest", "serve", "--config", str(cfg), "--dsn", pg_dsn)
    assert out.returncode == 1
    assert f"error: 代理不可达 cannot reach the broker at 127.0.0.1:{closed_port}" in out.stderr, out.stderr


# -- profiles and ports ---------------------------------------------------------------------

def test_a_wrong_profile_name_lists_the_library(tmp_path: Path) -> None:
    out = run("edge-agent", "check", "--config", str(gateway_config(tmp_path, broker_port=BROKER_PORT,
                                                                   profile="energy_meter")))
    assert out.returncode == 2
    assert "profile 'energy_meter' is not in the library; known:" in out.stderr
    assert "energy_meter_3ph" in out.stderr


def test_a_port_in_use_says_choose_another_for_the_simulator(listening: int) -> None:
    out = run("device-sim", "modbus", "--profile", "energy_meter_3ph", "--port", str(listening))
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{listening}" in out.stderr
    assert "端口已被占用或不可用" in out.stderr and "--port" in out.stderr


def test_a_port_in_use_stops_cloud_ingest_serve_at_start(pg_dsn: str, tmp_path: Path, listening: int) -> None:
    assert run("cloud-ingest", "migrate", "--dsn", pg_dsn).returncode == 0
    cfg = tmp_path / "cloud.yaml"
    cfg.write_text(f"api: {{port: {listening}}}\n")
    out = run("cloud-ingest", "serve", "--config", str(cfg), "--dsn", pg_dsn)
    assert out.returncode == 1
    assert (f"error: API 端口已被占用 port {listening} on 127.0.0.1 is in use by another program"
            in out.stderr), out.stderr
    assert "api.port" in out.stderr
