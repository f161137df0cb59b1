"""The protocol seam: one registry line per protocol, each layer's part found by its name, and
nothing of a protocol a gateway does not use is imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from collectors import make_collector
from collectors.base import CollectorError
from collectors.modbus import ModbusCollector
from collectors.registry import discover_examples, discoverer_for, plugin
from device_profiles.device import DeviceConfig
from device_profiles.loader import resolve_profile
from device_profiles.protocols import PROTOCOLS
from simulators.registry import SERVERS, server_for
from tests.support import ROOT


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_registered_protocol_has_every_part(name: str) -> None:
    spec = PROTOCOLS[name]
    assert spec.name == name
    assert get_args(spec.profile.model_fields["protocol"].annotation) == (name,)
    found = plugin(name)
    assert callable(found.collector) and callable(found.parse_options)
    assert found.discover is not None and found.discover_schemes
    assert found.discover_example.split("://")[0] in found.discover_schemes
    assert discoverer_for(found.discover_example) is found
    assert callable(server_for(name)) and name in SERVERS


def test_make_collector_picks_the_collector_by_the_profiles_protocol() -> None:
    meter = resolve_profile("energy_meter_3ph")
    dev = DeviceConfig(id="m1", profile="energy_meter_3ph", endpoint="tcp://127.0.0.1:15020")
    assert isinstance(make_collector(dev, meter), ModbusCollector)
    with pytest.raises(CollectorError, match="no collector for protocol 'bacnet'; known: modbus, opcua"):
        plugin("bacnet")


def test_discover_routes_by_url_scheme() -> None:
    assert discoverer_for("modbus://10.0.0.1:502?unit=1") is plugin("modbus")
    assert discoverer_for("OPC.TCP://10.0.0.2:4840") is plugin("opcua")
    assert discoverer_for("bacnet://10.0.0.3") is None
    assert discover_examples() == ["modbus://host:port?unit=N", "opc.tcp://host:port"]


_BUILD = """
import sys
from collectors import make_collector
from collectors.supervisor import DeviceSupervisor
from device_profiles.loader import resolve_profile
from edge_agent.config import load_gateway_config

cfg = load_gateway_config(sys.argv[1])
for dev in cfg.devices:
    profile = resolve_profile(dev.profile)
    make_collector(dev, profile)
    DeviceSupervisor(dev, profile)
print(len(cfg.devices), "asyncua" in sys.modules, "pymodbus" in sys.modules)
"""


def _build_collectors(tmp_path: Path, devices: str) -> list[str]:
    path = tmp_path / "gateway.yaml"
    path.write_text(textwrap.dedent("""\
        gateway: {id: gw-registry, enterprise: {id: ent-registry}}
        devices:
        """) + textwrap.indent(textwrap.dedent(devices), "  "), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", _BUILD, str(path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_modbus_only_gateway_never_imports_asyncua(tmp_path: Path) -> None:
    got = _build_collectors(tmp_path, """\
        - {id: meter-1, profile: energy_meter_3ph, endpoint: "tcp://127.0.0.1:15020"}
        - {id: scale-1, profile: weighing_indicator, endpoint: "rtu:///dev/ttyUSB0", unit_id: 5}
        """)
    assert got == ["2", "False", "True"]


def test_an_opcua_device_is_what_loads_asyncua(tmp_path: Path) -> None:
    # the same check with an OPC UA device: asyncua is loaded, so the test above can fail
    got = _build_collectors(tmp_path, """\
        - {id: filler-1, profile: filling_line, endpoint: "opc.tcp://127.0.0.1:4840"}
        """)
    assert got == ["1", "True", "False"]


_CLI = """
import contextlib, io, sys
from edge_agent.cli import main

def run(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(list(args), standalone_mode=False)
    return out.getvalue()

run("run", "--help")
print("collectors.opcua.plugin" in sys.modules, "pymodbus" in sys.modules)
shown = run("discover", "--help")
print("--security-policy" in shown, "--user-key" in shown, "asyncua" in sys.modules)
"""


def test_discover_flags_come_from_the_plugins_only_when_discover_is_parsed() -> None:
    # the flags are made from each plugin's discover_options; building them at import would
    # load every protocol package into `edge-agent run`
    out = subprocess.run([sys.executable, "-c", _CLI], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "True", "True", "False"]
