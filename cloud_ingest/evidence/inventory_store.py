"""Storing an imported inventory: all or nothing unless the user asks for the good rows
(``partial``), merged into what is there unless the file is declared the complete list
(``replace``), and recorded (file, digest, counts) so the figures can cite the import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg.rows import tuple_row

from cloud_ingest.evidence.inventory_file import Parsed, RowError


class InventoryRejected(ValueError):
    """Bad rows and no ``partial``: nothing was changed."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} rows rejected; nothing imported")
        self.errors = errors


class EnterpriseNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    enterprise: str
    imported: int
    rejected: list[RowError]
    removed: int
    mode: Literal["merge", "replace", "partial"]
    encoding: str
    sha256: str
    ignored_columns: list[str]


def enterprise_id(conn: psycopg.Connection[Any], code: str, *, create: bool) -> int:
    cur = conn.cursor(row_factory=tuple_row)
    row = cur.execute("SELECT id FROM enterprises WHERE code = %s", (code,)).fetchone()
    if row is not None:
        return int(row[0])
    if not create:
        raise EnterpriseNotFound(code)
    row = cur.execute(
        "INSERT INTO enterprises (code, registered_by) VALUES (%s, 'inventory')"
        " ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code RETURNING id",
        (code,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def store(
    conn: psycopg.Connection[Any],
    enterprise: str,
    parsed: Parsed,
    *,
    source: str,
    partial: bool,
    replace: bool,
    by: str | None,
    create: bool = False,
) -> ImportResult:
    if partial and replace:
        raise ValueError(
            "--partial and --replace cannot be combined: a file with rejected rows is not the complete list"
        )
    if parsed.errors and not partial:
        raise InventoryRejected(parsed.errors)
    mode: Literal["merge", "replace", "partial"] = "partial" if partial else "replace" if replace else "merge"
    with conn.transaction():
        ent_id = enterprise_id(conn, enterprise, create=create)
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (0x5F6_1A7E, ent_id))  # one import at a time
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO inventory_devices (enterprise_id, code, name, type, workshop, line, key_process,"
                " networked, digital, production, business_links, notes, line_no)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (enterprise_id, code) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type,"
                " workshop = EXCLUDED.workshop, line = EXCLUDED.line, key_process = EXCLUDED.key_process,"
                " networked = EXCLUDED.networked, digital = EXCLUDED.digital, production ="
                " EXCLUDED.production,"
                " business_links = EXCLUDED.business_links, notes = EXCLUDED.notes, line_no ="
                " EXCLUDED.line_no,"
                " updated_at = now()",
                [
                    (
                        ent_id,
                        r.code,
                        r.name,
                        r.type,
                        r.workshop,
                        r.line_name,
                        r.key_process,
                        r.networked,
                        r.digital,
                        r.production,
                        list(r.links),
                        r.notes,
                        r.line,
                    )
                    for r in parsed.rows
                ],
            )
        removed = 0
        if replace:
            cur2 = conn.execute(
                "DELETE FROM inventory_devices WHERE enterprise_id = %s AND NOT (code = ANY(%s))",
                (ent_id, [r.code for r in parsed.rows]),
            )
            removed = cur2.rowcount
        conn.execute(
            "INSERT INTO inventory_imports (enterprise_id, source, sha256, encoding, mode, rows_ok,"
            " rows_rejected,"
            " rows_removed, imported_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                ent_id,
                source,
                parsed.sha256,
                parsed.encoding,
                mode,
                len(parsed.rows),
                len({e.line for e in parsed.errors}),
                removed,
                by,
            ),
        )
    return ImportResult(
        enterprise=enterprise,
        imported=len(parsed.rows),
        rejected=parsed.errors,
        removed=removed,
        mode=mode,
        encoding=parsed.encoding,
        sha256=parsed.sha256,
        ignored_columns=parsed.ignored_columns,
    )


def rows(conn: psycopg.Connection[Any], enterprise: str) -> list[dict[str, Any]]:
    """The enterprise's inventory, as the API and `inventory show` give it."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "SELECT i.code, i.name, i.type, i.workshop, i.line, i.key_process, i.networked, i.digital,"
        " i.production,"
        " i.business_links, i.notes, i.updated_at, d.id IS NOT NULL AS announced"
        " FROM inventory_devices i JOIN enterprises e ON e.id = i.enterprise_id"
        " LEFT JOIN devices d ON d.enterprise_id = i.enterprise_id AND d.code = i.code"
        " WHERE e.code = %s ORDER BY i.code",
        (enterprise,),
    )
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
