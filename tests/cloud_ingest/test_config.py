"""The cloud config: defaults, environment overrides, errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_ingest.config import DATABASE_ENV, ConfigError, load_config


def test_example_config_loads() -> None:
    cfg = load_config(Path(__file__).resolve().parents[2] / "examples" / "cloud.yaml")
    assert cfg.mqtt.subscriptions() == ["shopfloor/v1/+/+/+"]
    assert cfg.api.port == 8080


def test_shared_group_and_sparkplug_subscriptions() -> None:
    cfg = load_config(None).model_copy(deep=True)
    mq = cfg.mqtt.model_copy(update={"shared_group": "ingest", "sparkplug_group": "+"})
    assert mq.subscriptions() == [
        "$share/ingest/shopfloor/v1/+/+/+",
        "spBv1.0/+/NBIRTH/+", "spBv1.0/+/DBIRTH/+/+",  # births unshared: every worker needs the aliases
        "$share/ingest/spBv1.0/+/NDATA/+", "$share/ingest/spBv1.0/+/DDATA/+/+",
        "$share/ingest/spBv1.0/+/DDEATH/+/+", "$share/ingest/spBv1.0/+/NDEATH/+",
    ]


def test_dsn_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "cloud.yaml"
    f.write_text("database:\n  dsn: postgresql://file/db\n")
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    assert load_config(f).dsn() == "postgresql://file/db"
    monkeypatch.setenv(DATABASE_ENV, "postgresql://env/db")
    assert load_config(f).dsn() == "postgresql://env/db"
    assert load_config(f, dsn="postgresql://cli/db").dsn() == "postgresql://cli/db"


def test_errors_name_file_and_field_path(tmp_path: Path) -> None:
    f = tmp_path / "cloud.yaml"
    f.write_text("mqtt:\n  port: 70000\n  topic_filter: other/+\ningest:\n  max_mesage_bytes: 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    text = str(info.value)
    assert str(f) in text
    assert "mqtt.port" in text
    assert "mqtt.topic_filter" in text and "shopfloor/v1/" in text
    assert "ingest.max_mesage_bytes: unknown field" in text


def test_default_subscription_without_group() -> None:
    cfg = load_config(None)
    assert cfg.mqtt.subscription() == "shopfloor/v1/+/+/+"
