"""The computation on a small enterprise written through the real write path: the figures are
the plain counts, the gaps where the data says, and rollups and raw agree."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from cloud_ingest.evidence import compute
from tests.cloud_ingest.evidence.conftest import STEP, T0, Small

pytestmark = pytest.mark.integration


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def test_small_enterprise(small: Small) -> None:
    with psycopg.connect(small.dsn, autocommit=True) as conn:
        f = compute(conn, small.enterprise, start=_dt(small.start), end=_dt(small.end))
    m1, m2 = f.devices
    assert (m1.samples_expected, m1.samples_good, m1.samples_stored) == (120, 114, 120)
    assert [(g.cause, g.start, g.duration_s) for g in m1.gaps] == [
        ("device_offline", _dt(T0 + 40 * STEP), 30.0)
    ]
    assert [(g.cause, g.start, g.duration_s) for g in m2.gaps] == [("unknown", _dt(T0 + 20 * STEP), 60.0)]
    assert m2.completeness == pytest.approx(108 / 120) and m2.online_ratio == pytest.approx(1 - 60 / 600)
    assert f.grid.bucket == "hour" and f.grid.rows[1].completeness == [pytest.approx(108 / 120)]
    assert f.rollups.enterprise.samples_good == 222
    assert f.networking_rate is None and f.not_computable["networking_rate"] == "no_inventory"
    rec = f.reconciliation[0]
    assert (rec.unexplained, rec.stored, rec.published, rec.read) == (0, 228, 228, 228)


def test_a_window_inside_hours_reads_minutes_and_raw_edges_the_same(small: Small) -> None:
    lo, hi = T0 + 95_500, T0 + 5 * 60_000 + 2_250  # mid-minute edges
    with psycopg.connect(small.dsn, autocommit=True) as conn:
        f = compute(conn, small.enterprise, start=_dt(lo), end=_dt(hi))
        raw = conn.execute(
            "SELECT d.code, count(*) FILTER (WHERE s.quality = 0) FROM samples s JOIN tags t ON t.id ="
            " s.tag_id"
            " JOIN devices d ON d.id = t.device_id WHERE s.ts >= to_timestamp(%s / 1000.0)"
            " AND s.ts < to_timestamp(%s / 1000.0) GROUP BY 1 ORDER BY 1",
            (lo, hi),
        ).fetchall()
    assert [(d.device, d.samples_good) for d in f.devices] == raw
