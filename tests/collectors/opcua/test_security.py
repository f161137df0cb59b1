"""Every security mode and user token against the simulator, one session each, and every
failure a technician meets: untrusted server certificate, wrong password, unknown user
certificate, a policy the server does not offer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from collectors.opcua.collector import OpcUaCollector
from collectors.opcua.discover import discover
from collectors.opcua.errors import OptionsError, SecurityRejected, UntrustedServerCertificate
from collectors.opcua.pki import make_self_signed, trust_certificate
from collectors.plugin import DiscoverRequest
from collectors.registry import plugin
from device_profiles.opcua import OpcUaProfile
from simulators.opcua.server import OpcUaSimulator
from tests.collectors.opcua.conftest import device
from tests.support import free_port
from wire.sample import Quality

pytestmark = pytest.mark.asyncio(loop_scope="module")

MODES = [
    "None",
    "Basic256Sha256_Sign",
    "Basic256Sha256_SignAndEncrypt",
    "Aes128_Sha256_RsaOaep_Sign",
    "Aes128_Sha256_RsaOaep_SignAndEncrypt",
]
PASSWORD_ENV = "SFG_TEST_OPCUA_PASSWORD"


@pytest.fixture(scope="module")
def user_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("user")
    make_self_signed(
        d / "user.der", d / "user.pem", application_uri="urn:test:operator", common_name="operator"
    )
    return d / "user.der", d / "user.pem"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure_sim(
    basic_profile: OpcUaProfile, user_cert: tuple[Path, Path]
) -> AsyncIterator[OpcUaSimulator]:
    profile = basic_profile.model_copy(update={"tags": basic_profile.tags[:2]})
    sim = OpcUaSimulator(
        profile, port=free_port(), security=MODES, users={"operator": "s3cret!"}, user_certs=[user_cert[0]]
    )
    async with sim:
        yield sim
    sim.close()


@pytest.fixture
def pki(tmp_path: Path, secure_sim: OpcUaSimulator) -> Path:
    trust_certificate(tmp_path / "pki", secure_sim.certificate)
    return tmp_path / "pki"


def _split(mode: str) -> tuple[str, str]:
    if mode == "None":
        return "None", "None"
    policy, _, msg_mode = mode.rpartition("_")
    return policy, msg_mode


@pytest.mark.parametrize(
    ("mode", "auth"),
    [
        ("None", "anonymous"),
        ("None", "username"),
        ("Basic256Sha256_Sign", "username"),
        ("Basic256Sha256_SignAndEncrypt", "anonymous"),
        ("Basic256Sha256_SignAndEncrypt", "username"),
        ("Basic256Sha256_SignAndEncrypt", "certificate"),
        ("Aes128_Sha256_RsaOaep_Sign", "anonymous"),
        ("Aes128_Sha256_RsaOaep_SignAndEncrypt", "username"),
        ("Aes128_Sha256_RsaOaep_SignAndEncrypt", "certificate"),
    ],
)
async def test_every_mode_and_user_token_reads(
    secure_sim: OpcUaSimulator,
    basic_profile: OpcUaProfile,
    pki: Path,
    user_cert: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    auth: str,
) -> None:
    policy, msg_mode = _split(mode)
    opts: dict[str, Any] = {
        "security_policy": policy,
        "security_mode": msg_mode,
        "auth": auth,
        "pki_dir": str(pki),
        "mode": "poll",
    }
    if auth == "username":
        monkeypatch.setenv(PASSWORD_ENV, "s3cret!")
        opts |= {"username": "operator", "password_env": PASSWORD_ENV}
    if auth == "certificate":
        opts |= {"user_cert": str(user_cert[0]), "user_key": str(user_cert[1])}
    async with OpcUaCollector(device(secure_sim.endpoint, timeout_s=5, **opts), secure_sim.profile) as c:
        samples = await c.read()
    assert [s.quality for s in samples] == [Quality.GOOD, Quality.GOOD]


async def test_untrusted_server_certificate_names_it_and_the_command_then_trusting_works(
    secure_sim: OpcUaSimulator, tmp_path: Path
) -> None:
    pki = tmp_path / "fresh-pki"
    dev = device(
        secure_sim.endpoint,
        timeout_s=5,
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        pki_dir=str(pki),
        mode="poll",
    )
    with pytest.raises(UntrustedServerCertificate) as info:
        async with OpcUaCollector(dev, secure_sim.profile):
            pass
    msg = str(info.value)
    assert info.value.path.parent == pki / "rejected" and info.value.path.exists()
    assert "device plc1" in msg and secure_sim.endpoint in msg and info.value.thumbprint in msg
    assert f"CN=simulator {secure_sim.profile.profile}" in msg
    assert f"edge-agent trust-cert {info.value.path}" in msg
    assert (pki / "own" / "cert.der").exists(), "the gateway's own certificate is made on first run"
    own = (pki / "own" / "cert.der").read_bytes()

    trusted = trust_certificate(pki, info.value.path)
    assert trusted.parent == pki / "trusted" and not info.value.path.exists()
    async with OpcUaCollector(dev, secure_sim.profile) as c:  # same collector config, no restart
        assert all(s.quality is Quality.GOOD for s in await c.read())
    assert (pki / "own" / "cert.der").read_bytes() == own, "the own certificate is kept, not remade"


async def test_wrong_password_is_security_rejected(
    secure_sim: OpcUaSimulator, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    dev = device(
        secure_sim.endpoint,
        timeout_s=5,
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        pki_dir=str(pki),
        auth="username",
        username="operator",
        password_env=PASSWORD_ENV,
    )
    with pytest.raises(SecurityRejected, match=r"device plc1: .*BadUserAccessDenied"):
        async with OpcUaCollector(dev, secure_sim.profile):
            pass


async def test_unknown_user_certificate_is_security_rejected(
    secure_sim: OpcUaSimulator, pki: Path, tmp_path: Path
) -> None:
    make_self_signed(tmp_path / "x.der", tmp_path / "x.pem", application_uri="urn:x", common_name="intruder")
    dev = device(
        secure_sim.endpoint,
        timeout_s=5,
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        pki_dir=str(pki),
        auth="certificate",
        user_cert=str(tmp_path / "x.der"),
        user_key=str(tmp_path / "x.pem"),
    )
    with pytest.raises(SecurityRejected, match="BadUserAccessDenied"):
        async with OpcUaCollector(dev, secure_sim.profile):
            pass


async def test_missing_password_variable_fails_before_connecting(
    secure_sim: OpcUaSimulator, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    dev = device(secure_sim.endpoint, auth="username", username="operator", password_env=PASSWORD_ENV)
    with pytest.raises(OptionsError, match=f"{PASSWORD_ENV} is not set"):
        async with OpcUaCollector(dev, secure_sim.profile):
            pass


@pytest.mark.parametrize("auth", ["username", "certificate"])
async def test_discover_reaches_a_secured_server_with_the_device_options(
    secure_sim: OpcUaSimulator,
    pki: Path,
    user_cert: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    auth: str,
) -> None:
    # what `edge-agent discover` hands the plugin: the same option names as a device's options
    options: dict[str, Any] = {"security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt",
                               "auth": auth, "pki_dir": str(pki)}
    if auth == "username":
        monkeypatch.setenv(PASSWORD_ENV, "s3cret!")
        options |= {"username": "operator", "password_env": PASSWORD_ENV}
    else:
        options |= {"user_cert": str(user_cert[0]), "user_key": str(user_cert[1])}
    discoverer = plugin("opcua").discover
    assert discoverer is not None
    found = await discoverer(DiscoverRequest(url=secure_sim.endpoint, depth=4, options=options))
    profile = OpcUaProfile.model_validate(found)
    served = sorted(str(t.ref.identifier) for t in secure_sim.profile.tags)
    assert sorted(str(t.ref.identifier) for t in profile.tags) == served


async def test_discover_with_a_wrong_password_is_security_rejected(
    secure_sim: OpcUaSimulator, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(SecurityRejected, match=r"device discover: .*BadUserAccessDenied"):
        await discover(secure_sim.endpoint, security_policy="Basic256Sha256", security_mode="SignAndEncrypt",
                       pki_dir=str(pki), auth="username", username="operator", password_env=PASSWORD_ENV)


async def test_a_user_key_others_may_read_is_refused_with_the_chmod(
    secure_sim: OpcUaSimulator, pki: Path, tmp_path: Path
) -> None:
    make_self_signed(tmp_path / "u.der", tmp_path / "u.pem", application_uri="urn:u", common_name="user")
    (tmp_path / "u.pem").chmod(0o644)
    dev = device(secure_sim.endpoint, timeout_s=5, security_policy="Basic256Sha256",
                 security_mode="SignAndEncrypt", pki_dir=str(pki), auth="certificate",
                 user_cert=str(tmp_path / "u.der"), user_key=str(tmp_path / "u.pem"))
    with pytest.raises(OptionsError, match=f"options.user_key: .* chmod 600 {tmp_path / 'u.pem'}"):
        async with OpcUaCollector(dev, secure_sim.profile):
            pass
