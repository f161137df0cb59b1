"""``device-sim`` as a process: the protocol subcommands come from the simulator packages, and
failures follow the product's exit codes (1: cannot run, 2: bad arguments or profiles)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.opcua.collector import OpcUaCollector
from device_profiles.loader import resolve_profile
from device_profiles.opcua import OpcUaProfile
from tests.collectors.opcua.conftest import device
from tests.support import ROOT, free_port, stop_process, wait_port
from wire.sample import Quality

DEVICE_SIM = Path(sys.executable).parent / "device-sim"


def device_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DEVICE_SIM), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_taken_port_is_exit_1_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        modbus = device_sim("modbus", "--profile", "energy_meter_3ph", "--port", str(port))
        opcua = device_sim("opcua", "--profile", "filling_line", "--port", str(port))
    for out in (modbus, opcua):
        assert out.returncode == 1, out.stderr
        assert out.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}"), out.stderr


def test_an_unknown_profile_or_a_profile_of_another_protocol_is_exit_2() -> None:
    unknown = device_sim("serve", "--device", "no_such_meter@15020")
    assert unknown.returncode == 2 and "'no_such_meter' is not in the library" in unknown.stderr
    wrong = device_sim("modbus", "--profile", "filling_line", "--port", str(free_port()))
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("error: profile 'filling_line' is not a Modbus profile"), wrong.stderr


def test_help_lists_every_protocols_subcommand() -> None:
    out = device_sim("--help")
    assert out.returncode == 0
    commands = out.stdout.split("Commands:")[1].split("示例 Examples:")[0]
    listed = {line.split()[0] for line in commands.splitlines() if line.strip()}
    assert listed == {"modbus", "opcua", "profiles", "serve"}


async def test_the_opcua_subcommand_serves_a_profile_with_its_user_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SFG_TEST_SIM_PW", "s3cret")
    port = free_port()
    proc = subprocess.Popen([str(DEVICE_SIM), "opcua", "--profile", "filling_line", "--port", str(port),
                             "--security", "None", "--user", "operator:s3cret"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_port, "127.0.0.1", port, 30)
        profile = resolve_profile("filling_line")
        assert isinstance(profile, OpcUaProfile)
        dev = device(f"opc.tcp://127.0.0.1:{port}", auth="username", username="operator",
                     password_env="SFG_TEST_SIM_PW")
        async with OpcUaCollector(dev, profile) as collector:
            samples = await collector.read()
        assert len(samples) == len(profile.tags)
        assert all(s.quality is Quality.GOOD for s in samples), samples
    finally:
        assert stop_process(proc) is not None
