"""TimescaleDB policy choices that can be checked without the extension (plain PostgreSQL CI)."""

from __future__ import annotations

import re
from datetime import timedelta

from cloud_ingest import migrate
from cloud_ingest.config import IngestConfig
from cloud_ingest.timescale import MIN_RETENTION, retention_for


def test_retention_never_inside_the_rollups_refresh_window() -> None:
    assert retention_for(IngestConfig()) is None
    assert retention_for(IngestConfig(retention_days=30)) == timedelta(days=30)
    assert retention_for(IngestConfig(retention_days=3)) == MIN_RETENTION
    # the floor must stay beyond every refresh policy's start_offset (plus an hour of alignment)
    sql = next(m for m in migrate.available() if m.version == 4).sql_for("timescale")
    offsets = [int(d) for d in re.findall(r"start_offset => interval '(\d+) days'", sql)]
    assert offsets and timedelta(days=max(offsets), hours=1) < MIN_RETENTION
