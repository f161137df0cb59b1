"""``cloud-ingest evidence build`` and ``evidence verify``: signed packages of the figures, and
their offline check (the very verifier that ships inside each package)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from cloud_ingest.attest import source
from cloud_ingest.attest import verify_package as v
from cloud_ingest.cli.database import database_error
from cloud_ingest.cli.options import config_option, dsn_option, load
from common.cli import CommandFailed, ConfigInvalid


def parse_time(text: str, *, option: str) -> datetime:
    """ISO 8601 date or date-time; UTC when no offset is given."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise ConfigInvalid(
            f"{option}: {text!r} is not a date or time; use ISO 8601, e.g. 2026-01-01 or "
            "2026-01-01T08:00:00+08:00"
        ) from err
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@click.command("build")
@config_option
@dsn_option
@click.option("--enterprise", required=True, help="enterprise code")
@click.option("--from", "start", required=True, help="window start (ISO 8601; UTC unless an offset is given)")
@click.option("--to", "end", required=True, help="window end, exclusive")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="package folder to write"
)
@click.option("--force", is_flag=True, help="replace --out if it exists (never mixes two packages)")
def build_cmd(
    config_path: Path | None, dsn: str | None, enterprise: str, start: str, end: str, out: Path, force: bool
) -> None:
    """生成证据包 Build a signed evidence package for a window and append it to the enterprise's log."""
    import psycopg

    from cloud_ingest.attest.build import BuildError, BuildRequest, OutputExists, build_package
    from cloud_ingest.attest.keys import SigningKeyError
    from cloud_ingest.report import render
    from cloud_ingest.report.fonts import FontMissing

    cfg = load(config_path, dsn)
    t0, t1 = parse_time(start, option="--from"), parse_time(end, option="--to")
    if t1 <= t0:
        raise ConfigInvalid(f"--to ({end}) must be later than --from ({start})")
    req = BuildRequest(
        enterprise=enterprise,
        start=t0,
        end=t1,
        out=out,
        force=force,
        key_file=cfg.signing.key_path(),
        log_name=cfg.signing.log_name,
    )
    try:
        with psycopg.connect(cfg.dsn(), connect_timeout=int(cfg.database.connect_timeout_s)) as conn:
            built = build_package(conn, req, figures_source=source.figures_from_database, render=render)
    except OutputExists as err:
        raise ConfigInvalid(str(err)) from err
    except BuildError as err:
        raise CommandFailed(str(err)) from err
    except (SigningKeyError, FontMissing, source.FiguresUnavailable) as err:
        raise CommandFailed(str(err)) from err
    except psycopg.Error as err:
        raise database_error(err, cfg) from err
    s = built.entry
    click.echo(f"已生成证据包 package built: {out}")
    click.echo(
        f"  企业 enterprise {enterprise} · 序号 sequence {s['sequence']} · "
        f"时段 window {s['window']['start']} → {s['window']['end']}"
    )
    click.echo(f"  信封摘要 envelope sha256 {built.envelope_sha256}")
    click.echo(f"  校验 verify: python {out / 'verify_package.py'} {out}")


@click.command("verify", context_settings={"ignore_unknown_options": False})
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--previous", type=click.Path(path_type=Path), help="the enterprise's package before this one")
@click.option(
    "--checkpoint", type=click.Path(path_type=Path), help="a log checkpoint kept from an earlier package"
)
@click.option("--key", type=click.Path(path_type=Path), help="the public key you trust (PEM or vkey)")
@click.pass_context
def verify_cmd(
    ctx: click.Context, package: Path, previous: Path | None, checkpoint: Path | None, key: Path | None
) -> None:
    """校验证据包 Verify a package offline (the same code as the verify_package.py inside it)."""
    argv = [str(package)]
    for flag, value in (("--previous", previous), ("--checkpoint", checkpoint), ("--key", key)):
        if value is not None:
            argv += [flag, str(value)]
    ctx.exit(v.main(argv))


COMMANDS = (build_cmd, verify_cmd)
