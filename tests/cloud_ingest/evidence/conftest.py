"""A small enterprise written through the real write path, for the CLI and API tests: two
meters, one of them silent for a minute, a bad-quality stretch on the other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from cloud_ingest import migrate, rollups, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from wire.json_v1 import BirthMessage, Counters, DeviceCounters, DeviceInfo, TagInfo

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP = 10_000
ROUNDS = 60  # ten minutes


@dataclass(frozen=True)
class Small:
    dsn: str
    enterprise: str
    start: int
    end: int


def _write(dsn: str) -> None:
    devs = [
        DeviceInfo(
            id=d,
            profile="meter",
            protocol="modbus",
            workshop="W1",
            line="L1",
            key_process=d == "m1",
            tags=[TagInfo(name=t, type="float32", interval_ms=STEP, links=["energy"]) for t in ("p", "q")],
        )
        for d in ("m1", "m2")
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)
        reg, parts = Registry(), Partitions(flavor=flavor)
        reg.apply_birth(
            conn,
            BirthMessage(
                enterprise="ent-small",
                gateway="gw",
                session="s",
                ts=T0 - 1000,
                next_seq=1,
                agent_version="t",
                devices=devs,
            ),
            received_ms=T0 - 1000,
        )
        conn.execute("UPDATE tags SET first_seen = to_timestamp(%s / 1000.0)", (T0 - 1000,))
        items, read = [], 0
        for r in range(ROUNDS):
            ts = T0 + r * STEP
            samples: list[dict[str, object]] = []
            for d in ("m1", "m2"):
                if d == "m2" and 20 <= r < 26:
                    continue  # a minute of nothing
                bad = d == "m1" and 40 <= r < 43
                samples += [
                    {
                        "d": d,
                        "t": t,
                        "ts": ts,
                        "rt": ts,
                        "v": None if bad else float(r),
                        "q": "bad" if bad else "good",
                        **({"r": "device offline: refused"} if bad else {}),
                    }
                    for t in ("p", "q")
                ]
            read += len(samples)
            counters = Counters(
                batches_published=r + 1,
                devices={d: DeviceCounters(read=read // 2, published=read // 2) for d in ("m1", "m2")},
            )
            items.append(
                writer.Inbound(
                    DataBatch("ent-small", "gw", "s", r + 1, ts + 100, samples, counters), ts + 150
                )
            )
        writer.write(conn, items, registry=reg, partitions=parts)
        conn.execute("UPDATE batches SET stored_at = received_at + interval '20 milliseconds'")
        while rollups.roll_up_pending(conn, flavor=flavor):
            pass


@pytest.fixture
def small(pg_dsn: str) -> Iterator[Small]:
    migrate.migrate(pg_dsn)
    _write(pg_dsn)
    yield Small(pg_dsn, "ent-small", T0, T0 + ROUNDS * STEP)
