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


def test_a_window_before_anything_was_registered_has_nothing_expected(small: Small) -> None:
    """The gateway exists but expects nothing in a window before its tags were registered (an
    evidence package of such a window says "no data" rather than failing)."""
    lo, hi = small.start - 7_200_000, small.start - 3_600_000
    with psycopg.connect(small.dsn, autocommit=True) as conn:
        f = compute(conn, small.enterprise, start=_dt(lo), end=_dt(hi))
    assert all(d.samples_expected is None and d.samples_stored == 0 and d.gaps == [] for d in f.devices)
    assert f.rollups.enterprise.samples_expected == 0


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


def test_overrun_and_bad_value_causes(pg_dsn: str) -> None:
    """Polls the gateway skipped (its skipped_polls counter grows) are gateway_overrun; a device
    that answers with errors is bad_value, not device offline."""
    from cloud_ingest import migrate, rollups, writer
    from cloud_ingest.batch import DataBatch
    from cloud_ingest.partitions import Partitions
    from cloud_ingest.registry import Registry
    from cloud_ingest.timescale import flavor_of
    from wire.json_v1 import BirthMessage, Counters, DeviceCounters, DeviceInfo, TagInfo

    migrate.migrate(pg_dsn)
    dev = DeviceInfo(id="vfd", profile="vfd", protocol="modbus",
                     tags=[TagInfo(name="hz", type="f", interval_ms=STEP)])
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)
        reg, parts = Registry(), Partitions(flavor=flavor)
        reg.apply_birth(conn, BirthMessage(enterprise="e", gateway="g", session="s", ts=T0 - 1000, next_seq=1,
                                           agent_version="t", devices=[dev]), received_ms=T0 - 1000)
        conn.execute("UPDATE tags SET first_seen = to_timestamp(%s / 1000.0)", (T0 - 1000,))
        items: list[writer.Inbound] = []
        skipped = 0
        for r in range(30):
            if 10 <= r < 13:
                skipped += 1  # the gateway had no time for these polls
                continue
            bad = 20 <= r < 24
            s = {"d": "vfd", "t": "hz", "ts": T0 + r * STEP, "rt": T0 + r * STEP, "v": None if bad else 50.0,
                 "q": "bad" if bad else "good", **({"r": "exception 4: slave device failure"} if bad else {})}
            c = Counters(batches_published=r, devices={"vfd": DeviceCounters(read=r + 1 - skipped,
                                                                             published=r + 1 - skipped,
                                                                             skipped_polls=skipped)})
            items.append(writer.Inbound(DataBatch("e", "g", "s", len(items) + 1, T0 + r * STEP + 50, [s], c),
                                        T0 + r * STEP + 80))
        writer.write(conn, items, registry=reg, partitions=parts)
        conn.execute("UPDATE batches SET stored_at = received_at")
        while rollups.roll_up_pending(conn, flavor=flavor):
            pass
        f = compute(conn, "e", start=_dt(T0), end=_dt(T0 + 30 * STEP))
    got = [(g.cause, g.start, g.duration_s, g.detail) for g in f.devices[0].gaps]
    assert got == [("gateway_overrun", _dt(T0 + 10 * STEP), 30.0, "3 polls skipped"),
                   ("bad_value", _dt(T0 + 20 * STEP), 40.0, "exception 4: slave device failure")]
    assert f.reconciliation[0].skipped_polls == 3


def test_an_enterprise_known_only_from_data_has_figures(pg_dsn: str) -> None:
    """No birth: its gateway's devices announce no rate, so the gateway has no job at all (the
    stale spacing of such a gateway once raised TypeError from max() of a single value)."""
    from cloud_ingest import migrate, writer
    from cloud_ingest.batch import DataBatch
    from cloud_ingest.partitions import Partitions
    from cloud_ingest.registry import Registry
    from cloud_ingest.timescale import flavor_of
    from tests.cloud_ingest.helpers import T0, data

    migrate.migrate(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        writer.write(conn, [writer.Inbound(DataBatch.of(data("ent-x", "gwx", 1, n=10)), T0)],
                     registry=Registry(), partitions=Partitions(flavor=flavor_of(conn)))
        f = compute(conn, "ent-x", start=_dt(T0), end=_dt(T0 + 3_600_000))
    assert sorted(d.device for d in f.devices) == ["dev0", "dev1"]
    assert all(d.samples_expected == 0 and d.gaps == [] for d in f.devices)
