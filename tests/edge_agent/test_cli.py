"""The technician's commands as processes: check, discover and trust-cert, against the real
simulator and real certificate files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from collectors.opcua.pki import ensure_own_certificate, is_trusted, load_certificate
from device_profiles.loader import load_profile
from tests.support import free_port, stop_process, wait_port

BIN = Path(sys.executable).parent


def edge_agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "edge-agent"), *args], capture_output=True, text=True,
                          timeout=120)


def test_check_reads_each_device_and_names_what_fails(tmp_path: Path) -> None:
    port = free_port()
    sim = subprocess.Popen([str(BIN / "device-sim"), "modbus", "--profile", "energy_meter_3ph",
                            "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port("127.0.0.1", port, timeout=20)
        cfg = {
            "gateway": {"id": "gw-check", "enterprise": {"id": "ent-check"}},
            "devices": [
                {"id": "meter-ok", "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{port}"},
                {"id": "meter-gone", "profile": "energy_meter_3ph", "timeout_s": 0.5,
                 "endpoint": f"tcp://127.0.0.1:{free_port()}"},
                {"id": "meter-typo", "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{port}",
                 "options": {"max_gap_registerz": 4}},
            ],
        }
        path = tmp_path / "gw.yaml"
        path.write_text(yaml.safe_dump(cfg))
        out = edge_agent("check", "--config", str(path))
    finally:
        stop_process(sim)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:] if line.strip()}
    assert " ok " in lines["meter-ok"] and "16/16 tags good" in lines["meter-ok"]
    assert "FAIL" in lines["meter-gone"]
    assert "FAIL" in lines["meter-typo"] and "max_gap_registerz" in lines["meter-typo"]


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
