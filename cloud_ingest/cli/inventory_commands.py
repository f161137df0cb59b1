"""``cloud-ingest inventory import | show | template``: the enterprise's equipment inventory
(设备台账), every production device including the ones no gateway reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from cloud_ingest.cli.database import database_error
from cloud_ingest.cli.options import config_option, dsn_option, load
from common.cli import CommandFailed, ConfigInvalid

_MAX_SHOWN = 50


@click.command("import")
@config_option
@dsn_option
@click.option("--enterprise", "-e", required=True, help="enterprise code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--partial", is_flag=True, help="keep the good rows when some are rejected")
@click.option("--replace", is_flag=True, help="the file is the complete list: remove rows not in it")
@click.option("--create", is_flag=True, help="register the enterprise if no gateway has reported for it yet")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def import_cmd(
    config_path: Path | None,
    dsn: str | None,
    enterprise: str,
    file: Path,
    partial: bool,
    replace: bool,
    create: bool,
    as_json: bool,
) -> None:
    """导入设备台账 Import an inventory from CSV (UTF-8 or GBK) or XLSX; template: `inventory template`."""
    import psycopg

    from cloud_ingest.evidence.inventory_file import InventoryFileError, parse
    from cloud_ingest.evidence.inventory_store import EnterpriseNotFound, InventoryRejected, store

    if partial and replace:
        raise ConfigInvalid(
            "--partial and --replace cannot be combined: a file with rejected rows is not the "
            "complete list / 不能同时使用 --partial 和 --replace"
        )
    cfg = load(config_path, dsn)
    try:
        parsed = parse(file.read_bytes(), filename=file.name)
    except InventoryFileError as err:
        raise ConfigInvalid(f"{file}: {err}") from err
    try:
        with psycopg.connect(
            cfg.dsn(), autocommit=True, connect_timeout=int(cfg.database.connect_timeout_s)
        ) as conn:
            result = store(
                conn,
                enterprise,
                parsed,
                source=file.name,
                partial=partial,
                replace=replace,
                by=f"cli:{os.environ.get('USER', 'unknown')}",
                create=create,
            )
    except InventoryRejected as err:
        lines = [
            f"error: {file}: {len(err.errors)} problems in {len({e.line for e in err.errors})} rows; nothing "
            "imported (use --partial to keep the good rows) / 有错误行，未导入任何数据"
        ]
        lines += [f"  {e}" for e in err.errors[:_MAX_SHOWN]]
        if len(err.errors) > _MAX_SHOWN:
            lines.append(f"  … {len(err.errors) - _MAX_SHOWN} more")
        raise CommandFailed("\n".join(lines).removeprefix("error: ")) from err
    except EnterpriseNotFound as err:
        raise ConfigInvalid(
            f"unknown enterprise {enterprise!r} / 未知企业: no gateway has reported for it; check the "
            "code, or pass --create to register it from the inventory"
        ) from err
    except psycopg.errors.UndefinedTable as err:
        raise CommandFailed(
            "the database schema has no inventory tables; run `cloud-ingest migrate`"
        ) from err
    except psycopg.Error as err:
        raise database_error(err, cfg) from err
    if as_json:
        click.echo(
            json.dumps(
                {
                    "enterprise": result.enterprise,
                    "imported": result.imported,
                    "mode": result.mode,
                    "removed": result.removed,
                    "encoding": result.encoding,
                    "sha256": result.sha256,
                    "ignored_columns": result.ignored_columns,
                    "rejected": [
                        {"line": e.line, "column": e.column, "message": e.message} for e in result.rejected
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    click.echo(
        f"导入 {result.imported} 行 / imported {result.imported} rows into {enterprise} "
        f"({result.mode}; read as {result.encoding})"
    )
    if result.removed:
        click.echo(
            f"删除 {result.removed} 行不在文件中的设备 / removed {result.removed} rows not in the file"
        )
    if result.ignored_columns:
        click.echo(f"忽略的列 ignored columns: {', '.join(result.ignored_columns)}")
    if result.rejected:
        click.echo(f"拒绝 {len({e.line for e in result.rejected})} 行 / rejected rows (not imported):")
        for e in result.rejected[:_MAX_SHOWN]:
            click.echo(f"  {e}")


@click.command("show")
@config_option
@dsn_option
@click.option("--enterprise", "-e", required=True, help="enterprise code")
@click.option("--json", "as_json", is_flag=True)
def show_cmd(config_path: Path | None, dsn: str | None, enterprise: str, as_json: bool) -> None:
    """查看设备台账 The inventory as stored, with whether a gateway announces each device."""
    import psycopg

    from cloud_ingest.evidence.inventory_store import rows
    from cloud_ingest.evidence.render import table

    cfg = load(config_path, dsn)
    try:
        with psycopg.connect(cfg.dsn(), connect_timeout=int(cfg.database.connect_timeout_s)) as conn:
            if conn.execute("SELECT 1 FROM enterprises WHERE code = %s", (enterprise,)).fetchone() is None:
                raise ConfigInvalid(f"unknown enterprise {enterprise!r} / 未知企业")
            found = rows(conn, enterprise)
    except psycopg.Error as err:
        raise database_error(err, cfg) from err
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2, default=str))
        return
    if not found:
        click.echo(f"{enterprise}: 尚无设备台账 / no inventory yet (cloud-ingest inventory import)")
        return

    def yn(v: bool) -> str:
        return "是" if v else "否"

    click.echo(
        table(
            [
                "编码 code",
                "名称 name",
                "车间 workshop",
                "产线 line",
                "关键工序 key",
                "已联网 networked",
                "数字化 digital",
                "生产 production",
                "网关上报 announced",
                "业务环节 links",
            ],
            [
                [
                    r["code"],
                    r["name"],
                    r["workshop"],
                    r["line"],
                    yn(r["key_process"]),
                    yn(r["networked"]),
                    yn(r["digital"]),
                    yn(r["production"]),
                    yn(r["announced"]),
                    ",".join(r["business_links"]),
                ]
                for r in found
            ],
        )
    )


@click.command("template")
@click.option("--xlsx", is_flag=True, help="an Excel workbook instead of CSV")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="file to write")
def template_cmd(xlsx: bool, out: Path) -> None:
    """台账模板 Write the inventory template (Chinese headers with English keys, example rows)."""
    from cloud_ingest.evidence.inventory_file import template_csv, template_xlsx

    if out.exists():
        raise ConfigInvalid(f"{out} exists; choose another file")
    out.write_bytes(template_xlsx() if xlsx else template_csv())
    click.echo(f"wrote {out}")
