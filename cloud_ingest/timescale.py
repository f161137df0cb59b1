"""TimescaleDB policies that follow the cloud config: chunk interval, compression, retention.

Migrations create the hypertable and continuous aggregates with defaults; these settings live
in the config because they are operations choices (disk vs history), so ``migrate`` and
``serve`` apply them again each time, idempotently. On plain PostgreSQL this does nothing
(partitions and retention are handled by the maintenance loop).
"""

from __future__ import annotations

import psycopg

from cloud_ingest.config import IngestConfig


def flavor_of(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT flavor FROM schema_version ORDER BY version DESC LIMIT 1").fetchone()
    return str(row[0]) if row else "plain"


def apply_policies(conn: psycopg.Connection, ingest: IngestConfig) -> list[str]:
    """Make the hypertable's policies match the config; returns what it set."""
    if flavor_of(conn) != "timescale":
        return []
    done = []
    conn.execute("SELECT set_chunk_time_interval('samples', %s::interval)", (ingest.chunk_interval,))
    done.append(f"chunk interval {ingest.chunk_interval}")
    conn.execute("SELECT remove_compression_policy('samples', if_exists => true)")
    conn.execute("SELECT add_compression_policy('samples', %s::interval)", (ingest.compress_after,))
    done.append(f"compress after {ingest.compress_after}")
    conn.execute("SELECT remove_retention_policy('samples', if_exists => true)")
    if ingest.retention_days:
        conn.execute("SELECT add_retention_policy('samples', make_interval(days => %s))",
                     (ingest.retention_days,))
        done.append(f"retention {ingest.retention_days} days")
    return done
