"""Background upkeep of the storage: partitions ahead of time, retention, rollups (plain PostgreSQL).

Every worker runs this loop; the work itself is guarded in the database (advisory locks and
idempotent DDL), so running it from several workers is harmless. Failures are logged and retried
next period: upkeep must never stop ingest.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from cloud_ingest import partitions, rollups
from cloud_ingest.config import CloudConfig
from cloud_ingest.timescale import apply_policies, flavor_of

log = logging.getLogger(__name__)

PARTITIONS_EVERY_S = 3600.0
ROLLUP_SLICE = 2000


class Maintenance(threading.Thread):
    def __init__(self, cfg: CloudConfig, *, stop: threading.Event) -> None:
        super().__init__(name="maintenance", daemon=True)
        self.cfg = cfg
        self.stop = stop
        self.runs = 0
        self.rolled_up = 0

    def run(self) -> None:
        last_partitions = 0.0
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.cfg.dsn(), autocommit=True,
                                     connect_timeout=int(self.cfg.database.connect_timeout_s)) as conn:
                    if time.monotonic() - last_partitions > PARTITIONS_EVERY_S or not last_partitions:
                        self.partitions(conn)
                        last_partitions = time.monotonic()
                    self.rollups(conn)
                self.runs += 1
            except psycopg.Error as err:
                log.warning("maintenance failed, will retry: %s", str(err).strip()[:300])
            self.stop.wait(self.cfg.ingest.rollup_interval_s)

    def partitions(self, conn: psycopg.Connection) -> None:
        if flavor_of(conn) != "plain":
            apply_policies(conn, self.cfg.ingest)
            return
        parts = partitions.Partitions(flavor="plain")
        parts.load(conn)
        parts.ensure_ahead(conn, days_ahead=self.cfg.ingest.partitions_ahead_days)
        if self.cfg.ingest.retention_days:
            dropped = partitions.drop_older_than(conn, days=self.cfg.ingest.retention_days)
            if dropped:
                log.info("retention dropped %s", ", ".join(dropped))

    def rollups(self, conn: psycopg.Connection) -> None:
        """Catch up with every batch stored so far (in slices, so each transaction stays short)."""
        flavor = flavor_of(conn)
        while not self.stop.is_set():
            done = rollups.roll_up_pending(conn, flavor=flavor, limit=ROLLUP_SLICE)
            self.rolled_up += done
            if done < ROLLUP_SLICE:
                return
