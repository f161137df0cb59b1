"""Per-device options: every mistake a technician can make names the device and the field."""

from __future__ import annotations

import pytest

from collectors.opcua.config import parse_options
from collectors.opcua.errors import OptionsError
from tests.collectors.opcua.conftest import device


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
        ({"mode": "stream"}, "options.mode"),
        ({"pasword_env": "X"}, "options.pasword_env: unknown option"),
    ],
)
def test_invalid_options_name_device_and_field(options: dict[str, object], says: str) -> None:
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
