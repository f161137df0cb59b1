"""TimescaleDB policies that follow the cloud config: chunk interval, compression, retention.

Migrations create the hypertable and continuous aggregates with defaults; these settings live
in the config because they are operations choices (disk vs history), so ``migrate`` and
``serve`` (its maintenance loop, hourly) apply them again, idempotently. On plain PostgreSQL
this does nothing (partitions and retention are handled by the maintenance loop).

Every worker runs this, so it must be cheap and safe to run concurrently: a policy that already
matches the config is left alone (removing and re-adding it each time would reset its schedule
and, between two workers, fail with "policy already exists" or leave two retention jobs), and
changes are made in one transaction under an advisory lock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg

from cloud_ingest.config import IngestConfig

log = logging.getLogger(__name__)

POLICY_LOCK = 0x5F6_7011  # serialises workers that apply the policies
# Raw chunks must not be dropped inside a continuous aggregate's refresh window, or the next
# refresh recomputes those buckets from nothing and the rollups lose that history. The widest
# window is samples_1h's (7 days, 004_rollups.timescale.sql), aligned down to the hour; a day
# more leaves room for a refresh that ran late.
MIN_RETENTION = timedelta(days=8)

# rows of timescaledb_information views about our samples table (the one on the search path);
# no cast of their names, which are null for jobs of no hypertable
_SAMPLES = ("(hypertable_schema, hypertable_name) = (SELECT n.nspname, c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'samples'::regclass)")


def flavor_of(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT flavor FROM schema_version ORDER BY version DESC LIMIT 1").fetchone()
    return str(row[0]) if row else "plain"


def retention_for(ingest: IngestConfig) -> timedelta | None:
    """The retention the hypertable gets: the config's, but never inside the rollups' refresh window."""
    if not ingest.retention_days:
        return None
    return max(timedelta(days=ingest.retention_days), MIN_RETENTION)


def _jobs(conn: psycopg.Connection, proc: str, key: str) -> list[tuple[int, timedelta | None]]:
    return [
        (int(r[0]), r[1])
        for r in conn.execute(
            f"SELECT job_id, (config->>'{key}')::interval FROM timescaledb_information.jobs"
            f" WHERE proc_name = %s AND {_SAMPLES} ORDER BY job_id".encode(),
            (proc,),
        )
    ]


def _policy(conn: psycopg.Connection, *, proc: str, key: str, want: timedelta | None, add: str) -> bool:
    """Make the samples policy ``proc`` be exactly one job with ``key`` = ``want`` (none if None).

    Returns whether anything changed."""
    jobs = _jobs(conn, proc, key)
    if (want is None and not jobs) or (len(jobs) == 1 and jobs[0][1] == want):
        return False
    for job_id, _ in jobs:
        conn.execute("SELECT delete_job(%s)", (job_id,))
    if want is not None:
        conn.execute(add.encode(), (want,))
    return True


def apply_policies(conn: psycopg.Connection, ingest: IngestConfig) -> list[str]:
    """Make the hypertable's policies match the config; returns them, each marked set or unchanged."""
    if flavor_of(conn) != "timescale":
        return []
    done = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (POLICY_LOCK,))
        row = conn.execute(
            "SELECT time_interval = %s::interval FROM timescaledb_information.dimensions"
            f" WHERE column_name = 'ts' AND {_SAMPLES}".encode(),
            (ingest.chunk_interval,),
        ).fetchone()
        changed = not (row and row[0])
        if changed:
            conn.execute("SELECT set_chunk_time_interval('samples', %s::interval)", (ingest.chunk_interval,))
        done.append(f"chunk interval {ingest.chunk_interval}{' (set)' if changed else ''}")

        compress = conn.execute("SELECT %s::interval", (ingest.compress_after,)).fetchone()
        changed = _policy(conn, proc="policy_compression", key="compress_after",
                          want=compress[0] if compress else None,
                          add="SELECT add_compression_policy('samples', %s::interval)")
        done.append(f"compress after {ingest.compress_after}{' (set)' if changed else ''}")

        retention = retention_for(ingest)
        changed = _policy(conn, proc="policy_retention", key="drop_after", want=retention,
                          add="SELECT add_retention_policy('samples', %s::interval)")
        if retention is not None:
            days = retention.days
            note = ""
            if days != ingest.retention_days:
                note = f" (raised from {ingest.retention_days}: rollups refresh the last 7 days)"
            if note and changed:
                log.warning("timescaledb retention %s days instead of %s: raw chunks must outlive the"
                            " continuous aggregates' refresh window", days, ingest.retention_days)
            done.append(f"retention {days} days{note}{' (set)' if changed else ''}")
        elif changed:
            done.append("retention removed")
    return done
