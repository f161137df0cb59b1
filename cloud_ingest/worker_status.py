"""This worker's live counters in the database (``ingest_workers``), for ``cloud-ingest status``.

What a worker holds in memory (Sparkplug messages waiting for births, above all) is invisible to
another process; so every ``STATUS_EVERY_S`` the worker writes its counters (``ingestor.Stats``)
to its row, and once more with ``stopped_at`` when it stops cleanly. A row whose ``seen_at`` is
old belongs to a worker that died. Best effort: a database that is away only delays the report.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime

import psycopg

from cloud_ingest.config import CloudConfig
from cloud_ingest.ingestor import StatsView
from cloud_ingest.registry import dumps

log = logging.getLogger(__name__)

STATUS_EVERY_S = 5.0


class WorkerStatus(threading.Thread):
    def __init__(self, cfg: CloudConfig, *, worker: str, stats: StatsView, stop: threading.Event) -> None:
        super().__init__(name="worker-status", daemon=True)
        self._cfg, self._worker, self._stats, self._halt = cfg, worker, stats, stop
        self._since = datetime.now(UTC)

    def run(self) -> None:
        while not self._halt.wait(STATUS_EVERY_S):
            self.report(stopped=False)

    def report(self, *, stopped: bool) -> None:
        try:
            with psycopg.connect(self._cfg.dsn(), autocommit=True,
                                 connect_timeout=int(self._cfg.database.connect_timeout_s)) as conn:
                conn.execute(
                    "INSERT INTO ingest_workers (worker, host, pid, started_at, seen_at, stopped_at, stats)"
                    " VALUES (%s, %s, %s, %s, now(), CASE WHEN %s THEN now() END, %s::jsonb)"
                    " ON CONFLICT (worker) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,"
                    " started_at = EXCLUDED.started_at, seen_at = now(), stopped_at = EXCLUDED.stopped_at,"
                    " stats = EXCLUDED.stats",
                    (self._worker, socket.gethostname(), os.getpid(), self._since, stopped,
                     dumps(vars(self._stats.total()))),
                )
        except psycopg.Error as err:
            log.warning("could not write this worker's status: %s", str(err).strip()[:200])
