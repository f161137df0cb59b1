"""``cloud-ingest migrate``, ``serve`` and ``status``: the service itself and its schema."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cloud_ingest.cli.database import database_error
from cloud_ingest.cli.options import config_option, dsn_option, load
from common.cli import CommandFailed, ConfigInvalid

if TYPE_CHECKING:
    import psycopg


@click.command("migrate")
@config_option
@dsn_option
@click.option("--to", "target", type=int, default=None, help="stop at this schema version")
def migrate_cmd(config_path: Path | None, dsn: str | None, target: int | None) -> None:
    """Create or upgrade the schema; safe to run again."""
    import psycopg

    from cloud_ingest import migrate
    from cloud_ingest.timescale import apply_policies

    cfg = load(config_path, dsn)
    try:
        applied = migrate.migrate(cfg.dsn(), target=target, connect_timeout_s=cfg.database.connect_timeout_s)
        with psycopg.connect(cfg.dsn(), autocommit=True) as conn:
            version, flavor = migrate.current(conn)
            policies = apply_policies(conn, cfg.ingest)
    except psycopg.Error as err:
        raise database_error(err, cfg) from err
    if applied:
        click.echo(f"applied {', '.join(f'{v:03d}' for v in applied)}; schema version {version} ({flavor})")
    else:
        click.echo(f"schema is current: version {version} ({flavor})")
    if policies:
        click.echo("timescaledb policies: " + "; ".join(policies))


@click.command("serve")
@config_option
@dsn_option
@click.option("--no-api", is_flag=True, help="consume only; serve neither the HTTP API nor the dashboard")
def serve_cmd(config_path: Path | None, dsn: str | None, no_api: bool) -> None:
    """Consume gateway messages into the database, and serve the API and the dashboard on
    api.host:api.port, until SIGTERM/SIGINT."""
    from cloud_ingest import service
    from cloud_ingest.api.server import ApiPortUnavailable
    from cloud_ingest.config import ConfigError
    from cloud_ingest.mqtt_source import BrokerError

    cfg = load(config_path, dsn)
    stop = threading.Event()
    service.install_signal_handlers(stop)
    try:
        service.serve(cfg, api=not no_api, stop=stop)
    except (service.SchemaTooOld, service.WriterDied, BrokerError, ApiPortUnavailable) as err:
        raise CommandFailed(str(err)) from err
    except ConfigError as err:  # the tokens file, read when the API starts
        raise ConfigInvalid(str(err)) from err


@click.command("status")
@config_option
@dsn_option
def status_cmd(config_path: Path | None, dsn: str | None) -> None:
    """What the database holds: schema, registry, batches, rollup backlog, dead letters."""
    import psycopg

    from cloud_ingest import migrate

    cfg = load(config_path, dsn)
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
            if version >= 18:
                _workers(conn)
    except psycopg.Error as err:
        raise database_error(err, cfg) from err


def _workers(conn: psycopg.Connection) -> None:
    """Each worker seen in the last hour, from its own reports (cloud_ingest/worker_status.py)."""
    rows = conn.execute(
        "SELECT worker, host, pid, extract(epoch FROM now() - seen_at)::int, stopped_at IS NOT NULL, stats"
        " FROM ingest_workers WHERE seen_at > now() - interval '1 hour' ORDER BY worker"
    ).fetchall()
    if not rows:
        click.echo("工作进程 workers: 最近一小时无 none in the last hour")
    for worker, host, pid, age, stopped, stats in rows:
        state = "已停止 stopped" if stopped else ("运行中 running" if age < 60 else "无响应 not reporting")
        click.echo(f"工作进程 worker {worker} ({host}, pid {pid}): {state}, {age} 秒前 s ago")
        if stats.get("sparkplug_rebirth_requests") or stats.get("sparkplug_held") or \
                stats.get("sparkplug_held_expired") or stats.get("sparkplug_held_overflowed"):
            click.echo(
                f"  Sparkplug 等待出生消息 held for births: {stats.get('sparkplug_held', 0)} 条 messages,"
                f" {stats.get('sparkplug_held_nodes', 0)} 个节点 nodes,"
                f" 最久 oldest {stats.get('sparkplug_held_oldest_s', 0)} s;"
                f" 超时转死信 expired {stats.get('sparkplug_held_expired', 0)},"
                f" 超限转死信 over the caps {stats.get('sparkplug_held_overflowed', 0)};"
                f" 重生请求 rebirth requests {stats.get('sparkplug_rebirth_requests', 0)}")
