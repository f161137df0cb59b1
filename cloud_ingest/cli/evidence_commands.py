"""``cloud-ingest evidence figures``: the data-connectivity figures of an enterprise for a window,
as a table a person reads (Chinese first) or as the JSON of docs/evidence.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from cloud_ingest.cli.database import database_error
from cloud_ingest.cli.options import config_option, dsn_option, load
from common.cli import CommandFailed, ConfigInvalid


@click.command("figures")
@config_option
@dsn_option
@click.option("--enterprise", "-e", required=True, help="enterprise code (as the gateways report it)")
@click.option("--from", "start", required=True, help="window start: 2026-03-01, 2026-03-01T08:00, …Z, +08:00")
@click.option("--to", "end", default="now", show_default=True, help="window end (exclusive)")
@click.option(
    "--tz",
    default="Asia/Shanghai",
    show_default=True,
    help="time zone of times given without an offset, and of the table",
)
@click.option("--json", "as_json", is_flag=True, help="print the JSON (schema in docs/evidence.md)")
def figures_cmd(
    config_path: Path | None, dsn: str | None, enterprise: str, start: str, end: str, tz: str, as_json: bool
) -> None:
    """数据贯通指标 The figures for one enterprise and window: networking rate, completeness, gaps with
    causes, latency, clock offsets, reconciliation."""
    import psycopg

    from cloud_ingest.evidence import EvidenceError, SchemaTooOld, compute
    from cloud_ingest.evidence.render import figures_text
    from cloud_ingest.evidence.window import parse_time, zone

    cfg = load(config_path, dsn)
    now = datetime.now(UTC)
    try:
        zinfo = zone(tz)
        t0, t1 = parse_time(start, tz=zinfo, now=now), parse_time(end, tz=zinfo, now=now)
        with psycopg.connect(
            cfg.dsn(), autocommit=True, connect_timeout=int(cfg.database.connect_timeout_s)
        ) as conn:
            figures = compute(conn, enterprise, start=t0, end=t1, now=now)
    except EvidenceError as err:
        raise ConfigInvalid(str(err)) from err
    except SchemaTooOld as err:
        raise CommandFailed(str(err)) from err
    except psycopg.errors.UndefinedTable as err:
        raise CommandFailed(
            f"the database schema is too old for the evidence ({str(err).strip()}); "
            "run `cloud-ingest migrate`"
        ) from err
    except psycopg.Error as err:
        raise database_error(err, cfg) from err
    if as_json:
        click.echo(figures.model_dump_json(indent=2))
    else:
        click.echo(figures_text(figures, tz=zinfo))
