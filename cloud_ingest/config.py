"""The cloud config: where the broker and database are, how ingest batches, how the API authenticates.

Secrets never live in the YAML: the database URL may come from ``SFG_DATABASE_URL``, the broker
password from the environment variable named in ``mqtt.password_env`` (or the file in
``mqtt.password_file``), and API tokens from the
file named in ``api.tokens_file`` (or ``SFG_API_TOKENS_FILE``). Errors name the file and the field
path, through the same loader the gateway config uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, PrivateAttr, SecretStr, field_validator

from common.config_files import ConfigError, read_yaml, validate
from common.model import Frozen as _Model
from common.secrets import read_secret
from wire.sparkplug.convention import host_subscriptions

DATABASE_ENV = "SFG_DATABASE_URL"
TOKENS_ENV = "SFG_API_TOKENS_FILE"
SIGNING_KEY_ENV = "SFG_EVIDENCE_KEY_FILE"

__all__ = ["DATABASE_ENV", "CloudConfig", "ConfigError", "load_config"]


class DatabaseConfig(_Model):
    dsn: str = "postgresql://postgres@127.0.0.1:5432/shopfloor"
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    statement_timeout_s: float = Field(60.0, gt=0, description="per write transaction statement")


class MqttConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
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


class ApiConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    tokens_file: str | None = Field(
        None, description="YAML/JSON list of {token|token_sha256, role, enterprise?, name?}"
    )

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
    signing: SigningConfig = Field(default_factory=SigningConfig)
    _cli_dsn: str | None = PrivateAttr(default=None)

    def dsn(self) -> str:
        """The command line wins, then ``SFG_DATABASE_URL``, then the file."""
        return self._cli_dsn or os.environ.get(DATABASE_ENV) or self.database.dsn


def load_config(path: Path | str | None = None, *, dsn: str | None = None) -> CloudConfig:
    """Read the YAML file (or defaults when none is given); ``dsn`` (from the CLI) wins over both."""
    if path is None:
        cfg = CloudConfig()
    else:
        path = Path(path)
        data = read_yaml(path)
        cfg = validate(CloudConfig, {} if data is None else data, path)
    cfg._cli_dsn = dsn
    return cfg
