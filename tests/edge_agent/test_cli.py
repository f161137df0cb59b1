"""The technician's commands as processes: check, discover and trust-cert, against the real
simulator and real certificate files."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from collectors.opcua.pki import ensure_own_certificate, is_trusted, load_certificate, make_self_signed
from device_profiles.loader import load_profile, resolve_profile
from device_profiles.opcua import OpcUaProfile
from simulators.opcua.server import OpcUaSimulator
from tests.support import free_port, stop_process, wait_port

BIN = Path(sys.executable).parent


def edge_agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "edge-agent"), *args], capture_output=True, text=True,
                          timeout=120, env=None if env is None else {**os.environ, **env})


@contextmanager
def opcua_sim_in_a_thread(profile: OpcUaProfile, **options: Any) -> Iterator[OpcUaSimulator]:
    """The OPC UA simulator on its own event loop in a thread, for an edge-agent process to
    reach: in process it takes user certificates and can refuse anonymous users, which
    `device-sim opcua` does not offer."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="opcua-sim", daemon=True)
    thread.start()
    sim = OpcUaSimulator(profile, port=free_port(), **options)
    try:
        asyncio.run_coroutine_threadsafe(sim.start(), loop).result(60)
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        sim.close()


def _control(port: int, line: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(line.encode() + b"\n")
        return conn.makefile().readline().strip()


def test_check_reads_each_device_and_names_what_fails(tmp_path: Path) -> None:
    port, gateway_port, control = free_port(), free_port(), free_port()
    sims = [
        subprocess.Popen([str(BIN / "device-sim"), "modbus", "--profile", "energy_meter_3ph",
                          "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([str(BIN / "device-sim"), "modbus", "--profile", "energy_meter_3ph",
                          "--port", str(gateway_port), "--control-port", str(control)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    (tmp_path / "far.yaml").write_text(yaml.safe_dump({
        "profile": "far_registers", "protocol": "modbus",
        "tags": [{"name": "far_a", "address": 60000}, {"name": "far_b", "address": 60010}]}))
    try:
        wait_port("127.0.0.1", port, timeout=20)
        wait_port("127.0.0.1", gateway_port, timeout=20)
        wait_port("127.0.0.1", control, timeout=20)
        # a Modbus TCP gateway whose path to its devices is down answers every read with 0x0A
        assert _control(control, f"exception {gateway_port} 10").startswith("ok")
        cfg = {
            "gateway": {"id": "gw-check", "enterprise": {"id": "ent-check"}},
            "devices": [
                {"id": "meter-ok", "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{port}"},
                {"id": "meter-gone", "profile": "energy_meter_3ph", "timeout_s": 0.5,
                 "endpoint": f"tcp://127.0.0.1:{free_port()}"},
                {"id": "meter-typo", "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{port}",
                 "options": {"max_gap_registerz": 4}},
                # unit 7 is not behind this "gateway": it answers exception 0x0B for it
                {"id": "meter-unit7", "profile": "energy_meter_3ph", "unit_id": 7,
                 "endpoint": f"tcp://127.0.0.1:{port}"},
                {"id": "meter-no-path", "profile": "energy_meter_3ph",
                 "endpoint": f"tcp://127.0.0.1:{gateway_port}"},
                # reachable, but every tag refused: nothing to collect
                {"id": "meter-wrong-map", "profile": "far.yaml", "endpoint": f"tcp://127.0.0.1:{port}"},
            ],
        }
        path = tmp_path / "gw.yaml"
        path.write_text(yaml.safe_dump(cfg))
        out = edge_agent("check", "--config", str(path))
    finally:
        for sim in sims:
            stop_process(sim)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:] if line.strip()}
    assert " ok " in lines["meter-ok"] and "16/16 个标签正常 / tags good" in lines["meter-ok"]
    assert "FAIL 设备不可达 / unreachable" in lines["meter-gone"]
    assert "FAIL 配置错误 / invalid config" in lines["meter-typo"]
    assert "max_gap_registerz" in lines["meter-typo"]
    assert "FAIL 设备不可达 / unreachable" in lines["meter-unit7"], out.stdout
    assert "(unit 7)" in lines["meter-unit7"]
    assert "exception 11 (gateway target device failed to respond)" in lines["meter-unit7"]
    assert "FAIL 设备不可达 / unreachable" in lines["meter-no-path"], out.stdout
    assert "exception 10 (gateway path unavailable)" in lines["meter-no-path"]
    assert "FAIL 没有可读的标签 / no tag could be read: 0/2" in lines["meter-wrong-map"], out.stdout
    assert "illegal data address" in lines["far_a:"]
    failed = "meter-gone, meter-typo, meter-unit7, meter-no-path, meter-wrong-map"
    assert out.stderr.startswith("error: 6 台设备中 5 台检查未通过"), out.stderr
    assert f"5 of 6 devices failed the check (see above): {failed}" in out.stderr


def test_discover_modbus_writes_a_profile_that_loads(tmp_path: Path) -> None:
    port = free_port()
    sim = subprocess.Popen([str(BIN / "device-sim"), "modbus", "--profile", "energy_meter_3ph",
                            "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port, timeout=20)
        out_file = tmp_path / "found.yaml"
        out = edge_agent("discover", f"modbus://127.0.0.1:{port}?unit=1", "--table", "input",
                         "--count", "80", "--out", str(out_file))
    finally:
        stop_process(sim)
    assert out.returncode == 0, out.stderr
    profile = load_profile(out_file)
    assert profile.protocol == "modbus" and len(profile.tags) >= 10
    assert out_file.read_text().startswith("# Profile skeleton discovered from modbus://")


def test_discover_reaches_a_secured_opcua_server_with_user_authentication(tmp_path: Path) -> None:
    # issue 16: discover had no security options; the server below offers nothing else than
    # Basic256Sha256 SignAndEncrypt and refuses anonymous users, as a locked-down PLC does
    make_self_signed(tmp_path / "user.der", tmp_path / "user.pem", application_uri="urn:test:operator",
                     common_name="operator")
    profile = resolve_profile("filling_line")
    assert isinstance(profile, OpcUaProfile)
    password_file = tmp_path / "opcua.password"
    password_file.write_text("s3cret!\n")
    password_file.chmod(0o600)
    pki = tmp_path / "pki"
    secure = ["--depth", "5", "--security-policy", "Basic256Sha256", "--security-mode", "SignAndEncrypt",
              "--pki-dir", str(pki)]
    as_user = ["--auth", "username", "--username", "operator"]
    env = {"SFG_TEST_DISCOVER_PW": "s3cret!", "SFG_TEST_WRONG_PW": "guess"}
    with opcua_sim_in_a_thread(profile, security=["Basic256Sha256_SignAndEncrypt"], anonymous=False,
                               users={"operator": "s3cret!"}, user_certs=[tmp_path / "user.der"]) as sim:
        plain = edge_agent("discover", sim.endpoint, "--depth", "5")
        untrusted = edge_agent("discover", sim.endpoint, *secure, *as_user,
                               "--password-env", "SFG_TEST_DISCOVER_PW", env=env)
        found = re.search(r"edge-agent trust-cert (\S+\.der)", untrusted.stderr)
        assert found, untrusted.stderr
        trusted = edge_agent("trust-cert", found.group(1))
        wrong = edge_agent("discover", sim.endpoint, *secure, *as_user, "--password-env", "SFG_TEST_WRONG_PW",
                           env=env)
        runs = {
            "env": edge_agent("discover", sim.endpoint, *secure, *as_user, "--password-env",
                              "SFG_TEST_DISCOVER_PW", "--out", str(tmp_path / "env.yaml"), env=env),
            "file": edge_agent("discover", sim.endpoint, *secure, *as_user, "--password-file",
                               str(password_file), "--out", str(tmp_path / "file.yaml")),
            "cert": edge_agent("discover", sim.endpoint, *secure, "--auth", "certificate", "--user-cert",
                               str(tmp_path / "user.der"), "--user-key", str(tmp_path / "user.pem"),
                               "--out", str(tmp_path / "cert.yaml")),
        }
    assert plain.returncode == 1 and "offers no endpoint with None/None" in plain.stderr, plain.stderr
    assert "Basic256Sha256/SignAndEncrypt" in plain.stderr
    assert untrusted.returncode == 1 and "is not trusted" in untrusted.stderr
    assert trusted.returncode == 0, trusted.stderr
    assert wrong.returncode == 1 and "BadUserAccessDenied" in wrong.stderr, wrong.stderr
    served = sorted((t.ref.kind, str(t.ref.identifier)) for t in profile.tags)
    for how, out in runs.items():
        assert out.returncode == 0, f"{how}: {out.stdout}{out.stderr}"
        skeleton = load_profile(tmp_path / f"{how}.yaml")
        assert isinstance(skeleton, OpcUaProfile)
        assert sorted((t.ref.kind, str(t.ref.identifier)) for t in skeleton.tags) == served, how


def test_discover_options_are_checked_before_connecting() -> None:
    url = f"opc.tcp://127.0.0.1:{free_port()}"  # nothing listens: each must fail before connecting
    half = edge_agent("discover", url, "--security-policy", "Basic256Sha256")
    assert half.returncode == 2, half.stderr
    assert "security_policy and security_mode go together" in half.stderr
    no_auth = edge_agent("discover", url, "--username", "operator", "--password-env", "X")
    assert no_auth.returncode == 2, no_auth.stderr
    assert "username and password_env given, but auth is anonymous: set auth: username" in no_auth.stderr
    bad_choice = edge_agent("discover", url, "--security-mode", "Encrypt")
    assert bad_choice.returncode == 2 and "'SignAndEncrypt'" in bad_choice.stderr, bad_choice.stderr
    bad_number = edge_agent("discover", url, "--connect-timeout-s", "0")
    assert bad_number.returncode == 2, bad_number.stderr
    assert "--connect-timeout-s: Input should be greater than 0" in bad_number.stderr
    modbus = edge_agent("discover", "modbus://127.0.0.1:502?unit=1", "--security-mode", "Sign")
    assert modbus.returncode == 2
    assert "--security-mode: 不适用于 / not an option for modbus://" in modbus.stderr
    shown = edge_agent("discover", "--help")
    assert shown.returncode == 0
    for flag in ("--security-policy [None|Basic256Sha256|Aes128_Sha256_RsaOaep]", "--security-mode",
                 "--auth [anonymous|username|certificate]", "--username", "--password-env",
                 "--password-file", "--user-cert", "--user-key", "--pki-dir"):
        assert flag in shown.stdout, flag


def test_discover_rejects_unknown_scheme() -> None:
    out = edge_agent("discover", "bacnet://10.0.0.1")
    assert out.returncode == 2 and "modbus://" in out.stderr


def test_discover_of_an_absent_server_fails_with_exit_1() -> None:
    out = edge_agent("discover", f"opc.tcp://127.0.0.1:{free_port()}", "--depth", "1")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "error: device discover: opc.tcp://127.0.0.1:" in out.stderr and "connect failed" in out.stderr


def _gateway_config(tmp_path: Path, devices: list[dict[str, object]]) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump({
        "gateway": {"id": "gw-cli", "enterprise": {"id": "ent-cli"}},
        "buffer": {"path": str(tmp_path / "buffer.sqlite")},
        "devices": devices,
    }))
    return path


def test_a_config_that_cannot_be_used_is_exit_2_and_says_why(tmp_path: Path) -> None:
    path = _gateway_config(tmp_path, [{"id": "m1", "profile": "no_such_meter", "endpoint": "tcp://h:502"}])
    out = edge_agent("check", "--config", str(path))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("error: ") and "'no_such_meter' is not in the library" in out.stderr


def test_run_without_the_broker_password_it_names_is_exit_2_and_says_which(tmp_path: Path) -> None:
    path = _gateway_config(tmp_path, [{"id": "m1", "profile": "energy_meter_3ph", "endpoint": "tcp://h:502"}])
    cfg = yaml.safe_load(path.read_text())
    cfg["broker"] = {"username": "gw", "password_env": "SFG_TEST_UNSET_PASSWORD"}
    path.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if k != "SFG_TEST_UNSET_PASSWORD"}
    out = subprocess.run([str(BIN / "edge-agent"), "run", "--config", str(path)], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr, out.stderr
    assert "SFG_TEST_UNSET_PASSWORD is not set" in out.stderr, out.stderr


def test_status_without_a_buffer_is_exit_1(tmp_path: Path) -> None:
    path = _gateway_config(tmp_path, [{"id": "m1", "profile": "energy_meter_3ph", "endpoint": "tcp://h:502"}])
    out = edge_agent("status", "--config", str(path))
    assert out.returncode == 1 and out.stderr.startswith("error: no buffer at "), out.stderr


def test_trust_cert_moves_a_rejected_server_certificate_into_the_trust_store(tmp_path: Path) -> None:
    server = ensure_own_certificate(tmp_path / "server-pki")  # stands in for a PLC's certificate
    pki = tmp_path / "pki"
    rejected = pki / "rejected" / "plc.der"
    rejected.parent.mkdir(parents=True)
    shutil.copy(server.cert, rejected)
    out = edge_agent("trust-cert", str(rejected))
    assert out.returncode == 0, out.stderr
    assert is_trusted(pki, load_certificate(server.cert))
    junk = tmp_path / "not-a-cert.der"
    junk.write_bytes(b"hello")
    bad = edge_agent("trust-cert", str(junk), "--pki-dir", str(pki))
    assert bad.returncode == 2 and "not a DER or PEM X.509 certificate" in bad.stderr
