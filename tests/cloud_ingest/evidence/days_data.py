"""Four days of a small enterprise written through the real write path, for the daily rollup:
whole UTC days, windows whose edges fall inside days, cells that cut days (Asia/Shanghai
midnight is 16:00 UTC), and faults inside closed days.

Two meters (a, b) with two tags (p, q) each, one sample per tag every 2 minutes from
2025-12-31T08:00Z to 2026-01-05T08:00Z. Faults (UTC):

- a offline 2026-01-02 10:00–12:00 (bad samples, "device offline: timeout"), inside a whole day;
- b silent 2026-01-01 15:00–16:30 (no samples), across a Shanghai midnight;
- a.q's sample of 2026-01-03 16:00:00 taken at 15:59:59: that day holds its 720 samples, all
  good, but one hour 31 and the next 29, on both sides of a Shanghai midnight;
- b.q silent the whole of 2026-01-03 (a day with no row in the daily rollup).
"""

from __future__ import annotations

import psycopg

from cloud_ingest import rollups, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from wire.json_v1 import BirthMessage, Counters, DeviceCounters, DeviceInfo, TagInfo

HOUR = 3_600_000
DAY = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
D0 = T0 - 16 * HOUR  # first sample
STEP = 120_000
ROUNDS = 5 * 24 * 30  # five days
ENT = "ent-days"

A_OFF = (T0 + DAY + 10 * HOUR, T0 + DAY + 12 * HOUR)
B_SILENT = (T0 + 15 * HOUR, T0 + 16 * HOUR + 30 * 60_000)
MOVED = T0 + 2 * DAY + 16 * HOUR  # a.q's sample of this instant is taken a second early
B_Q_SILENT = (T0 + 2 * DAY, T0 + 3 * DAY)


def _sample(d: str, t: str, ts: int, *, bad: bool = False) -> dict[str, object]:
    return {
        "d": d,
        "t": t,
        "ts": ts,
        "rt": ts,
        "v": None if bad else float(ts // STEP % 97),
        "q": "bad" if bad else "good",
        **({"r": "device offline: timeout"} if bad else {}),
    }


def samples_at(ts: int) -> list[dict[str, object]]:
    out = []
    for d in ("a", "b"):
        if d == "b" and B_SILENT[0] <= ts < B_SILENT[1]:
            continue
        for t in ("p", "q"):
            if (d, t) == ("b", "q") and B_Q_SILENT[0] <= ts < B_Q_SILENT[1]:
                continue
            at = ts - 1000 if (d, t, ts) == ("a", "q", MOVED) else ts
            out.append(_sample(d, t, at, bad=d == "a" and A_OFF[0] <= ts < A_OFF[1]))
    return out


def write(dsn: str) -> None:
    """The four days, every batch rolled up."""
    devs = [
        DeviceInfo(
            id=d,
            profile="meter",
            protocol="modbus",
            workshop="W1",
            line="L1",
            key_process=d == "a",
            tags=[TagInfo(name=t, type="float32", interval_ms=STEP) for t in ("p", "q")],
        )
        for d in ("a", "b")
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)
        reg, parts = Registry(), Partitions(flavor=flavor)
        reg.apply_birth(
            conn,
            BirthMessage(enterprise=ENT, gateway="gw", session="s", ts=D0 - 1000, next_seq=1,
                         agent_version="t", devices=devs),
            received_ms=D0 - 1000,
        )
        conn.execute("UPDATE tags SET first_seen = to_timestamp(%s / 1000.0)", (D0 - 1000,))
        read = {"a": 0, "b": 0}
        items = []
        for r in range(ROUNDS):
            ts = D0 + r * STEP
            batch = samples_at(ts)
            for s in batch:
                read[str(s["d"])] += 1
            counters = Counters(
                batches_published=r + 1,
                devices={d: DeviceCounters(read=n, published=n) for d, n in read.items()},
            )
            msg = DataBatch(ENT, "gw", "s", r + 1, ts + 100, batch, counters)
            items.append(writer.Inbound(msg, ts + 150))
        writer.write(conn, items, registry=reg, partitions=parts)
        conn.execute("UPDATE batches SET stored_at = received_at + interval '20 milliseconds'")
        roll_up(conn)


def roll_up(conn: psycopg.Connection) -> None:
    while rollups.roll_up_pending(conn, flavor=flavor_of(conn)):
        pass


def write_late(dsn: str, seq: int, samples: list[dict[str, object]], *, received_ms: int) -> None:
    """One more batch, arriving late (not rolled up)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        item = writer.Inbound(DataBatch(ENT, "gw", "s", seq, received_ms - 50, samples), received_ms)
        writer.write(conn, [item], registry=Registry(), partitions=Partitions(flavor=flavor_of(conn)))


# The daily rollup recomputed from the raw samples: per tag and UTC day, the rollup's columns.
RAW_DAYS = (
    "SELECT tag_id, day, sum(n)::int8, sum(g)::int8, sum(nv)::int8, sum(s), min(mn), max(mx), count(*)::int,"
    " min(g)::int8 FROM (SELECT tag_id, date_trunc('day', ts AT TIME ZONE 'UTC') AS day,"
    " date_trunc('hour', ts AT TIME ZONE 'UTC') AS hour, count(*) AS n,"
    " count(*) FILTER (WHERE quality = 0) AS g, count(value) AS nv, sum(value) AS s, min(value) AS mn,"
    " max(value) AS mx FROM samples GROUP BY 1, 2, 3) h GROUP BY 1, 2 ORDER BY 1, 2"
)
ROLLUP_DAYS = (
    "SELECT tag_id, bucket AT TIME ZONE 'UTC', n, n_good, n_values, sum, min, max, hours, n_good_min"
    " FROM samples_1d ORDER BY 1, 2"
)
