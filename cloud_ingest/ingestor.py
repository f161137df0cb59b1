"""One group of MQTT deliveries → database, all or nothing, retried until the database takes it.

The order of work in a group: decode (rejects become dead letters), apply births and deaths,
store the data messages in one transaction, write the dead letters; only then are the
deliveries acknowledged, by the caller. A group holding more than ``batch_max_samples`` samples
is stored as several transactions, in order, before anything is acknowledged (a message
stored twice, after a stop in between, is known by its ledger entry). A lost database
connection is retried with capped backoff for as long as it takes, holding the group
unacknowledged (so the broker holds the rest); so is any database error that is not a
message's own fault. A data or integrity error
(SQLSTATE classes 22, 23) is the message's fault: the group is retried one message at a time and
the culprit goes to the dead letters with the error, so one poison message cannot stall the
stream.

Before anything is stored, every message's gateway is checked against its binding to an
enterprise (``identity.py``): one that speaks for another enterprise, an unregistered one (when
bindings are made by admins only) or one the broker names as another publisher goes to the dead
letters and registers nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import psycopg

from cloud_ingest import writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.config import CloudConfig
from cloud_ingest.db_errors import describe
from cloud_ingest.delivery import Delivery
from cloud_ingest.identity import GatewayBindings
from cloud_ingest.inbound import Rejected, decode, split_topic
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry, ms_to_dt
from cloud_ingest.sparkplug_gate import HeldStatus
from common.backoff import Backoff
from wire.json_v1 import BirthMessage, DataMessage, DeathMessage
from wire.sparkplug.decoder import NodeData

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
# Errors that are a message's own fault (SQLSTATE classes 22 and 23): that message goes to the
# dead letters. Any other database error (connection, disk full, timeouts, a schema that does
# not match) is the system's: nothing is acknowledged and the group is retried with backoff.
_MESSAGE_ERRORS = (psycopg.DataError, psycopg.IntegrityError)


@dataclass
class Stats:
    messages: int = 0
    batches: int = 0
    duplicates: int = 0
    rows: int = 0
    dead_letters: int = 0
    identity_rejected: int = 0  # of the dead letters: gateway bindings and publishers
    db_retries: int = 0
    last_error: str | None = None
    # Sparkplug (of the worker's MQTT source, see sparkplug_gate): waiting for births now, and
    # turned into dead letters by the time limit / the caps so far
    sparkplug_held: int = 0
    sparkplug_held_nodes: int = 0
    sparkplug_held_oldest_s: float = 0.0
    sparkplug_held_expired: int = 0
    sparkplug_held_overflowed: int = 0
    sparkplug_rebirth_requests: int = 0


class StatsView:
    """The sum over a worker's writers (each counts its own, so no locking on the hot path)."""

    def __init__(self, ingestors: Sequence[Ingestor],
                 sparkplug: Callable[[], HeldStatus | None] | None = None) -> None:
        self._ingestors = ingestors
        self.sparkplug = sparkplug  # set once the MQTT source exists

    def total(self) -> Stats:
        out = Stats()
        for ing in self._ingestors:
            s = ing.stats
            out.messages += s.messages
            out.batches += s.batches
            out.duplicates += s.duplicates
            out.rows += s.rows
            out.dead_letters += s.dead_letters
            out.identity_rejected += s.identity_rejected
            out.db_retries += s.db_retries
            out.last_error = s.last_error or out.last_error
        held = self.sparkplug() if self.sparkplug is not None else None
        if held is not None:
            out.sparkplug_held, out.sparkplug_held_nodes = held.messages, held.nodes
            out.sparkplug_held_oldest_s, out.sparkplug_held_expired = held.oldest_s, held.expired
            out.sparkplug_held_overflowed = held.overflowed
            out.sparkplug_rebirth_requests = held.rebirth_requests
        return out


@dataclass
class _Group:
    data: list[tuple[Delivery, writer.Inbound]] = field(default_factory=list)
    control: list[tuple[Delivery, BirthMessage | DeathMessage]] = field(default_factory=list)
    rejected: list[tuple[Delivery, Rejected]] = field(default_factory=list)
    births: set[int] = field(default_factory=set)  # ids of data items that are birth values

    def add(self, other: _Group) -> None:
        self.data += other.data
        self.control += other.control
        self.rejected += other.rejected
        self.births |= other.births


class Ingestor:
    def __init__(self, cfg: CloudConfig, *, stop: threading.Event) -> None:
        self.cfg = cfg
        self.stop = stop
        self.registry = Registry()
        self.bindings = GatewayBindings(mode=cfg.ingest.gateway_binding,
                                        publisher_property=cfg.mqtt.publisher_property)
        self.partitions: Partitions | None = None
        self.stats = Stats()
        self._conn: psycopg.Connection | None = None
        self.busy = False
        self.abandoned = 0  # groups given up on at shutdown, left unacknowledged

    # -- connection ----------------------------------------------------------------------

    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self.cfg.dsn(), autocommit=True, connect_timeout=int(self.cfg.database.connect_timeout_s),
                options=f"-c statement_timeout={int(self.cfg.database.statement_timeout_s * 1000)}",
            )
            row = conn.execute("SELECT flavor FROM schema_version ORDER BY version DESC LIMIT 1").fetchone()
            flavor = row[0] if row else "plain"
            self.partitions = Partitions(flavor=flavor)
            self.partitions.load(conn)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- one group -------------------------------------------------------------------------

    def handle(self, deliveries: Sequence[Delivery]) -> bool:
        """Store the group; True when it is safe to acknowledge, False if stopped before that."""
        for group in self._groups(deliveries):
            if not self._store_retrying(group):
                return False  # nothing acknowledged: what was stored comes again, and is known
        self.stats.messages += len(deliveries)
        return True

    def _store_retrying(self, group: _Group) -> bool:
        backoff = Backoff(initial_s=0.2, max_s=self.cfg.ingest.retry_max_s)
        attempt = 0
        while True:
            try:
                self._store(group)
                return True
            except psycopg.Error as err:
                self.stats.db_retries += 1
                attempt += 1
                delay = backoff.delay(attempt)
                self.stats.last_error = f"{type(err).__name__}: {str(err).strip()[:300]}"
                log.warning("database unavailable (%s); retrying in %.1fs", self.stats.last_error, delay)
                self.close()
                if self.stop.wait(delay):
                    self.abandoned += 1
                    return False

    def _groups(self, deliveries: Sequence[Delivery]) -> Iterator[_Group]:
        """The deliveries decoded in order, as transactions of at most ``batch_max_samples``
        samples (a message with more is one of its own). The MQTT source bounds a group by
        payload bytes only, and a byte of gzip or of wire blocks holds many more samples than
        a byte of plain samples: the samples decoded at once, and a transaction's size,
        follow this bound, not the bytes."""
        cap = self.cfg.ingest.batch_max_samples
        group, n = _Group(), 0
        for d in deliveries:
            one = self._decode(d)
            k = sum(len(item.msg.samples) for _, item in one.data)
            if n and n + k > cap:
                yield group
                group, n = _Group(), 0
            group.add(one)
            n += k
        if group.data or group.control or group.rejected:
            yield group

    def _decode(self, d: Delivery) -> _Group:
        group = _Group()
        # Sparkplug arrives decoded (in order, by the gate); JSON is decoded here
        msgs = (d.decoded if d.decoded is not None
                else (decode(d.topic, d.payload, max_bytes=self.cfg.ingest.max_message_bytes),))
        for msg in msgs:
            if isinstance(msg, Rejected):
                group.rejected.append((d, msg))
            elif isinstance(msg, DataBatch):
                group.data.append((d, writer.Inbound(msg, d.received_ms)))
            elif isinstance(msg, DataMessage):
                group.data.append((d, writer.Inbound(DataBatch.of(msg), d.received_ms)))
            elif isinstance(msg, NodeData):  # any Sparkplug edge node: keyed, no counters
                batch = DataBatch(msg.enterprise, msg.gateway, msg.session, msg.key, msg.sent,
                                  [s.model_dump() for s in msg.samples], historical=msg.historical)
                group.data.append((d, writer.Inbound(batch, d.received_ms)))
                if msg.birth:
                    group.births.add(id(group.data[-1][1]))
            else:
                group.control.append((d, msg))
        return group

    def _screen(self, conn: psycopg.Connection,
                group: _Group) -> tuple[_Group, list[tuple[Delivery, Rejected]]]:
        """The group without the messages whose gateway may not speak for their enterprise."""
        out = _Group(rejected=list(group.rejected), births=group.births)
        refused: list[tuple[Delivery, Rejected]] = []
        for d, msg in group.control:
            devices = [dev.id for dev in msg.devices] if isinstance(msg, BirthMessage) else []
            why = self.bindings.check(conn, enterprise=msg.enterprise, gateway=msg.gateway,
                                      publisher=d.publisher, devices=devices)
            if why is None:
                out.control.append((d, msg))
            else:
                refused.append((d, why))
        for d, item in group.data:
            why = self.bindings.check(conn, enterprise=item.msg.enterprise, gateway=item.msg.gateway,
                                      publisher=d.publisher)
            if why is None:
                out.data.append((d, item))
            else:
                refused.append((d, why))
        return out, refused

    def _store(self, group: _Group) -> None:
        conn = self.connection()
        assert self.partitions is not None
        group, refused = self._screen(conn, group)
        rejected = group.rejected + refused
        for d, msg in group.control:
            try:
                if isinstance(msg, BirthMessage):
                    self.registry.apply_birth(conn, msg, received_ms=d.received_ms)
                else:
                    self.registry.apply_death(conn, msg, received_ms=d.received_ms)
            except _MESSAGE_ERRORS as err:
                rejected.append((d, self._db_reject(d, err)))
        if group.births:
            kept = []
            for d, item in group.data:
                fresh = self._new_birth_values(conn, item) if id(item) in group.births else item
                if fresh is not None:
                    kept.append((d, fresh))
            group.data, group.births = kept, set()
        if group.data:
            items = [i for _, i in group.data]
            try:
                self._count(writer.write(conn, items, registry=self.registry, partitions=self.partitions))
            except _MESSAGE_ERRORS as err:
                if isinstance(err, psycopg.errors.CheckViolation):
                    # "no partition for row": a cached day was dropped (retention) or made by
                    # another worker's rollback; relearn the partitions before blaming a message
                    self.partitions.load(conn)
                log.warning("a group failed (%s); retrying its messages one at a time",
                            str(err).strip()[:300])
                for d, item in group.data:
                    try:
                        self._count(writer.write(conn, [item], registry=self.registry,
                                                 partitions=self.partitions))
                    except _MESSAGE_ERRORS as err:
                        rejected.append((d, self._db_reject(d, err)))
        if rejected:
            store_dead_letters(conn, [(d.topic, d.payload, d.received_ms, r) for d, r in rejected])
            self.stats.dead_letters += len(rejected)
            self.stats.identity_rejected += len(refused)
            for _d, r in refused:
                log.warning("rejected (%s): %s", r.reason, r.detail)

    def _new_birth_values(self, conn: psycopg.Connection, item: writer.Inbound) -> writer.Inbound | None:
        """A Sparkplug node's birth values without those stored already (same tag, same
        timestamp): a rebirth, e.g. one we asked for after a restart, sends them again."""
        m = item.msg
        ent_id = self.registry.enterprise_id(conn, m.enterprise)
        gw_id = self.registry.gateway_id(conn, m.enterprise, m.gateway)
        tags = self.registry.tag_ids(conn, ent_id, gw_id, {(s["d"], s["t"]) for s in m.samples})
        keys = [(tags[(s["d"], s["t"])], EPOCH + timedelta(milliseconds=s["ts"])) for s in m.samples]
        stored = set(conn.execute(
            "SELECT s.tag_id, s.ts FROM samples s JOIN unnest(%s::int[], %s::timestamptz[]) AS x(tag, ts)"
            " ON s.tag_id = x.tag AND s.ts = x.ts",
            ([k[0] for k in keys], [k[1] for k in keys]),
        ).fetchall())
        fresh = [s for s, k in zip(m.samples, keys, strict=True) if k not in stored]
        return writer.Inbound(replace(m, samples=fresh), item.received_ms) if fresh else None

    def _count(self, res: writer.WriteResult) -> None:
        self.stats.batches += res.batches
        self.stats.duplicates += res.duplicates
        self.stats.rows += res.rows

    @staticmethod
    def _db_reject(d: Delivery, err: Exception) -> Rejected:
        where = split_topic(d.topic)
        ent, gw = (where[0], where[1]) if where else (None, None)
        return Rejected("db_rejected", f"{type(err).__name__}: {str(err).strip()[:500]}", ent, gw)


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; a dead letter must never fail to be written."""
    return None if value is None else value.replace("\x00", "\\0")


def store_dead_letters(conn: psycopg.Connection, rows: Sequence[tuple[str, bytes, int, Rejected]]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO dead_letters (received_at, topic, reason, detail, enterprise, gateway, payload)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(ms_to_dt(ms), _text(topic), r.reason, _text(r.detail), _text(r.enterprise), _text(r.gateway),
              payload) for topic, payload, ms, r in rows],
        )


def wait_for_database(cfg: CloudConfig, *, stop: threading.Event, timeout_s: float | None = None) -> bool:
    """Block until the database answers (or stop/timeout); startup should not crash on a late DB."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    backoff = Backoff(initial_s=0.2, max_s=cfg.ingest.retry_max_s)
    attempt = 0
    while not stop.is_set():
        try:
            with psycopg.connect(cfg.dsn(), connect_timeout=int(cfg.database.connect_timeout_s)):
                return True
        except _CONNECTION_ERRORS as err:
            log.warning("等待数据库 waiting for the database: %s", describe(err, cfg.dsn())[:400])
        if deadline is not None and time.monotonic() > deadline:
            return False
        attempt += 1
        stop.wait(backoff.delay(attempt))
    return False
