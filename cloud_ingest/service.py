"""``cloud-ingest serve``: the consumer loop, the maintenance loop and (optionally) the API with
the dashboard's pages on the same port (``cloud_ingest/web``, mounted by the API's app).

Threads, not asyncio: paho runs its own network thread, psycopg writes are blocking, and the
API runs uvicorn in a thread of its own. The main thread only waits for SIGTERM/SIGINT and then
asks everyone to finish: the consumer completes the group in hand (committing and acking it, or
leaving it unacknowledged for the broker to redeliver), then disconnects.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from cloud_ingest import migrate
from cloud_ingest.config import CloudConfig
from cloud_ingest.ingestor import Ingestor, StatsView, wait_for_database
from cloud_ingest.maintenance import Maintenance
from cloud_ingest.mqtt_source import MqttSource
from cloud_ingest.worker_status import WorkerStatus

log = logging.getLogger(__name__)


class SchemaTooOld(Exception):
    """The database has not been migrated to what this version of the service writes."""


class WriterDied(Exception):
    """A writer thread ended on an unexpected error; exit non-zero so a supervisor restarts us
    (nothing is lost: what it held was never acknowledged)."""


def check_schema(cfg: CloudConfig) -> None:
    import psycopg

    with psycopg.connect(cfg.dsn(), connect_timeout=int(cfg.database.connect_timeout_s)) as conn:
        version, _ = migrate.current(conn)
    latest = migrate.available()[-1].version
    if version < latest:
        raise SchemaTooOld(f"database schema is at version {version}, this service needs {latest}:"
                           " run `cloud-ingest migrate` first")


DRAIN_QUIET_S = 1.0
DRAIN_MAX_S = 15.0


def consume(cfg: CloudConfig, *, halt: threading.Event, source: MqttSource, ingestor: Ingestor) -> None:
    """One writer's loop: take a group, store it, ack it. Several run side by side, each with its own
    database connection, so one builds COPY rows while the other's server process indexes them.
    ``halt`` comes after the drain at shutdown, not with the signal."""
    ing = cfg.ingest
    while not halt.is_set():
        group = source.take(
            max_messages=ing.batch_max_messages,
            # a coarse bound on what is taken at once (~100 bytes of plain JSON a sample); the
            # samples a transaction are bounded exactly once decoded (Ingestor.handle)
            max_samples_bytes=ing.batch_max_samples * 100,
            linger_s=ing.linger_ms / 1000,
            wait_s=0.2,
        )
        if not group:
            continue
        ingestor.busy = True
        try:
            ok = ingestor.handle(group)
        finally:
            ingestor.busy = False
        if ok:
            stale = source.ack(group)
            if stale:
                log.info("%d stored messages came on an earlier connection; the broker redelivers them",
                         stale)


def serve(
    cfg: CloudConfig, *, api: bool = True, stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Run until ``stop`` is set (the CLI sets it from SIGTERM/SIGINT); ``ready`` once subscribed."""
    stop = stop or threading.Event()
    if not wait_for_database(cfg, stop=stop):
        return
    check_schema(cfg)
    ingestors = [Ingestor(cfg, stop=stop) for _ in range(cfg.ingest.writers)]
    stats = StatsView(ingestors)
    api_server = None
    if api:  # first: a port in use stops the service here, before any thread starts
        from cloud_ingest.api.server import ApiServer

        api_server = ApiServer(cfg, stats=stats)
    maintenance = Maintenance(cfg, stop=stop)
    maintenance.start()
    if api_server is not None:
        api_server.start()
    source = MqttSource(cfg.mqtt, queue_max=cfg.ingest.queue_max_messages, sparkplug=cfg.sparkplug)
    stats.sparkplug = source.sparkplug_status
    status = WorkerStatus(cfg, worker=source.client_id, stats=stats, stop=stop)
    halt = threading.Event()
    forget = False
    died = False
    try:
        source.start()
        status.start()
        if ready is not None:
            ready.set()
        log.info("consuming %s into the database", cfg.mqtt.subscription())
        writers = [
            threading.Thread(target=consume, name=f"writer-{i}", daemon=True,
                             kwargs={"cfg": cfg, "halt": halt, "source": source, "ingestor": ing})
            for i, ing in enumerate(ingestors)
        ]
        for w in writers:
            w.start()
        while not stop.wait(0.5):
            if not all(w.is_alive() for w in writers):
                log.error("a writer thread died; stopping so a supervisor can restart us")
                died = True
                break
        forget = _leave_group(source, ingestors, writers)
        halt.set()
        for w in writers:
            w.join(timeout=cfg.database.statement_timeout_s + 10)
    finally:
        stop.set()
        halt.set()
        source.stop(forget=forget)
        for ing in ingestors:
            ing.close()
        if status.ident is not None:  # started: its last report says what is left, and that we stopped
            status.join(timeout=cfg.database.connect_timeout_s + 1)
            status.report(stopped=True)
        maintenance.join(timeout=10)
        if api_server is not None:
            api_server.stop()
        log.info("stopped: %s", stats.total())
    if died:
        raise WriterDied("a writer thread died (see the log above)")


def _leave_group(source: MqttSource, ingestors: list[Ingestor], writers: list[threading.Thread]) -> bool:
    """Graceful shutdown: unsubscribe, store what the broker already sent us, and say whether the
    broker may forget our session (everything acknowledged) or must keep it for our return."""
    if not source.connected.is_set() or not source.leave(timeout=5.0):
        return False
    deadline = time.monotonic() + DRAIN_MAX_S
    quiet_since = time.monotonic()
    while time.monotonic() < deadline and all(w.is_alive() for w in writers):
        if not source.idle() or any(i.busy for i in ingestors):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= DRAIN_QUIET_S:
            break
        time.sleep(0.05)
    else:
        return False
    drained = source.idle() and not any(i.busy or i.abandoned for i in ingestors)
    log.info("left the subscription; %s", "all stored and acknowledged" if drained
             else "some messages stay with the broker for our return")
    return drained


def install_signal_handlers(stop: threading.Event) -> None:
    def _handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the group in hand, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
