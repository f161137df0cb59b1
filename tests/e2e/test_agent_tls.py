"""The edge agent over MQTT with TLS, as separate processes: Modbus simulator → edge-agent →
a TLS Mosquitto of the test's own (per-client certificates, the ACL of examples/mosquitto/) →
cloud-ingest over mutual TLS → PostgreSQL.

- a gateway publishes over mutual TLS, another with a password over TLS, end to end;
- a gateway cannot publish as another: the broker's ACL drops it, the cloud stores nothing;
- a broker certificate from another CA, a host name the certificate does not name, and an
  expired certificate of the gateway's own each give an error naming the file and the fix,
  while the agent keeps reading into its buffer; after the fix everything is delivered, once.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.buffer import DiskBuffer
from tests.e2e.harness import BIN, Proc, Stack, stack
from tests.support import free_port
from tests.tls.broker import TlsMosquitto
from tests.tls.fixtures import INGEST_PASSWORD, Pki
from tests.tls.pki import Issued

pytestmark = pytest.mark.e2e

PASSWORD_GATEWAY, GATEWAY_PASSWORD = "gw-tls-pw", "gw-tls-pw-Rt63-secret"


@pytest.fixture(scope="module")
def agent_broker(pki: Pki) -> Iterator[TlsMosquitto]:
    m = TlsMosquitto(pki.ca, pki.broker,
                     users={"cloud-ingest": INGEST_PASSWORD, PASSWORD_GATEWAY: GATEWAY_PASSWORD})
    m.start()
    try:
        yield m
    finally:
        m.close()


def _tls(pki: Pki, cert: Issued | None, *, ca: Path | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"ca_file": str(ca or pki.ca.cert)}
    if cert is not None:
        out |= {"cert_file": str(cert.cert), "key_file": str(cert.key)}
    return out


def _device(port: int) -> list[dict[str, object]]:
    return [{"id": "tls-meter", "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{port}",
             "interval_ms": 200}]


def _agent(s: Stack, name: str, gateway: str, broker: dict[str, Any], *, device_port: int) -> Proc:
    """An agent process of its own folder (config, buffer, log), as gateway ``gateway``."""
    folder = s.tmp / name
    folder.mkdir(exist_ok=True)
    s.gateway = gateway
    cfg = s.gateway_config(_device(device_port), broker={"keepalive_s": 5, **broker},
                           buffer={"path": str(folder / "edge-buffer.sqlite"), "linger_ms": 200})
    shutil.move(cfg, folder / "gateway.yaml")
    return s.start(name, [str(BIN / "edge-agent"), "run", "--config", str(folder / "gateway.yaml")])


def _buffer(folder: Path) -> tuple[int, int, int]:
    """(samples read, samples published, samples still in the buffer) of an agent's buffer."""
    buf = DiskBuffer(folder / "edge-buffer.sqlite", max_bytes=1 << 30)
    try:
        c = buf.counters().devices.get("tls-meter")
        return (c.read if c else 0, c.published if c else 0, buf.backlog_samples())
    finally:
        buf.close()


def _stored(s: Stack, gateway: str) -> int:
    return int(s.query("SELECT count(*) FROM v_samples WHERE gateway = %s", gateway)[0][0])


def _ingest(s: Stack, pki: Pki, broker: TlsMosquitto) -> Proc:
    return s.ingest(s.cloud_config(host="localhost", port=broker.mtls_port, tls=_tls(pki, pki.ingest)))


def test_gateways_publish_over_tls_and_cannot_speak_for_another(
        tmp_path: Path, pg_dsn: str, uid: str, pki: Pki, agent_broker: TlsMosquitto) -> None:
    honest, impostor = pki.ca.issue("gw-tls-1"), pki.ca.issue("gw-tls-evil")
    password_file = tmp_path / "mqtt.pass"
    password_file.write_text(GATEWAY_PASSWORD + "\n")
    password_file.chmod(0o600)
    port = free_port()
    with stack(tmp_path, uid=uid, dsn=pg_dsn, broker_port=agent_broker.mtls_port) as s:
        s.simulator(f"energy_meter_3ph@{port}")
        _ingest(s, pki, agent_broker)
        mtls = {"host": "localhost", "port": agent_broker.mtls_port}
        _agent(s, "agent-mtls", "gw-tls-1", {**mtls, "tls": _tls(pki, honest)}, device_port=port)
        _agent(s, "agent-password", PASSWORD_GATEWAY,
               {"host": "localhost", "port": agent_broker.password_port, "tls": _tls(pki, None),
                "username": PASSWORD_GATEWAY, "password_file": str(password_file)}, device_port=port)
        # gw-tls-evil's own certificate, but it says it is gw-tls-victim
        _agent(s, "agent-impostor", "gw-tls-victim", {**mtls, "tls": _tls(pki, impostor)}, device_port=port)
        s.wait("both honest gateways stored", lambda: _stored(s, "gw-tls-1") > 0
               and _stored(s, PASSWORD_GATEWAY) > 0)
        for name, its_port in (("agent-mtls", agent_broker.mtls_port),
                               ("agent-password", agent_broker.password_port)):
            done = subprocess.run([str(BIN / "edge-agent"), "check", "--config",
                                   str(tmp_path / name / "gateway.yaml")],
                                  capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
            assert f"ok  localhost:{its_port}" in done.stdout, done.stdout
        # the broker acknowledges what its ACL drops (MQTT 3.1.1): the impostor thinks it published
        s.wait("the impostor published", lambda: _buffer(tmp_path / "agent-impostor")[1] >= 20)
        # everything the honest gateway published by now has reached the database, so the
        # impostor's batches of the same time would have too, had the broker passed them
        published = _buffer(tmp_path / "agent-mtls")[1]
        s.wait("the honest gateway's batches of the same time stored",
               lambda: _stored(s, "gw-tls-1") >= published)
        for table, column in (("gateways", "code"), ("dead_letters", "gateway")):
            assert s.query(f"SELECT count(*) FROM {table} WHERE {column} IN ('gw-tls-victim', 'gw-tls-evil')"
                           )[0][0] == 0, table
        assert _stored(s, "gw-tls-victim") == 0


def _error_then_fix(s: Stack, folder: Path, agent: Proc, *, expect: list[str]) -> int:
    """Wait for the agent's error (every part of ``expect`` in its log) and for its buffer to
    grow meanwhile; returns the samples buffered."""
    s.wait(f"the agent says {expect[0]}", lambda: all(e in agent.log.read_text() for e in expect))
    # `edge-agent check` says the same, and fails on it
    done = subprocess.run([str(BIN / "edge-agent"), "check", "--config", str(folder / "gateway.yaml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "broker check failed" in done.stderr, done.stdout + done.stderr
    broker_line = next(line for line in done.stdout.splitlines() if line.split()[:1] == ["broker"])
    assert "broker 代理" in broker_line and " FAIL " in broker_line
    assert all(e in broker_line for e in expect[:-1]), broker_line
    first = _buffer(folder)[2]
    s.wait("the agent keeps buffering", lambda: _buffer(folder)[2] > first + 10)
    read, published, pending = _buffer(folder)
    assert published == 0 and pending == read
    return pending


def test_tls_errors_name_the_file_and_the_fix_while_the_agent_buffers(
        tmp_path: Path, pg_dsn: str, uid: str, pki: Pki, agent_broker: TlsMosquitto) -> None:
    cert = pki.ca.issue("gw-tls-2")
    expired = pki.ca.issue("gw-tls-2-old", common_name="gw-tls-2", expired=True)
    port = free_port()
    folder = tmp_path / "agent"
    with stack(tmp_path, uid=uid, dsn=pg_dsn, broker_port=agent_broker.mtls_port) as s:
        s.simulator(f"energy_meter_3ph@{port}")
        _ingest(s, pki, agent_broker)
        good = {"host": "localhost", "port": agent_broker.mtls_port}

        # 1. the broker's certificate is not from the CA the gateway trusts
        agent = _agent(s, "agent", "gw-tls-2", {**good, "tls": _tls(pki, cert, ca=pki.other_ca.cert)},
                       device_port=port)
        _error_then_fix(s, folder, agent, expect=[
            "服务器证书不受信任 (broker certificate not trusted)",
            f"broker.tls.ca_file ({pki.other_ca.cert})",
            "set broker.tls.ca_file to the CA certificate", "the agent keeps buffering"])
        assert agent.terminate() == 0, s.logs()

        # 2. the broker is reached by a name its certificate does not list
        agent = _agent(s, "agent", "gw-tls-2", {**good, "host": "127.0.0.1", "tls": _tls(pki, cert)},
                       device_port=port)
        _error_then_fix(s, folder, agent, expect=[
            "服务器证书与主机名不符 (host name mismatch)", "it names localhost",
            "connect with one of those names (set broker.host)", "the agent keeps buffering"])
        assert agent.terminate() == 0, s.logs()

        # 3. the gateway's own certificate expired: fixed by replacing the files, no restart
        live = Issued(folder / "gw.crt", folder / "gw.key")
        for src, dst in ((expired.cert, live.cert), (expired.key, live.key)):
            shutil.copy(src, dst)
        live.key.chmod(0o600)
        agent = _agent(s, "agent", "gw-tls-2", {**good, "tls": _tls(pki, live)}, device_port=port)
        _error_then_fix(s, folder, agent, expect=[
            "证书已过期 (certificate expired)", f"broker.tls.cert_file: {live.cert}",
            "issue a new certificate and key and replace the files", "the agent keeps buffering"])
        for src, dst in ((cert.cert, live.cert), (cert.key, live.key)):
            shutil.copy(src, dst)
        s.wait("the backlog delivered", lambda: _buffer(folder)[2] == 0 and _buffer(folder)[1] > 0,
               timeout=90)
        assert agent.terminate() == 0, s.logs()
        read, published, pending = _buffer(folder)
        assert read == published and pending == 0
        s.wait("every sample read stored", lambda: _stored(s, "gw-tls-2") >= read)
        assert _stored(s, "gw-tls-2") == read
        assert s.query("SELECT count(*) - count(DISTINCT (tag, ts)) FROM v_samples WHERE gateway = %s",
                       "gw-tls-2")[0][0] == 0
