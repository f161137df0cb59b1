"""Per-device options: every mistake a technician can make names the device and the field."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.opcua.config import parse_options
from collectors.opcua.errors import OptionsError
from collectors.registry import reconnect_backoff
from collectors.supervisor import DeviceSupervisor
from common.backoff import Backoff
from tests.collectors.opcua.conftest import case_profile, device
from tests.support import free_port


def test_defaults_are_plain_anonymous_subscribe() -> None:
    opts = parse_options(device("opc.tcp://127.0.0.1:4840"))
    assert (opts.security_policy, opts.security_mode, opts.auth, opts.mode) == (
        "None",
        "None",
        "anonymous",
        None,
    )


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"security_policy": "Basic256"}, "options.security_policy"),
        ({"security_policy": "Basic256Sha256"}, "security_policy and security_mode go together"),
        ({"auth": "username", "username": "op"}, "needs username and password_env"),
        ({"auth": "certificate"}, "needs user_cert and user_key"),
        # credentials without the auth that uses them would silently connect anonymously
        ({"username": "op", "password_env": "X"},
         "username and password_env given, but auth is anonymous: set auth: username to use them"),
        ({"auth": "username", "username": "op", "password_env": "X", "user_key": "k.pem"},
         "user_key given, but auth is username: set auth: certificate to use it, or remove it"),
        ({"mode": "stream"}, "options.mode"),
        ({"pasword_env": "X"}, "options.pasword_env: unknown option"),
        ({"backoff_initial_s": 10, "backoff_max_s": 5}, "backoff_initial_s (10.0) is above backoff_max_s"),
    ],
)
def test_invalid_options_name_device_and_field(options: dict[str, Any], says: str) -> None:
    with pytest.raises(OptionsError) as info:
        parse_options(device("opc.tcp://127.0.0.1:4840", id="filler3", **options))
    assert str(info.value).startswith("device filler3: ")
    assert says in str(info.value)


def test_missing_password_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SFG_TEST_NO_SUCH_PW", raising=False)
    opts = parse_options(
        device(
            "opc.tcp://x:1", id="press2", auth="username", username="op", password_env="SFG_TEST_NO_SUCH_PW"
        )
    )
    with pytest.raises(
        OptionsError, match=r"device press2: options.password_env: .*SFG_TEST_NO_SUCH_PW is not set"
    ):
        opts.password("press2")


def test_backoff_options_are_the_supervisors_reconnect_delays() -> None:
    profile = case_profile("basic")
    tuned = device("opc.tcp://127.0.0.1:4840", backoff_initial_s=2, backoff_max_s=20)
    assert reconnect_backoff(tuned, profile) == Backoff(initial_s=2, max_s=20)
    assert DeviceSupervisor(tuned, profile).backoff == Backoff(initial_s=2, max_s=20)
    # unset: the same defaults as every other protocol's devices
    assert reconnect_backoff(device("opc.tcp://127.0.0.1:4840"), profile) == Backoff()
    # invalid options: the defaults here, while connecting reports the options error
    assert reconnect_backoff(device("opc.tcp://127.0.0.1:4840", backoff_max_s=-1), profile) == Backoff()


@pytest.mark.parametrize(("initial_s", "max_s", "connects"), [(0.02, 0.05, range(4, 100)), (60, 60, [1])])
async def test_backoff_options_space_the_reconnects_to_an_absent_server(
    initial_s: float, max_s: float, connects: range | list[int]
) -> None:
    """Twelve offline intervals of 50 ms: a 20 ms backoff retries at almost every interval,
    a 60 s one not once after the first refusal."""
    profile = case_profile("basic")
    dev = device(f"opc.tcp://127.0.0.1:{free_port()}", backoff_initial_s=initial_s, backoff_max_s=max_s)
    sup = DeviceSupervisor(dev, profile, interval_s=0.05)
    batches = sup.samples()
    try:
        for _ in range(12):
            await anext(batches)
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
    assert sup.state == "offline"
    assert sup.failures in connects
