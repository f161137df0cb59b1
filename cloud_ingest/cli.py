"""``cloud-ingest``: migrate the schema, serve (MQTT consumer + API)."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import click

from cloud_ingest.config import CloudConfig, ConfigError, load_config

_config_opt = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="cloud config YAML (see examples/cloud.yaml); defaults apply without one",
)
_dsn_opt = click.option("--dsn", default=None, help="database URL; wins over SFG_DATABASE_URL and the file")


def _load(config_path: Path | None, dsn: str | None) -> CloudConfig:
    try:
        return load_config(config_path, dsn=dsn)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def main(verbose: bool) -> None:
    """Cloud side of the shop-floor gateway: store what gateways publish, serve it back."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@main.command("migrate")
@_config_opt
@_dsn_opt
@click.option("--to", "target", type=int, default=None, help="stop at this schema version")
def migrate_cmd(config_path: Path | None, dsn: str | None, target: int | None) -> None:
    """Create or upgrade the schema; safe to run again."""
    import psycopg

    from cloud_ingest import migrate
    from cloud_ingest.timescale import apply_policies

    cfg = _load(config_path, dsn)
    try:
        applied = migrate.migrate(cfg.dsn(), target=target, connect_timeout_s=cfg.database.connect_timeout_s)
        with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
            version, flavor = migrate.current(conn)
            policies = apply_policies(conn, cfg.ingest)
    except psycopg.Error as err:
        raise click.ClickException(f"migration failed: {str(err).strip()}") from err
    if applied:
        click.echo(f"applied {', '.join(f'{v:03d}' for v in applied)}; schema version {version} ({flavor})")
    else:
        click.echo(f"schema is current: version {version} ({flavor})")
    if policies:
        click.echo("timescaledb policies: " + "; ".join(policies))


@main.command("serve")
@_config_opt
@_dsn_opt
@click.option("--no-api", is_flag=True, help="consume only; do not start the HTTP API")
def serve_cmd(config_path: Path | None, dsn: str | None, no_api: bool) -> None:
    """Consume gateway messages into the database (and serve the API) until SIGTERM/SIGINT."""
    from cloud_ingest import service
    from cloud_ingest.mqtt_source import BrokerError

    cfg = _load(config_path, dsn)
    stop = threading.Event()
    service.install_signal_handlers(stop)
    try:
        service.serve(cfg, api=not no_api, stop=stop)
    except (service.SchemaTooOld, service.WriterDied, BrokerError) as err:
        raise click.ClickException(str(err)) from err


@main.command("status")
@_config_opt
@_dsn_opt
def status_cmd(config_path: Path | None, dsn: str | None) -> None:
    """What the database holds: schema, registry, batches, rollup backlog, dead letters."""
    import psycopg

    from cloud_ingest import migrate

    cfg = _load(config_path, dsn)
    try:
        with psycopg.connect(cfg.dsn(), connect_timeout=int(cfg.database.connect_timeout_s)) as conn:
            version, flavor = migrate.current(conn)
            latest = migrate.available()[-1].version
            click.echo(f"schema: version {version} of {latest} ({flavor or 'empty'})")
            if version < latest:
                click.echo("  run `cloud-ingest migrate`")
            if version == 0:
                return
            row = conn.execute(
                "SELECT (SELECT count(*) FROM enterprises), (SELECT count(*) FROM gateways),"
                " (SELECT count(*) FROM devices), (SELECT count(*) FROM tags),"
                " (SELECT count(*) FROM batches), (SELECT coalesce(sum(n_samples), 0) FROM batches),"
                " (SELECT max(stored_at) FROM batches)"
            ).fetchone()
            assert row is not None
            click.echo(f"registry: {row[0]} enterprises, {row[1]} gateways, {row[2]} devices, {row[3]} tags")
            click.echo(f"stored: {row[4]} batches, {row[5]} samples, newest at {row[6]}")
            if version >= 4:
                pending = conn.execute("SELECT count(*) FROM batches WHERE NOT rolled_up").fetchone()
                click.echo(f"rollups: {pending[0] if pending else 0} batches pending")
            reasons = conn.execute(
                "SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY 2 DESC"
            ).fetchall()
            click.echo("dead letters: " + (", ".join(f"{r} {n}" for r, n in reasons) or "none"))
    except psycopg.Error as err:
        raise click.ClickException(f"database: {str(err).strip()}") from err
