"""Secrets (passwords, keys) are read one way: from an environment variable or from a file with
safe permissions, never from the YAML itself, and kept as ``SecretStr`` so that a repr, a log
line or a config dump shows ``**********`` instead of the value.

A config names where a secret is (``password_env: MQTT_PASSWORD`` or ``password_file:
/etc/shopfloor/mqtt.pass``); `read_secret` fetches it when it is needed and says exactly what
is missing or unsafe, naming the field, so the message tells the technician what to fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pydantic import SecretStr


class SecretError(ValueError):
    """A secret that is named in a config but cannot be read, or is stored unsafely."""


def check_private(path: Path | str, *, what: str) -> None:
    """Refuse a file holding secrets that its group or others may read or write."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except OSError as err:
        raise SecretError(f"{what}: cannot read {p}: {err.strerror}") from err
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"{what}: {p} is readable by other users (mode {stat.S_IMODE(mode):03o}); "
            f"make it private with: chmod 600 {p}"
        )


def read_secret(*, env: str | None, file: str | Path | None, field: str) -> SecretStr | None:
    """The secret from the environment variable ``env`` or the file ``file`` (its whole text
    without the final newline); None when neither is named. ``field`` is the config field
    path naming the pair (``broker.password``), used in every error."""
    if env and file:
        raise SecretError(f"{field}_env and {field}_file are both set: keep one")
    if env:
        value = os.environ.get(env)
        if value is None:
            raise SecretError(f"{field}_env: environment variable {env} is not set (export it, "
                              f"or name a file with {field}_file)")
        return SecretStr(value)
    if file:
        check_private(file, what=f"{field}_file")
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise SecretError(f"{field}_file: cannot read {file}: {err}") from err
        return SecretStr(text.removesuffix("\n").removesuffix("\r"))
    return None
