"""The one write path: validated data messages → ledger rows + binary COPY of samples, one transaction.

Idempotency lives in the batch ledger (``batches``, primary key gateway_id + seq), not in a
unique index on every sample: the ledger rows of a group of messages are inserted first, with
``ON CONFLICT DO NOTHING RETURNING``, and only the batches that came back are copied. A
redelivered or replayed batch conflicts and is skipped; two workers racing on the same batch
serialise on the ledger row (the second waits for the first to commit, then sees the conflict).
The samples table keeps only a non-unique (tag_id, ts) index, which costs about what the
reference table's primary key costs. How rows are packed for COPY: copy_rows.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from operator import itemgetter

import psycopg

from cloud_ingest.batch import DataBatch
from cloud_ingest.copy_rows import COLUMNS, copy_data, encode_batch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry, dumps

DAY_MS = 86_400_000
_DEVICE = itemgetter("d")
_TS = itemgetter("ts")
_RT = itemgetter("rt")
_COPY_SQL = f"COPY samples ({COLUMNS}) FROM STDIN (FORMAT BINARY)".encode()


@dataclass(frozen=True, slots=True)
class Inbound:
    """A validated data message and when the cloud received it (Unix ms)."""

    msg: DataBatch
    received_ms: int


@dataclass
class WriteResult:
    batches: int = 0
    duplicates: int = 0
    rows: int = 0


@dataclass(slots=True)
class _Prepared:
    item: Inbound
    gateway_id: int
    enterprise_id: int
    tags: dict[tuple[str, str], int]
    devices: dict[str, int]
    min_ts: int
    max_ts: int
    max_rt: int
    per_device: dict[int, int]  # device id -> samples in this batch (the ledger's batch_devices)


def _days(tss: list[int], lo_ms: int, hi_ms: int) -> set[int]:
    lo, hi = lo_ms // DAY_MS, hi_ms // DAY_MS
    if hi - lo <= 31:
        return set(range(lo, hi + 1))
    return {t // DAY_MS for t in tss}


def prepare(
    conn: psycopg.Connection, items: Sequence[Inbound], *, registry: Registry, partitions: Partitions
) -> list[_Prepared]:
    """Resolve ids and make partitions, on the autocommit connection, before the transaction."""
    out: list[_Prepared] = []
    seen: set[tuple[int, int]] = set()
    days: set[int] = set()
    for item in items:
        m = item.msg
        gw_id = registry.gateway_id(conn, m.enterprise, m.gateway)
        base = registry.stream_base(conn, gw_id, m.stream)
        if base:  # the ledger numbers a later stream's batches after every earlier stream's
            m = replace(m, seq=base + m.seq)
            item = Inbound(m, item.received_ms)
        if (gw_id, m.seq) in seen:
            continue  # the same batch twice in one group: the ledger would not see it
        seen.add((gw_id, m.seq))
        ent_id = registry.enterprise_id(conn, m.enterprise)
        tags = registry.tag_ids(conn, ent_id, gw_id, {(s["d"], s["t"]) for s in m.samples})
        counted = Counter(map(_DEVICE, m.samples))  # for batch_devices: samples per device
        devices = registry.device_ids(conn, ent_id, gw_id,
                                      counted.keys() | (m.counters.devices.keys() if m.counters else set()))
        tss = list(map(_TS, m.samples))
        lo, hi = min(tss), max(tss)
        days |= _days(tss, lo, hi)
        out.append(_Prepared(item, gw_id, ent_id, tags, devices, lo, hi, max(map(_RT, m.samples)),
                             {devices[d]: n for d, n in counted.items()}))
    partitions.ensure_days(conn, days)
    return out


def _claim(cur: psycopg.Cursor, batch: Sequence[_Prepared]) -> set[tuple[int, int]]:
    """Insert ledger rows; the ones returned are new, the rest were stored before."""
    order = sorted(batch, key=lambda p: (p.gateway_id, p.item.msg.seq))  # one lock order for all workers
    cur.execute(
        "INSERT INTO batches (gateway_id, seq, session, sent_at, received_at, n_samples, min_ts, max_ts,"
        " historical, max_rt) SELECT g, s, se, to_timestamp(sent / 1000.0),"
        " to_timestamp(recv / 1000.0), n, to_timestamp(lo / 1000.0), to_timestamp(hi / 1000.0), h,"
        " to_timestamp(rhi / 1000.0)"
        " FROM unnest(%s::int[], %s::int8[], %s::text[], %s::int8[], %s::int8[], %s::int[], %s::int8[],"
        " %s::int8[], %s::bool[], %s::int8[])"
        " WITH ORDINALITY AS x(g, s, se, sent, recv, n, lo, hi, h, rhi, o) ORDER BY o"
        " ON CONFLICT DO NOTHING RETURNING gateway_id, seq",
        (
            [p.gateway_id for p in order],
            [p.item.msg.seq for p in order],
            [p.item.msg.session for p in order],
            [p.item.msg.sent for p in order],
            [p.item.received_ms for p in order],
            [len(p.item.msg.samples) for p in order],
            [p.min_ts for p in order],
            [p.max_ts for p in order],
            [p.item.msg.historical for p in order],
            [p.max_rt for p in order],
        ),
    )
    return {(int(g), int(s)) for g, s in cur.fetchall()}


def _copy_samples(cur: psycopg.Cursor, batch: Sequence[_Prepared]) -> int:
    """One binary COPY for the whole group, rows grouped by tag (see copy_rows)."""
    by_tag: dict[int, list[bytes]] = {}
    n = 0
    for p in batch:
        n += encode_batch(p.item.msg.samples, tags=p.tags, gateway_id=p.gateway_id, seq=p.item.msg.seq,
                          into=by_tag)
    with cur.copy(_COPY_SQL) as cp:
        cp.write(copy_data(by_tag))
    return n


def _store_batch_devices(cur: psycopg.Cursor, batch: Sequence[_Prepared]) -> None:
    rows = [(p.gateway_id, p.item.msg.seq, dev, n) for p in batch for dev, n in sorted(p.per_device.items())]
    cur.execute(
        "INSERT INTO batch_devices (gateway_id, seq, device_id, n)"
        " SELECT * FROM unnest(%s::int[], %s::int8[], %s::int[], %s::int[])",
        tuple(map(list, zip(*rows, strict=True))),
    )


def _store_counters(cur: psycopg.Cursor, batch: Sequence[_Prepared]) -> None:
    hist = []
    devs = []
    for p in batch:
        c = p.item.msg.counters
        if c is None:
            continue
        m = p.item.msg
        raw = dumps(c.model_dump(mode="json"))
        hist.append((p.gateway_id, m.seq, m.sent, c.batches_published, raw))
        for code, dc in c.devices.items():
            devs.append((p.gateway_id, m.seq, p.devices[code], m.sent, dc.read, dc.buffered, dc.published,
                         dc.read_errors, dumps(dc.dropped), dc.skipped_polls))
    if not hist:
        return
    cur.executemany(
        "INSERT INTO gateway_counters (gateway_id, seq, sent_at, batches_published, raw)"
        " VALUES (%s, %s, to_timestamp(%s / 1000.0), %s, %s::jsonb) ON CONFLICT DO NOTHING",
        hist,
    )
    if devs:
        cur.executemany(
            "INSERT INTO device_counters (gateway_id, seq, device_id, sent_at, read, buffered, published,"
            " read_errors, dropped, skipped_polls)"
            " VALUES (%s, %s, %s, to_timestamp(%s / 1000.0), %s, %s, %s, %s, %s::jsonb, %s)"
            " ON CONFLICT DO NOTHING",
            devs,
        )
    latest: dict[int, tuple[int, int, int, int, str]] = {}
    for row in hist:
        if row[0] not in latest or latest[row[0]][1] < row[1]:
            latest[row[0]] = row
    cur.executemany(
        "INSERT INTO gateway_counters_latest (gateway_id, seq, sent_at, batches_published, raw)"
        " VALUES (%s, %s, to_timestamp(%s / 1000.0), %s, %s::jsonb) ON CONFLICT (gateway_id) DO UPDATE SET"
        " seq = EXCLUDED.seq, sent_at = EXCLUDED.sent_at, batches_published = EXCLUDED.batches_published,"
        " raw = EXCLUDED.raw, updated_at = now() WHERE gateway_counters_latest.seq < EXCLUDED.seq",
        [latest[g] for g in sorted(latest)],
    )


def write(
    conn: psycopg.Connection, items: Sequence[Inbound], *, registry: Registry, partitions: Partitions
) -> WriteResult:
    """Store a group of data messages in one transaction; duplicates are counted, not stored."""
    prepared = prepare(conn, items, registry=registry, partitions=partitions)
    result = WriteResult()
    with conn.transaction(), conn.cursor() as cur:
        fresh = _claim(cur, prepared)
        todo = [p for p in prepared if (p.gateway_id, p.item.msg.seq) in fresh]
        result.batches = len(todo)
        result.duplicates = len(items) - len(todo)
        if todo:
            result.rows = _copy_samples(cur, todo)
            _store_batch_devices(cur, todo)
            _store_counters(cur, todo)
            _stamp_stored(cur, todo)
    return result


def _stamp_stored(cur: psycopg.Cursor, todo: Sequence[_Prepared]) -> None:
    """The stored time is when the rows were all written, the last statement before the
    commit (clock_timestamp()), not the transaction's start (now(), the column's default): a
    group's COPY can take a while, and read → stored latency must not be understated."""
    cur.execute(
        "UPDATE batches SET stored_at = clock_timestamp() FROM unnest(%s::int[], %s::int8[]) AS"
        " x(g, s) WHERE batches.gateway_id = x.g AND batches.seq = x.s",
        ([p.gateway_id for p in todo], [p.item.msg.seq for p in todo]),
    )
