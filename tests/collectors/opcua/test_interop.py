"""The collector against an OPC UA server that is not asyncua: node-opcua (tests/interop/opcua),
in plain and Basic256Sha256 SignAndEncrypt modes with username authentication.

The fixture installs the pinned node-opcua packages with ``npm ci`` when node_modules is
missing (the registry is needed once), starts ``node server.js`` on a free loopback port and
stops that process afterwards. Without Node.js the tests fail: interoperability is a
requirement, not an option.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.opcua.collector import OpcUaCollector
from collectors.opcua.errors import SecurityRejected, UntrustedServerCertificate
from collectors.opcua.pki import trust_certificate
from device_profiles.opcua import OpcUaProfile
from tests.collectors.opcua.conftest import case_profile, device
from tests.support import ROOT, eventually, free_port, stop_process
from wire.sample import Quality, Sample

pytestmark = pytest.mark.asyncio(loop_scope="module")

INTEROP = ROOT / "tests" / "interop" / "opcua"
PASSWORD_ENV = "SFG_TEST_INTEROP_PASSWORD"


class NodeServer:
    def __init__(self, pki: Path) -> None:
        self.port = free_port()
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}/UA/Interop"
        node = shutil.which("node")
        assert node, "Node.js (node) is needed for the OPC UA interop tests"
        if not (INTEROP / "node_modules" / "node-opcua-server").is_dir():
            npm = shutil.which("npm")
            assert npm, "npm is needed once to install tests/interop/opcua (npm ci)"
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=INTEROP,
                check=True,
                timeout=600,
                stdout=subprocess.DEVNULL,
            )
        self.log = pki / "node-server.log"
        self.proc = subprocess.Popen(
            [node, "server.js", str(self.port), str(pki)],
            cwd=INTEROP,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
        )
        def ready_or_exited() -> bool:
            return "READY" in self.log.read_text(errors="replace") or self.proc.poll() is not None

        try:
            eventually(ready_or_exited, timeout=90, what="the node-opcua server prints READY", every=0.2)
            if self.proc.poll() is not None:
                raise AssertionError(f"it exited with {self.proc.returncode}")
        except AssertionError as err:
            self.stop()
            raise RuntimeError(
                f"node-opcua server did not start ({err}):\n{self.log.read_text(errors='replace')}"
            ) from err
        line = next(x for x in self.log.read_text().splitlines() if x.startswith("READY"))
        self.certificate = Path(line.split()[2])

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    server = NodeServer(tmp_path_factory.mktemp("node-opcua"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def interop_profile() -> OpcUaProfile:
    return case_profile("interop")


@pytest.fixture
def gateway_pki(tmp_path: Path, node_server: NodeServer) -> Path:
    trust_certificate(tmp_path / "pki", node_server.certificate)
    return tmp_path / "pki"


EXPECTED = {
    "sbyte": -5,
    "int16": -30000,
    "uint16": 60000,
    "int32": -2000000000,
    "int64": -9000000000,
    "uint64": 9000000000,
    "float": 1.5,
    "string": "running",
    "datetime": "2025-01-01T00:00:00.000Z",
    "raw": "deadbeef",
    "zones": "[1.5,2.5,3.5]",
    "by_guid": 7,
    "by_opaque": 8,
}


def check_types(samples: list[Sample]) -> None:
    values = {s.tag: s.value for s in samples}
    assert all(s.quality is Quality.GOOD for s in samples), [s for s in samples if s.quality]
    assert {k: values[k] for k in EXPECTED} == EXPECTED
    assert isinstance(values["speed"], float) and isinstance(values["running"], bool)
    assert isinstance(values["count"], int)


MODES = [
    pytest.param({}, id="None-username"),
    pytest.param(
        {"security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt"},
        id="Basic256Sha256-SignAndEncrypt-username",
    ),
]


@pytest.mark.parametrize("security", MODES)
async def test_poll_and_subscribe_against_node_opcua(
    node_server: NodeServer,
    interop_profile: OpcUaProfile,
    gateway_pki: Path,
    monkeypatch: pytest.MonkeyPatch,
    security: dict[str, str],
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret!")
    opts = {
        "auth": "username",
        "username": "operator",
        "password_env": PASSWORD_ENV,
        "pki_dir": str(gateway_pki),
        **security,
    }
    async with OpcUaCollector(
        device(node_server.endpoint, timeout_s=5, mode="poll", **opts), interop_profile
    ) as c:
        check_types(await c.read())
    async with OpcUaCollector(device(node_server.endpoint, timeout_s=5, **opts), interop_profile) as c:
        it = c.subscribe()
        first = await anext(it)
        later = [s for _ in range(5) for s in await anext(it)]
    check_types(first)
    assert [s.tag for s in later].count("count") >= 4, "the counter changes every 100 ms"
    assert all(0 < s.ts <= s.read_ts for s in later)
    assert "speed_pct" not in {s.tag for s in later}, "node-opcua applies the 5 % deadband on a 0..100 range"


async def test_wrong_password_is_rejected_by_node_opcua(
    node_server: NodeServer, interop_profile: OpcUaProfile, gateway_pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "nope")
    dev = device(
        node_server.endpoint,
        timeout_s=5,
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        auth="username",
        username="operator",
        password_env=PASSWORD_ENV,
        pki_dir=str(gateway_pki),
    )
    with pytest.raises(SecurityRejected, match=r"device plc1: .*Bad(UserAccessDenied|IdentityTokenRejected)"):
        async with OpcUaCollector(dev, interop_profile):
            pass


async def test_untrusted_node_opcua_certificate_names_it(
    node_server: NodeServer, interop_profile: OpcUaProfile, tmp_path: Path
) -> None:
    dev = device(
        node_server.endpoint,
        timeout_s=5,
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        pki_dir=str(tmp_path / "empty"),
    )
    with pytest.raises(UntrustedServerCertificate, match=r"edge-agent trust-cert .*rejected"):
        async with OpcUaCollector(dev, interop_profile):
            pass


async def test_a_policy_the_server_does_not_offer_lists_what_it_does(
    node_server: NodeServer, interop_profile: OpcUaProfile, gateway_pki: Path
) -> None:
    dev = device(node_server.endpoint, timeout_s=5, security_policy="Aes128_Sha256_RsaOaep",
                 security_mode="SignAndEncrypt", pki_dir=str(gateway_pki))
    with pytest.raises(SecurityRejected) as info:
        async with OpcUaCollector(dev, interop_profile):
            pass
    assert "offers no endpoint with Aes128_Sha256_RsaOaep/SignAndEncrypt" in str(info.value)
    assert "Basic256Sha256/SignAndEncrypt" in str(info.value) and "None/None" in str(info.value)


async def test_a_refused_deadband_falls_back_to_every_change_with_a_warning(
    node_server: NodeServer, interop_profile: OpcUaProfile, caplog: pytest.LogCaptureFixture
) -> None:
    """A percent deadband needs an EURange; node-opcua refuses it on a node without one."""
    speed = next(t for t in interop_profile.tags if t.name == "speed")
    tag = speed.model_copy(update={"deadband_type": "percent", "deadband_value": 50.0})
    profile = interop_profile.model_copy(update={"tags": [tag]})
    async with OpcUaCollector(device(node_server.endpoint, timeout_s=5), profile) as c:
        it = c.subscribe()
        batches = [await anext(it) for _ in range(3)]
    assert all(s.tag == "speed" and s.quality is Quality.GOOD for b in batches for s in b)
    assert "server refused the deadband of speed" in caplog.text
