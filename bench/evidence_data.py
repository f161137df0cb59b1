"""The dataset of bench/evidence.py: one enterprise-month with known faults, written through the
product's own write path (``cloud_ingest.writer.write``: ledger, binary COPY, counters,
per-device counts), not through MQTT, so 13 million samples take minutes, not hours.

Shape (scale 1): 50 devices × 30 tags, every tag every ``interval_s`` (300 s: 50 × 30 × 8,640 =
12.96 M samples in 30 days), two gateways of 25 devices; each gateway sends one batch per poll
round (750 samples) carrying its counters, as the agent does. Faults, placed deterministically:

- dev03 is offline for 2 hours on day 2 (bad samples, reason "device offline: …");
- gateway gw1 loses its uplink for 3 hours on day 5: those batches arrive 3 hours late, marked
  historical (late but complete);
- dev07 loses 1 hour on day 8 to a full buffer: nothing stored, its ``buffer_full`` drop counter
  grows by exactly those samples;
- dev11's batch share of 30 minutes on day 12 is rejected: a dead letter with its samples;
- five inventory rows are production devices no gateway reads (not networked).

``stored_at`` is set to the receive time + 30 ms after writing (the writer stamps ``now()``,
which in a bench that writes a month in minutes would make every batch look days late).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg

from cloud_ingest import rollups, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.inbound import Rejected
from cloud_ingest.ingestor import store_dead_letters
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from wire.json_v1 import BirthMessage, Counters, DeviceCounters, DeviceInfo, TagInfo

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
ENTERPRISE = "ent-bench"
LINKS = ["energy", "equipment", "production_control", "quality"]


@dataclass(frozen=True, kw_only=True)
class Shape:
    days: float = 30.0
    devices: int = 50
    tags: int = 30
    interval_s: int = 300
    gateways: int = 2
    t0: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z

    @property
    def rounds(self) -> int:
        return int(self.days * DAY_MS // (self.interval_s * 1000))

    @property
    def samples(self) -> int:
        return self.rounds * self.devices * self.tags

    @property
    def end(self) -> int:
        return self.t0 + self.rounds * self.interval_s * 1000

    def gateway_of(self, dev: int) -> int:
        return dev * self.gateways // self.devices

    def fault_at(self, day: float) -> int:
        """A fault's start: that day of the month, scaled into short runs."""
        return self.t0 + int(min(day, self.days * 0.8) * DAY_MS * min(1.0, self.days / 30)) // 60_000 * 60_000


@dataclass(frozen=True, kw_only=True)
class Faults:
    offline: tuple[int, int, int]  # device, start, end
    late: tuple[int, int, int]  # gateway, start, end
    dropped: tuple[int, int, int]  # device, start, end
    rejected: tuple[int, int, int]  # device, start, end


def faults_of(shape: Shape) -> Faults:
    f = shape.fault_at
    return Faults(
        offline=(3, f(2) + 10 * HOUR_MS, f(2) + 12 * HOUR_MS),
        late=(1, f(5) + 8 * HOUR_MS, f(5) + 11 * HOUR_MS),
        dropped=(7, f(8) + 14 * HOUR_MS, f(8) + 15 * HOUR_MS),
        rejected=(11, f(12) + 9 * HOUR_MS, f(12) + 9 * HOUR_MS + 30 * 60_000),
    )


def births(shape: Shape) -> list[BirthMessage]:
    out = []
    for g in range(shape.gateways):
        devs = [
            DeviceInfo(
                id=f"dev{d:02d}",
                profile="bench",
                protocol="modbus",
                workshop=f"W{d % 3 + 1}",
                line=f"L{d % 6 + 1}",
                key_process=d % 5 == 0,
                tags=[
                    TagInfo(
                        name=f"t{t:02d}",
                        type="float32",
                        interval_ms=shape.interval_s * 1000,
                        links=[LINKS[t % len(LINKS)]],
                    )
                    for t in range(shape.tags)
                ],
            )
            for d in range(shape.devices)
            if shape.gateway_of(d) == g
        ]
        out.append(
            BirthMessage(
                enterprise=ENTERPRISE,
                gateway=f"gw{g}",
                session="bench",
                ts=shape.t0 - 60_000,
                next_seq=1,
                agent_version="bench",
                devices=devs,
            )
        )
    return out


def messages(shape: Shape, faults: Faults) -> Iterator[tuple[writer.Inbound, list[dict[str, object]]]]:
    """(message to store, samples rejected instead) per gateway per poll round, in time order."""
    counters = {d: {"read": 0, "published": 0, "dropped": 0} for d in range(shape.devices)}
    seq = [0] * shape.gateways
    step = shape.interval_s * 1000
    phase = step // shape.devices
    for r in range(shape.rounds):
        for g in range(shape.gateways):
            samples: list[dict[str, object]] = []
            rejected: list[dict[str, object]] = []
            for d in range(shape.devices):
                if shape.gateway_of(d) != g:
                    continue
                ts = shape.t0 + r * step + d * phase
                c = counters[d]
                c["read"] += shape.tags
                dev_off = faults.offline[0] == d and faults.offline[1] <= ts < faults.offline[2]
                if faults.dropped[0] == d and faults.dropped[1] <= ts < faults.dropped[2]:
                    c["dropped"] += shape.tags
                    continue
                rows = [
                    {
                        "d": f"dev{d:02d}",
                        "t": f"t{t:02d}",
                        "ts": ts,
                        "rt": ts,
                        "v": None if dev_off else float((r * 7 + t) % 1000),
                        "q": "bad" if dev_off else "good",
                        **(
                            {"r": f"device offline: device dev{d:02d}: [Errno 111] Connection refused"}
                            if dev_off
                            else {}
                        ),
                    }
                    for t in range(shape.tags)
                ]
                if faults.rejected[0] == d and faults.rejected[1] <= ts < faults.rejected[2]:
                    rejected += rows
                else:
                    samples += rows
                c["published"] += shape.tags
            if not samples:
                continue
            seq[g] += 1
            last = max(int(s["ts"]) for s in samples)  # type: ignore[call-overload]
            late = faults.late[0] == g and faults.late[1] <= last < faults.late[2]
            sent = faults.late[2] + 60_000 if late else last + 150
            devs = {
                f"dev{d:02d}": DeviceCounters(
                    read=c["read"],
                    buffered=c["read"] - c["dropped"],
                    published=c["published"] - shape.tags * 0,
                    dropped={"buffer_full": c["dropped"]} if c["dropped"] else {},
                )
                for d, c in counters.items()
                if shape.gateway_of(d) == g
            }
            msg = DataBatch(
                ENTERPRISE,
                f"gw{g}",
                "bench",
                seq[g],
                sent,
                samples,
                Counters(batches_published=seq[g], devices=devs),
                late,
                None,
            )
            yield writer.Inbound(msg, sent + 200), rejected


def build(dsn: str, shape: Shape, *, writers: int = 2, log: object = print) -> dict[str, int]:
    """Write the dataset into a migrated database; returns what was written."""
    faults = faults_of(shape)
    stats = {"samples": 0, "batches": 0, "rejected_samples": 0}
    with psycopg.connect(dsn, autocommit=True) as conn:
        reg = Registry()
        for b in births(shape):
            reg.apply_birth(conn, b, received_ms=shape.t0 - 60_000)
        conn.execute("UPDATE tags SET first_seen = to_timestamp(%s / 1000.0)", (shape.t0 - 60_000,))
        for day in range(shape.t0 // DAY_MS - 1, shape.end // DAY_MS + 2):
            conn.execute("SELECT sfg_ensure_day_partition(date '1970-01-01' + %s)", (day,))
    source = messages(shape, faults)
    lock = threading.Lock()
    dead: list[tuple[str, bytes, int, Rejected]] = []

    def work() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            reg, parts = Registry(), Partitions(flavor="plain")
            parts.load(conn)
            while True:
                group = []
                with lock:
                    for item, rejected in source:
                        group.append(item)
                        if rejected:
                            payload = json.dumps(
                                {
                                    "v": 1,
                                    "type": "data",
                                    "enterprise": ENTERPRISE,
                                    "gateway": item.msg.gateway,
                                    "session": "bench",
                                    "seq": 1,
                                    "sent": item.msg.sent,
                                    "samples": rejected,
                                    "q_flag": "not in the schema",
                                }
                            ).encode()
                            dead.append(
                                (
                                    f"shopfloor/v1/{ENTERPRISE}/{item.msg.gateway}/data",
                                    payload,
                                    item.received_ms,
                                    Rejected("schema", "q_flag: extra field", ENTERPRISE, item.msg.gateway),
                                )
                            )
                            stats["rejected_samples"] += len(rejected)
                        if len(group) >= 20:
                            break
                if not group:
                    return
                res = writer.write(conn, group, registry=reg, partitions=parts)
                with lock:
                    stats["samples"] += res.rows
                    stats["batches"] += res.batches

    threads = [threading.Thread(target=work) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(dsn, autocommit=True) as conn:
        if dead:
            store_dead_letters(conn, dead)
        conn.execute("UPDATE batches SET stored_at = received_at + interval '30 milliseconds'")
        while rollups.roll_up_pending(conn, flavor="plain", limit=2000):
            pass
        conn.execute("VACUUM ANALYZE")
    return stats
