"""The cloud config: where the broker and database are, how ingest batches, how the API authenticates.

Secrets never live in the YAML: the database URL may come from ``SFG_DATABASE_URL``, the broker
password from the environment variable named in ``mqtt.password_env`` (or the file in
``mqtt.password_file``), and API tokens from the
file named in ``api.tokens_file`` (or ``SFG_API_TOKENS_FILE``). Errors name the file and the field
path, through the same loader the gateway config uses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from common.config_files import ConfigError, read_yaml, validate
from common.model import Frozen as _Model
from common.secrets import SecretError, check_private, read_secret
from common.tls import TlsSettings
from wire.sparkplug.convention import host_subscriptions
from wire.sparkplug.nodes import NodeIdentity

DATABASE_ENV = "SFG_DATABASE_URL"
TOKENS_ENV = "SFG_API_TOKENS_FILE"
SIGNING_KEY_ENV = "SFG_EVIDENCE_KEY_FILE"

__all__ = ["DATABASE_ENV", "CloudConfig", "ConfigError", "load_config"]


class DatabaseConfig(_Model):
    dsn: str = "postgresql://postgres@127.0.0.1:5432/shopfloor"
    password_env: str | None = Field(None, description="environment variable holding the database password")
    password_file: str | None = Field(None, description="file holding the database password (mode 0600)")

    @field_serializer("dsn")
    def _dump_dsn(self, dsn: str) -> str:
        return mask_password(dsn)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, mask_password(value) if name == "dsn" else value
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    statement_timeout_s: float = Field(60.0, gt=0, description="per write transaction statement")


class MqttConfig(_Model):
    host: str = Field("127.0.0.1", description="with TLS, a name the broker's certificate lists")
    port: int = Field(1883, ge=1, le=65535, description="1883; 8883 by default with tls")
    client_id: str | None = Field(
        None,
        description="fixed id for a persistent session (recommended per worker); random when empty",
    )
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the password")
    password_file: str | None = Field(None, description="file holding the password (mode 0600)")
    keepalive_s: int = Field(30, ge=5, le=3600)
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    topic_filter: str = "shopfloor/v1/+/+/+"
    shared_group: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_\-]+$", description="workers of one group share the load"
    )
    sparkplug_group: str | None = Field(
        None, pattern=r"^([A-Za-z0-9_.\-]+|\+)$",
        description="also ingest Sparkplug B 3.0 from this group ('+' for all); off when empty",
    )
    persistent_session: bool = Field(
        True,
        description="clean_session=False: unacknowledged messages wait at the broker for this client id",
    )
    session_expiry_s: int = Field(
        7 * 24 * 3600, ge=0, description="how long the broker keeps a persistent session of a gone worker"
    )
    max_inflight: int = Field(100, ge=1, le=65535, description="MQTT 5 receive-maximum we ask for")
    tls: TlsSettings | None = Field(
        None, description="MQTT over TLS: the broker's CA, and our certificate for mutual TLS")
    publisher_property: str | None = Field(
        None, min_length=1,
        description="MQTT 5 user property in which the broker names the publishing client (e.g. "
                    "$client_username of Mosquitto's add-properties plugin); must be the gateway's identity")

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: object) -> object:
        """The registered MQTT-over-TLS port when TLS is on and no port is given."""
        if isinstance(data, dict) and data.get("tls") is not None and "port" not in data:
            return {**data, "port": 8883}
        return data

    @field_validator("topic_filter")
    @classmethod
    def _filter_shape(cls, value: str) -> str:
        if not value.startswith("shopfloor/v1/") or value.startswith("$"):
            raise ValueError("must start with shopfloor/v1/ (e.g. shopfloor/v1/+/+/+)")
        return value

    def subscription(self) -> str:
        if self.shared_group:
            return f"$share/{self.shared_group}/{self.topic_filter}"
        return self.topic_filter

    def subscriptions(self) -> list[str]:
        """The JSON filter, plus the Sparkplug topics when ``sparkplug_group`` is set."""
        subs = [self.subscription()]
        if self.sparkplug_group:
            subs += host_subscriptions(self.sparkplug_group, self.shared_group)
        return subs

    def password(self) -> SecretStr | None:
        """Raises common.secrets.SecretError naming the field when it cannot be read."""
        return read_secret(env=self.password_env, file=self.password_file, field="mqtt.password")


_CODE = r"^[A-Za-z0-9_.\-]{1,128}$"  # enterprise, gateway and device codes (wire.json_v1.Name)


class SparkplugNode(_Model):
    """Who a Sparkplug group (or one edge node of it) is in the cloud, where the default
    (group id = enterprise code, edge node id = gateway code) does not fit."""

    group: str = Field(min_length=1, description="Sparkplug group id")
    node: str | None = Field(None, min_length=1, description="edge node id; empty: the whole group")
    enterprise: str | None = Field(None, pattern=_CODE, description="enterprise code; default the group id")
    gateway: str | None = Field(None, pattern=_CODE, description="gateway code; default the node id")
    devices: dict[str, Annotated[str, StringConstraints(pattern=_CODE)]] = Field(
        default_factory=dict, description="Sparkplug device id -> device code")

    @model_validator(mode="after")
    def _gateway_needs_node(self) -> SparkplugNode:
        if self.gateway is not None and self.node is None:
            raise ValueError("gateway names one edge node: give node as well")
        return self


class SparkplugHostConfig(_Model):
    """The cloud as a Sparkplug B 3.0 host application (docs/sparkplug.md, "In the cloud")."""

    host_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.\-]+$",
        description="be the edge nodes' primary host: publish STATE on spBv1.0/STATE/<host_id>")
    hold_s: float = Field(30.0, gt=0, le=3600, description="data waiting for its node's births, at most")
    hold_per_node: int = Field(20, ge=1, le=10_000, description="messages of one node held at most")
    rebirth_every_s: float = Field(5.0, gt=0, le=3600, description="repeat a rebirth request this often")
    nodes: list[SparkplugNode] = Field(default_factory=list, description="identity mapping")

    @model_validator(mode="after")
    def _unique(self) -> SparkplugHostConfig:
        seen: set[tuple[str, str | None]] = set()
        for i, entry in enumerate(self.nodes):
            key = (entry.group, entry.node)
            if key in seen:
                what = f"node {entry.node!r} of group" if entry.node else "group"
                raise ValueError(f"nodes[{i}]: {what} {entry.group!r} is mapped twice")
            seen.add(key)
        return self

    def identity(self, group: str, node: str) -> NodeIdentity:
        """The mapping entry of the node, else of its group, else the default."""
        by_key = {(e.group, e.node): e for e in self.nodes}
        whole, one = by_key.get((group, None)), by_key.get((group, node))
        if whole is None and one is None:
            return NodeIdentity(group, node)
        enterprise = (one and one.enterprise) or (whole and whole.enterprise) or group
        devices = {**(whole.devices if whole else {}), **(one.devices if one else {})}
        return NodeIdentity(enterprise, (one and one.gateway) or node, devices, mapped=True)


class IngestConfig(_Model):
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    writers: int = Field(
        4, ge=1, le=64, description="parallel writer threads (database connections) in this worker"
    )
    batch_max_messages: int = Field(50, ge=1, le=10_000, description="MQTT messages per transaction")
    batch_max_samples: int = Field(50_000, ge=1)
    linger_ms: int = Field(20, ge=0, le=10_000, description="wait this long to fill a transaction")
    queue_max_messages: int = Field(2000, ge=1, description="received but not yet written")
    retry_max_s: float = Field(10.0, gt=0, description="cap on backoff while the database is away")
    partitions_ahead_days: int = Field(7, ge=1, le=366)
    retention_days: int | None = Field(None, ge=1, description="drop sample partitions older than this")
    rollup_interval_s: float = Field(10.0, gt=0, description="plain PostgreSQL: rollup maintenance period")
    chunk_interval: str = Field("1 day", description="TimescaleDB chunk interval")
    compress_after: str = Field("7 days", description="TimescaleDB compression policy")
    gateway_binding: Literal["first_message", "registered"] = Field(
        "first_message",
        description="how a gateway id is bound to its enterprise: by the first message naming it, or "
                    "only by `cloud-ingest gateways register` (others go to the dead letters)")


class ApiConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    tokens_file: str | None = Field(
        None, description="bootstrap tokens: YAML/JSON list of {token|token_sha256, role, enterprise?, name}"
    )
    token_cache_s: float = Field(
        5.0, ge=0, le=300, description="how long a database token lookup is reused (a revocation's delay)")
    auth_failures_max: int = Field(
        10, ge=1, le=10_000, description="failed authentications per client address and window, then 429")
    auth_failure_window_s: int = Field(60, ge=1, le=86_400)
    cors_allow_origins: list[str] = Field(
        default_factory=list, description="browser origins that may call the API (none: CORS off)")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies whose X-Forwarded-For/-Proto are believed (client address, https)")

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*" or not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise ValueError(f"{origin!r}: give exact origins such as https://dashboard.example.cn "
                                 "(scheme://host[:port], no path, no '*')")
        return value

    def tokens_path(self) -> Path | None:
        value = os.environ.get(TOKENS_ENV) or self.tokens_file
        return Path(value) if value else None


class SigningConfig(_Model):
    """The evidence signing key (cloud_ingest/attest/keys.py) and the name of this deployment's logs."""

    key_file: str = Field("var/evidence/signing.key",
                          description="Ed25519 private key, mode 0600; its keyring sits beside it")
    log_name: str = Field("shopfloor-gateway", pattern=r"^[A-Za-z0-9._\-/]+$",
                          description="prefix of each enterprise's log origin: "
                                      "<log_name>/evidence/<enterprise>")

    def key_path(self) -> Path:
        return Path(os.environ.get(SIGNING_KEY_ENV) or self.key_file)


class CloudConfig(_Model):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    sparkplug: SparkplugHostConfig = Field(default_factory=SparkplugHostConfig)
    signing: SigningConfig = Field(default_factory=SigningConfig)
    _cli_dsn: str | None = PrivateAttr(default=None)

    def dsn(self) -> str:
        """The command line wins, then ``SFG_DATABASE_URL``, then the file; the password of
        ``database.password_env``/``_file`` is added (raises SecretError when it cannot be read)."""
        dsn = self._cli_dsn or os.environ.get(DATABASE_ENV) or self.database.dsn
        password = read_secret(env=self.database.password_env, file=self.database.password_file,
                               field="database.password")
        if password is None:
            return dsn
        from psycopg.conninfo import make_conninfo

        return make_conninfo(dsn, password=password.get_secret_value())


def mask_password(dsn: str) -> str:
    """The DSN with its password (URL or key=value form) replaced, for showing and dumping."""
    dsn = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1********@", dsn)
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1********", dsn)


def _dsn_has_password(dsn: str) -> bool:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        return bool(conninfo_to_dict(dsn).get("password"))
    except ProgrammingError:
        return "@" in dsn  # unparsable: be careful


def load_config(path: Path | str | None = None, *, dsn: str | None = None) -> CloudConfig:
    """Read the YAML file (or defaults when none is given); ``dsn`` (from the CLI) wins over both."""
    if path is None:
        cfg = CloudConfig()
    else:
        path = Path(path)
        data = read_yaml(path)
        cfg = validate(CloudConfig, {} if data is None else data, path)
        if _dsn_has_password(cfg.database.dsn):
            # a secret in the file itself: only tolerable when nobody else can read the file
            try:
                check_private(path, what="the config file (database.dsn holds a password; better: "
                                         "database.password_file or SFG_DATABASE_URL)")
            except SecretError as err:
                raise ConfigError(path, [str(err)]) from None
    cfg._cli_dsn = dsn
    try:
        cfg.dsn()  # a password named but unreadable: say so now, not at the first connection
    except SecretError as err:
        raise ConfigError(path or "(no config file)", [str(err)]) from None
    return cfg
