"""Per-device OPC UA options (``options:`` of a device in the gateway config), validated.

Security, user authentication and the collection mode are properties of one installed
device, not of the device model, so they live here rather than in the profile. Passwords are
never in YAML: ``password_env`` names the environment variable that holds one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from collectors.opcua.errors import OptionsError
from common.backoff import Backoff
from common.config_files import describe_errors
from common.secrets import SecretError, check_private, read_secret
from device_profiles.base import Model
from device_profiles.device import DeviceConfig
from device_profiles.opcua import CollectMode

SecurityPolicy = Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep"]
SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]
AuthKind = Literal["anonymous", "username", "certificate"]

DEFAULT_PKI_DIR = Path("var/pki")
_AUTH_FIELDS = {"username": ("username", "password_env", "password_file"),
                "certificate": ("user_cert", "user_key")}
_RECONNECT = Backoff()  # the supervisor's defaults, the same for every protocol


class OpcUaOptions(Model):
    mode: CollectMode | None = Field(None, description="overrides the profile's subscribe/poll")
    publishing_interval_ms: int | None = Field(None, ge=10, le=3_600_000)
    poll_interval_ms: int | None = Field(
        None, ge=10, description="poll mode: cycle time; default device/profile"
    )
    security_policy: SecurityPolicy = Field("None", description="message security policy")
    security_mode: SecurityMode = Field(
        "None", description="None only with policy None; Sign or SignAndEncrypt with a policy")
    auth: AuthKind = Field("anonymous", description="user token: anonymous, username (with a "
                           "password from password_env or password_file) or certificate")
    username: str | None = Field(None, description="the user name, for auth username")
    password_env: str | None = Field(None, description="environment variable holding the password")
    password_file: str | None = Field(None, description="file holding the password (mode 0600)")
    user_cert: Path | None = Field(None, description="certificate authentication: user certificate (DER/PEM)")
    user_key: Path | None = Field(None, description="certificate authentication: its private key (PEM)")
    pki_dir: Path = Field(DEFAULT_PKI_DIR, description="own certificate, trusted/ and rejected/ server certs")
    connect_timeout_s: float = Field(10.0, gt=0, le=120, description="connect + secure channel + session")
    session_timeout_s: float = Field(60.0, ge=1, le=3600)
    watchdog_s: float = Field(1.0, gt=0, le=60, description="how often a silent connection is probed")
    backoff_initial_s: float = Field(
        _RECONNECT.initial_s, gt=0, le=60, description="first reconnect delay; doubles after each failure")
    backoff_max_s: float = Field(_RECONNECT.max_s, gt=0, le=3600, description="cap on the reconnect delay")

    @model_validator(mode="after")
    def _consistent(self) -> OpcUaOptions:
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError(
                "security_policy and security_mode go together: both None, or a policy "
                "(Basic256Sha256, Aes128_Sha256_RsaOaep) with Sign or SignAndEncrypt"
            )
        if self.auth == "username" and not (self.username and (self.password_env or self.password_file)):
            raise ValueError("auth: username needs username and password_env (or password_file)")
        if self.auth == "certificate" and not (self.user_cert and self.user_key):
            raise ValueError("auth: certificate needs user_cert and user_key")
        # a user name or certificate given without the auth that uses it would be ignored and
        # the session silently anonymous (and a server may show less to an anonymous browse)
        for kind, names in _AUTH_FIELDS.items():
            stray = [n for n in names if getattr(self, n) is not None]
            if stray and self.auth != kind:
                them = "them" if len(stray) > 1 else "it"
                raise ValueError(f"{' and '.join(stray)} given, but auth is {self.auth}: set auth: "
                                 f"{kind} to use {them}, or remove {them}")
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError(f"backoff_initial_s ({self.backoff_initial_s}) is above backoff_max_s "
                             f"({self.backoff_max_s}): the first delay cannot exceed the cap")
        return self

    def reconnect_backoff(self, default: Backoff = _RECONNECT) -> Backoff:
        """How the device supervisor spaces reconnects to this device: what these options
        set, the rest from ``default`` (the gateway's reconnect settings)."""
        given = self.model_fields_set
        first = self.backoff_initial_s if "backoff_initial_s" in given else default.initial_s
        cap = self.backoff_max_s if "backoff_max_s" in given else default.max_s
        return Backoff(initial_s=min(first, cap), max_s=cap)

    def check_user_key(self, device_id: str) -> None:
        """The user certificate's private key must be this user's alone (chmod 600)."""
        if self.user_key is None:
            return
        try:
            check_private(self.user_key, what="options.user_key")
        except SecretError as err:
            raise OptionsError(f"device {device_id}: {err}") from err

    def password(self, device_id: str) -> str | None:
        if self.auth != "username":
            return None
        try:
            secret = read_secret(env=self.password_env, file=self.password_file, field="options.password")
        except SecretError as err:
            raise OptionsError(f"device {device_id}: {err}") from err
        return secret.get_secret_value() if secret else None


def parse_options(device: DeviceConfig) -> OpcUaOptions:
    """Validate ``device.options``; errors say ``device X: options.field: problem``."""
    raw: dict[str, Any] = dict(device.options)
    try:
        return OpcUaOptions.model_validate(raw)
    except ValidationError as err:
        problems = describe_errors(err, prefix="options", noun="option",
                                   fields=list(OpcUaOptions.model_fields))
        raise OptionsError(f"device {device.id}: " + "; ".join(problems)) from None
