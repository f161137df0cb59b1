"""``cloud-ingest tokens create|list|revoke|import``: API tokens in the database.

A token is shown once, by ``create``, and stored only as its SHA-256 (see api/tokens.py). A
running ``serve`` sees a new token at once and stops honouring a revoked one within
``api.token_cache_s`` seconds, without a restart. ``import`` takes over the tokens file's entries
(by digest), after which the file can be emptied.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from cloud_ingest.cli.database import database_error
from cloud_ingest.cli.options import config_option, dsn_option, load
from common.cli import CommandFailed, ConfigInvalid

_STATE = {"active": "有效 active", "expired": "过期 expired", "revoked": "已吊销 revoked"}
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str | None, *, now: datetime) -> datetime | None:
    """``90d``, ``12h``, ``30m``, ``2w``, a date (``2026-12-31``, end of that day UTC) or an ISO
    time with an offset; ``never`` or nothing for no expiry."""
    if text is None or text.strip().lower() == "never":
        return None
    text = text.strip()
    if m := _DURATION.match(text):
        return now + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            when = datetime.fromisoformat(text).replace(tzinfo=UTC) + timedelta(days=1)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigInvalid(f"--expires {text!r}: give a duration (90d, 12h, 30m, 2w), a date "
                            "(2026-12-31) or a time with its offset (2026-12-31T18:00:00+08:00)") from None
    if when.tzinfo is None:
        raise ConfigInvalid(f"--expires {text!r}: give the time's offset (+08:00 or Z)")
    if when <= now:
        raise ConfigInvalid(f"--expires {text!r} is in the past")
    return when.astimezone(UTC)


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _who() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


@contextmanager
def _database(config_path: Path | None, dsn: str | None) -> Iterator[tuple[Any, Any]]:
    """(config, autocommit connection); database errors become exit 1 with what to do."""
    import psycopg

    cfg = load(config_path, dsn)
    try:
        with psycopg.connect(cfg.dsn(), autocommit=True,
                             connect_timeout=int(cfg.database.connect_timeout_s)) as conn:
            yield cfg, conn
    except psycopg.errors.UndefinedTable as err:
        raise CommandFailed("数据库缺少令牌表 (no api_tokens table): the schema is older than this "
                            "version: run `cloud-ingest migrate` first") from err
    except psycopg.Error as err:
        raise database_error(err, cfg) from err


@click.command("create")
@config_option
@dsn_option
@click.option("--role", type=click.Choice(["admin", "reviewer", "enterprise"]), required=True,
              help="admin: everything; reviewer: reads every enterprise; enterprise: only its own")
@click.option("--enterprise", default=None, help="the enterprise code (role enterprise only)")
@click.option("--name", default=None, help="who or what holds the token (shown by list)")
@click.option("--expires", default=None,
              help="90d, 12h, 30m, 2w, a date (2026-12-31) or an ISO time; never by default")
@click.option("--quiet", is_flag=True, help="print only the token (for scripts)")
def create_cmd(config_path: Path | None, dsn: str | None, role: str, enterprise: str | None,
               name: str | None, expires: str | None, quiet: bool) -> None:
    """Issue a token; it is shown this once and stored only as its digest."""
    from cloud_ingest.api import tokens

    if (role == "enterprise") != (enterprise is not None):
        raise ConfigInvalid("--enterprise is required with --role enterprise, and only with it")
    expires_at = parse_expiry(expires, now=datetime.now(UTC))
    with _database(config_path, dsn) as (_cfg, conn):
        row, token = tokens.issue(conn, name=name or enterprise or role, role=role,  # type: ignore[arg-type]
                                  enterprise=enterprise, expires_at=expires_at, created_by=_who())
    if quiet:
        click.echo(token)
        return
    expiry = _when(row.expires_at) if row.expires_at else "never"
    click.echo(f"已创建 API 令牌 / API token created: id {row.id}, name {row.name!r}, role {row.role}, "
               f"enterprise {row.enterprise or '-'}, expires {expiry}")
    click.echo("令牌只显示这一次, 请立即妥善保存 / It is shown only this once; store it now:")
    click.echo(token)


@click.command("list")
@config_option
@dsn_option
def list_cmd(config_path: Path | None, dsn: str | None) -> None:
    """Every database token with its state (never the token itself)."""
    from cloud_ingest.api import tokens
    from cloud_ingest.api.auth import TokenStore
    from cloud_ingest.config import ConfigError

    now = datetime.now(UTC)
    with _database(config_path, dsn) as (cfg, conn):
        rows = tokens.list_tokens(conn)
    head = ("id", "名称 name", "角色 role", "企业 enterprise", "状态 state", "创建 created",
            "到期 expires", "最近使用 last used")
    table = [head] + [(str(r.id), r.name, r.role, r.enterprise or "-", _STATE[r.state(now)],
                       _when(r.created_at), _when(r.expires_at), _when(r.last_used_at)) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for line in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(数据库中没有令牌 / no tokens in the database: `cloud-ingest tokens create`)")
    path = cfg.api.tokens_path()
    if path is not None:
        try:
            n = len(TokenStore.load(path).entries)
        except ConfigError as err:
            raise CommandFailed(str(err)) from err
        click.echo(f"另有令牌文件中的 {n} 个 / plus {n} in the tokens file {path} "
                   "(edit the file to change them, or `cloud-ingest tokens import`)")


@click.command("revoke")
@config_option
@dsn_option
@click.argument("token_id", metavar="ID", type=int)
def revoke_cmd(config_path: Path | None, dsn: str | None, token_id: int) -> None:
    """Revoke a token by its id (see list); a running serve stops honouring it within
    api.token_cache_s seconds."""
    from cloud_ingest.api import tokens

    with _database(config_path, dsn) as (cfg, conn):
        row, revoked = tokens.revoke(conn, token_id)
    if row is None:
        raise CommandFailed(f"没有此令牌 / no token with id {token_id} (see `cloud-ingest tokens list`)")
    if not revoked:
        click.echo(f"令牌 {row.id} ({row.name}) 已于 {_when(row.revoked_at)} 吊销 / "
                   f"token {row.id} ({row.name}) was already revoked at {_when(row.revoked_at)}")
        return
    click.echo(f"已吊销令牌 {row.id} ({row.name}) / token {row.id} ({row.name}) revoked; a running serve "
               f"refuses it within {cfg.api.token_cache_s:g} s (api.token_cache_s)")


@click.command("import")
@config_option
@dsn_option
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def import_cmd(config_path: Path | None, dsn: str | None, file: Path | None) -> None:
    """Move the tokens file's entries (api.tokens_file, or FILE) into the database, by digest:
    the same tokens keep working, and can then be listed and revoked."""
    from cloud_ingest.api import tokens
    from cloud_ingest.api.auth import TokenStore
    from cloud_ingest.config import ConfigError

    cfg = load(config_path, dsn)
    path = file or cfg.api.tokens_path()
    if path is None:
        raise ConfigInvalid("no tokens file: name one (FILE), or set api.tokens_file / SFG_API_TOKENS_FILE")
    try:
        entries = TokenStore.load(path).entries
    except ConfigError as err:
        raise ConfigInvalid(str(err)) from err
    added = 0
    with _database(config_path, dsn) as (_cfg, conn):
        for e in entries:
            added += tokens.import_digest(conn, name=e.name, role=e.role, enterprise=e.enterprise,
                                          sha256_hex=e.digest(), created_by=_who())
    click.echo(f"已导入 {added} 个, {len(entries) - added} 个已存在 / imported {added}, "
               f"{len(entries) - added} already in the database, from {path}; the tokens file can now "
               "be emptied (its tokens work from the database)")
