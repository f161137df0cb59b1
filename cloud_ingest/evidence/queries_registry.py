"""Queries over the registry, the inventory, the births and deaths, and the dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from cloud_ingest.evidence.records import (
    DeadLetterRow,
    DeviceRow,
    EnterpriseRow,
    EventRow,
    GatewayRow,
    ImportRow,
    InventoryRow,
    TagRow,
)

Conn = psycopg.Connection[Any]


def ms(col: str) -> str:
    """A timestamptz column as epoch milliseconds (int8)."""
    return f"(date_part('epoch', {col}) * 1000)::int8"


def ts(param: str) -> str:
    """An epoch-milliseconds parameter as timestamptz."""
    return f"to_timestamp(({param})::int8 / 1000.0)"


def schema_version(conn: Conn) -> int:
    if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def enterprise(conn: Conn, code: str) -> EnterpriseRow | None:
    row = conn.execute(
        "SELECT id, code, name, industry, district FROM enterprises WHERE code = %s", (code,)
    ).fetchone()
    return (
        None
        if row is None
        else EnterpriseRow(id=row[0], code=row[1], name=row[2], industry=row[3], district=row[4])
    )


def enterprise_codes(conn: Conn, *, limit: int = 20) -> list[str]:
    return [r[0] for r in conn.execute("SELECT code FROM enterprises ORDER BY code LIMIT %s", (limit,))]


def gateways(conn: Conn, enterprise_id: int) -> list[GatewayRow]:
    return [
        GatewayRow(id=r[0], code=r[1])
        for r in conn.execute(
            "SELECT id, code FROM gateways WHERE enterprise_id = %s ORDER BY code", (enterprise_id,)
        )
    ]


def devices(conn: Conn, enterprise_id: int) -> list[DeviceRow]:
    return [
        DeviceRow(id=r[0], code=r[1], gateway_id=r[2], workshop=r[3], line=r[4], key_process=r[5])
        for r in conn.execute(
            "SELECT id, code, gateway_id, workshop, line, key_process FROM devices"
            " WHERE enterprise_id = %s ORDER BY code",
            (enterprise_id,),
        )
    ]


def tags(conn: Conn, enterprise_id: int) -> list[TagRow]:
    """Every tag of the enterprise with when it began: registration, or its first hour of data
    (found by one index probe per tag in the hourly rollup)."""
    rows = conn.execute(
        f"SELECT t.id, t.device_id, t.name, t.report_mode, t.interval_ms, t.heartbeat_ms, t.business_links,"
        f" {ms('t.first_seen')}, (SELECT {ms('h.bucket')} FROM samples_1h h WHERE h.tag_id = t.id"
        f"  ORDER BY h.bucket LIMIT 1)"
        f" FROM tags t JOIN devices d ON d.id = t.device_id WHERE d.enterprise_id = %s ORDER BY t.id",
        (enterprise_id,),
    )
    return [
        TagRow(
            id=r[0],
            device_id=r[1],
            name=r[2],
            report_mode=r[3],
            interval_ms=r[4],
            heartbeat_ms=r[5],
            links=tuple(r[6] or ()),
            first_seen=r[7],
            first_hour=r[8],
        )
        for r in rows
    ]


def first_samples(conn: Conn, tag_ids: Sequence[int], lo: Sequence[int], hi: Sequence[int]) -> dict[int, int]:
    """The exact first sample time of these tags within [lo, hi) (refining ``first_hour``)."""
    if not tag_ids:
        return {}
    rows = conn.execute(
        f"SELECT x.t, (SELECT {ms('s.ts')} FROM samples s WHERE s.tag_id = x.t AND s.ts >= {ts('x.lo')}"
        f"  AND s.ts < {ts('x.hi')} ORDER BY s.ts LIMIT 1)"
        " FROM unnest(%s::int[], %s::int8[], %s::int8[]) AS x(t, lo, hi)",
        (list(tag_ids), list(lo), list(hi)),
    )
    return {r[0]: r[1] for r in rows if r[1] is not None}


def inventory(conn: Conn, enterprise_id: int) -> list[InventoryRow]:
    return [
        InventoryRow(
            code=r[0],
            name=r[1],
            type=r[2],
            workshop=r[3],
            line=r[4],
            key_process=r[5],
            networked=r[6],
            digital=r[7],
            production=r[8],
            links=tuple(r[9] or ()),
        )
        for r in conn.execute(
            "SELECT code, name, type, workshop, line, key_process, networked, digital, production,"
            " business_links FROM inventory_devices WHERE enterprise_id = %s ORDER BY code",
            (enterprise_id,),
        )
    ]


def last_import(conn: Conn, enterprise_id: int) -> ImportRow | None:
    row = conn.execute(
        f"SELECT {ms('imported_at')}, source, sha256 FROM inventory_imports WHERE enterprise_id = %s"
        " ORDER BY imported_at DESC, id DESC LIMIT 1",
        (enterprise_id,),
    ).fetchone()
    return None if row is None else ImportRow(imported_at=row[0], source=row[1], sha256=row[2])


def events(conn: Conn, gateway_ids: Sequence[int], *, start: int, end: int) -> list[EventRow]:
    """Births and deaths received in the window, from the last birth before it on (the state at
    the start), each with the last data message received from its gateway before it."""
    rows = conn.execute(
        f"SELECT ge.gateway_id, ge.kind, ge.session, {ms('ge.ts')}, {ms('ge.received_at')}, ge.reason,"
        f" (SELECT {ms('b.received_at')} FROM batches b WHERE b.gateway_id = ge.gateway_id"
        f"  AND b.received_at < ge.received_at ORDER BY b.received_at DESC LIMIT 1)"
        f" FROM unnest(%(g)s::int[]) AS x(g)"
        f" LEFT JOIN LATERAL (SELECT received_at FROM gateway_events WHERE gateway_id = x.g"
        f"  AND kind = 'birth' AND received_at < {ts('%(s)s')} ORDER BY received_at DESC LIMIT 1) lb ON true"
        f" JOIN gateway_events ge ON ge.gateway_id = x.g"
        f"  AND ge.received_at >= coalesce(lb.received_at, {ts('%(s)s')}) AND ge.received_at < {ts('%(e)s')}"
        f" ORDER BY ge.gateway_id, ge.received_at, ge.id",
        {"g": list(gateway_ids), "s": start, "e": end},
    )
    return [
        EventRow(
            gateway_id=r[0], kind=r[1], session=r[2], ts=r[3], received=r[4], reason=r[5], last_before=r[6]
        )
        for r in rows
    ]


def last_messages(conn: Conn, gateway_ids: Sequence[int], *, before: int) -> dict[int, int]:
    """The last data message received from each gateway before ``before``."""
    rows = conn.execute(
        f"SELECT x.g, (SELECT {ms('b.received_at')} FROM batches b WHERE b.gateway_id = x.g"
        f"  AND b.received_at < {ts('%s')} ORDER BY b.received_at DESC LIMIT 1)"
        f" FROM unnest(%s::int[]) AS x(g)",
        (before, list(gateway_ids)),
    )
    return {r[0]: r[1] for r in rows if r[1] is not None}


DEAD_LETTER_LIMIT = 10_000


def dead_letters(
    conn: Conn, enterprise: str, *, start: int, end: int, lookahead_ms: int
) -> list[DeadLetterRow]:
    """Dead letters of the enterprise received from the window start until ``lookahead_ms``
    after its end (a rejected backlog batch arrives after the data it held), at most
    DEAD_LETTER_LIMIT of them."""
    rows = conn.execute(
        f"SELECT id, {ms('received_at')}, reason, gateway, payload FROM dead_letters"
        f" WHERE enterprise = %s AND received_at >= {ts('%s')} AND received_at < {ts('%s')}"
        " ORDER BY received_at, id LIMIT %s",
        (enterprise, start, end + lookahead_ms, DEAD_LETTER_LIMIT),
    )
    return [
        DeadLetterRow(id=r[0], received=r[1], reason=r[2], gateway=r[3], payload=bytes(r[4])) for r in rows
    ]
