"""``cloud-ingest gateways register|move|list|acl``: which gateway belongs to which enterprise.

A binding is fixed once made (see identity.py): ``register`` makes one ahead of the gateway's
first message (required with ``ingest.gateway_binding: registered``), ``move`` is the only way
to change one and is recorded with who did it, and ``acl`` writes the Mosquitto ACL that pins
each registered gateway to its own enterprise's topics at the broker as well.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cloud_ingest.cli.database import database_error
from cloud_ingest.cli.options import config_option, dsn_option, load
from common.cli import CommandFailed, ConfigInvalid

_IDENT = r"^[A-Za-z0-9_.\-]+$"


def _who() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _checked(value: str, what: str) -> str:
    import re

    if not re.fullmatch(_IDENT, value):
        raise ConfigInvalid(f"{what} {value!r}: use letters, digits, '.', '_' and '-' only "
                            "(it is a topic level and an MQTT username)")
    return value


@contextmanager
def _database(config_path: Path | None, dsn: str | None) -> Iterator[Any]:
    import psycopg

    cfg = load(config_path, dsn)
    try:
        with psycopg.connect(cfg.dsn(), autocommit=True,
                             connect_timeout=int(cfg.database.connect_timeout_s)) as conn:
            yield conn
    except psycopg.errors.UndefinedTable as err:
        raise CommandFailed("数据库缺少网关绑定表 (no gateway_bindings table): the schema is older than "
                            "this version: run `cloud-ingest migrate` first") from err
    except psycopg.Error as err:
        raise database_error(err, cfg) from err


@click.group("gateways")
def gateways() -> None:
    """网关身份 Gateway identity: which enterprise each gateway id belongs to."""


@gateways.command("register")
@config_option
@dsn_option
@click.option("--gateway", required=True, help="the gateway id (gateway.id in its config; its cert's CN)")
@click.option("--enterprise", required=True, help="the enterprise code it publishes for")
@click.option("--identity", default=None,
              help="its MQTT identity (certificate CN or username) when it is not the gateway id")
@click.option("--note", default=None, help="why, who asked (kept with the binding)")
def register_cmd(config_path: Path | None, dsn: str | None, gateway: str, enterprise: str,
                 identity: str | None, note: str | None) -> None:
    """Bind a gateway id to an enterprise before its first message."""
    from cloud_ingest.identity import read_binding

    _checked(gateway, "--gateway")
    _checked(enterprise, "--enterprise")
    if identity is not None:
        _checked(identity, "--identity")
    with _database(config_path, dsn) as conn, conn.transaction():
        existing = read_binding(conn, gateway)
        if existing is not None and existing.enterprise != enterprise:
            raise CommandFailed(
                f"网关已绑定其他企业 / gateway {gateway} is bound to enterprise {existing.enterprise} "
                f"(by {existing.bound_by}); if it really moved: cloud-ingest gateways move {gateway} "
                f"--to {enterprise}")
        conn.execute(
            "INSERT INTO gateway_bindings (gateway, enterprise, identity, bound_by, note)"
            " VALUES (%s, %s, %s, 'admin', %s) ON CONFLICT (gateway) DO UPDATE SET"
            " identity = coalesce(EXCLUDED.identity, gateway_bindings.identity),"
            " note = coalesce(EXCLUDED.note, gateway_bindings.note)",
            (gateway, enterprise, identity, note))
        if existing is None:
            conn.execute("INSERT INTO gateway_binding_changes (gateway, to_enterprise, changed_by, note)"
                         " VALUES (%s, %s, %s, %s)", (gateway, enterprise, _who(), note))
    if existing is None:
        click.echo(f"已绑定 / bound: gateway {gateway} → enterprise {enterprise}"
                   + (f", identity {identity}" if identity else ""))
    else:
        click.echo(f"已是此绑定 / already bound: gateway {gateway} → enterprise {enterprise}"
                   + (f"; identity now {identity}" if identity else ""))


@gateways.command("move")
@config_option
@dsn_option
@click.argument("gateway")
@click.option("--to", "enterprise", required=True, help="the enterprise it publishes for from now on")
@click.option("--note", default=None, help="why (kept in the change log)")
def move_cmd(config_path: Path | None, dsn: str | None, gateway: str, enterprise: str,
             note: str | None) -> None:
    """Rebind a gateway to another enterprise (its past data stays where it was stored)."""
    from cloud_ingest.identity import read_binding

    _checked(enterprise, "--to")
    with _database(config_path, dsn) as conn, conn.transaction():
        existing = read_binding(conn, gateway)
        if existing is None:
            raise CommandFailed(f"网关未绑定 / gateway {gateway} is not bound: cloud-ingest gateways "
                                f"register --gateway {gateway} --enterprise {enterprise}")
        if existing.enterprise == enterprise:
            click.echo(f"已是此绑定 / gateway {gateway} already belongs to {enterprise}")
            return
        conn.execute("UPDATE gateway_bindings SET enterprise = %s, bound_by = 'admin', bound_at = now(),"
                     " note = %s WHERE gateway = %s", (enterprise, note, gateway))
        conn.execute("INSERT INTO gateway_binding_changes (gateway, from_enterprise, to_enterprise,"
                     " changed_by, note) VALUES (%s, %s, %s, %s, %s)",
                     (gateway, existing.enterprise, enterprise, _who(), note))
    click.echo(f"已迁移 / moved: gateway {gateway} {existing.enterprise} → {enterprise}; its messages for "
               f"{existing.enterprise} are rejected from now on")


@gateways.command("list")
@config_option
@dsn_option
@click.option("--unbound", is_flag=True, help="gateways in the registry that no binding names")
def list_cmd(config_path: Path | None, dsn: str | None, unbound: bool) -> None:
    """Every binding: gateway, enterprise, identity, how and when it was bound."""
    with _database(config_path, dsn) as conn:
        if unbound:
            rows = conn.execute(
                "SELECT g.code, string_agg(e.code, ', ' ORDER BY e.code) FROM gateways g"
                " JOIN enterprises e ON e.id = g.enterprise_id"
                " WHERE NOT EXISTS (SELECT 1 FROM gateway_bindings b WHERE b.gateway = g.code)"
                " GROUP BY g.code ORDER BY g.code").fetchall()
            for code, ents in rows:
                click.echo(f"{code}  (seen under {ents})")
            if not rows:
                click.echo("(没有未绑定的网关 / every gateway in the registry is bound)")
            return
        rows = conn.execute("SELECT gateway, enterprise, coalesce(identity, gateway), bound_by,"
                            " to_char(bound_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
                            " FROM gateway_bindings ORDER BY enterprise, gateway").fetchall()
    head = ("网关 gateway", "企业 enterprise", "身份 identity", "绑定方式 bound by", "时间 at (UTC)")
    table = [head, *[tuple(str(v) for v in r) for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for line in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


@gateways.command("acl")
@config_option
@dsn_option
@click.option("--ingest-user", default="cloud-ingest", show_default=True,
              help="the MQTT identity of the cloud's ingest workers")
def acl_cmd(config_path: Path | None, dsn: str | None, ingest_user: str) -> None:
    """Print a Mosquitto acl_file with one block per bound gateway: its own enterprise's and its
    own gateway's topics only (examples/mosquitto/README.md)."""
    with _database(config_path, dsn) as conn:
        rows = conn.execute("SELECT gateway, enterprise, coalesce(identity, gateway) FROM gateway_bindings"
                            " ORDER BY gateway").fetchall()
    lines = ["# Mosquitto ACL made by `cloud-ingest gateways acl` from the gateway bindings;",
             "# make it again after `gateways register` or `move`, then reload mosquitto (SIGHUP).",
             "", f"user {ingest_user}", "topic read shopfloor/v1/#", "topic read spBv1.0/#",
             "topic write spBv1.0/+/NCMD/+"]
    for gateway, enterprise, identity in rows:
        lines += ["", f"user {identity}"]
        lines += [f"topic write shopfloor/v1/{enterprise}/{gateway}/{kind}"
                  for kind in ("birth", "data", "death")]
        lines += [f"topic write spBv1.0/+/{kind}/{gateway}" for kind in ("NBIRTH", "NDATA", "NDEATH")]
        lines += [f"topic write spBv1.0/+/{kind}/{gateway}/+" for kind in ("DBIRTH", "DDATA", "DDEATH")]
        lines += [f"topic read spBv1.0/+/NCMD/{gateway}", f"topic read spBv1.0/+/DCMD/{gateway}/+",
                  "topic read spBv1.0/STATE/+"]
    click.echo("\n".join(lines))
