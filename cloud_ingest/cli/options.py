"""What every ``cloud-ingest`` command takes: the config file and the database URL."""

from __future__ import annotations

from pathlib import Path

import click

from cloud_ingest.config import CloudConfig, ConfigError, load_config
from common.cli import ConfigInvalid

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="cloud config YAML (see examples/cloud.yaml); defaults apply without one",
)
dsn_option = click.option("--dsn", default=None,
                          help="database URL; wins over SFG_DATABASE_URL and the file")


def load(config_path: Path | None, dsn: str | None) -> CloudConfig:
    try:
        return load_config(config_path, dsn=dsn)
    except ConfigError as err:
        raise ConfigInvalid(str(err)) from err
