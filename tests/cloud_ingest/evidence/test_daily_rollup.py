"""The figures read whole days from samples_1d and give exactly what the hours (and the raw
samples) give: UTC-day windows with edges inside days, a grid of Shanghai days that cuts UTC
days, a day whose hours are uneven, a tag with a day of no samples, and a late batch into a
closed day before and after the rollup maintenance took it."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner

from cloud_ingest import migrate
from cloud_ingest.cli import main
from cloud_ingest.evidence import compute
from cloud_ingest.evidence.intervals import merge
from cloud_ingest.evidence.plan import Plan
from cloud_ingest.evidence.schema import Figures
from tests.cloud_ingest.evidence import days_data as dd
from tests.support import fresh_database

pytestmark = pytest.mark.integration
compute_module = importlib.import_module("cloud_ingest.evidence.compute")  # the package exports the function

NOW = datetime(2026, 6, 1, tzinfo=UTC)
# hour cells (not over 3 days, from the window start), edges inside days, the end inside a minute
UTC_WINDOW = (dd.T0 - 6 * dd.HOUR, dd.T0 + 2 * dd.DAY + 12 * dd.HOUR + 61_250)
# day cells at Asia/Shanghai midnight (16:00 UTC): 2026-01-01 to 2026-01-05 local
SHANGHAI_WINDOW = (dd.T0 - 8 * dd.HOUR, dd.T0 + 4 * dd.DAY - 8 * dd.HOUR)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@pytest.fixture(scope="module")
def days_template() -> Iterator[str]:
    """The four days written and rolled up once (3-4 s); each test gets a copy of its own."""
    with fresh_database("sfg_days") as dsn:
        migrate.migrate(dsn)
        dd.write(dsn)
        yield dsn


@pytest.fixture
def days_db(days_template: str) -> Iterator[str]:
    with fresh_database(template=days_template) as dsn:
        yield dsn


def _figures(dsn: str, window: tuple[int, int]) -> Figures:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return compute(conn, dd.ENT, start=_dt(window[0]), end=_dt(window[1]), now=NOW)


def _figures_by_hours(dsn: str, window: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> Figures:
    """The same computation with the days handed back to the hours: what it gave before samples_1d."""
    plain = compute_module.make_plan

    def hours_only(*args: object, **kwargs: object) -> Plan:
        p = plain(*args, **kwargs)
        return dataclasses.replace(p, hours=tuple(merge([*p.hours, *p.days])), days=())

    with monkeypatch.context() as m:
        m.setattr(compute_module, "make_plan", hours_only)
        return _figures(dsn, window)


def _raw(dsn: str, window: tuple[int, int]) -> dict[tuple[str, str], tuple[int, int]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT d.code, t.name, count(*), count(*) FILTER (WHERE s.quality = 0) FROM samples s"
            " JOIN tags t ON t.id = s.tag_id JOIN devices d ON d.id = t.device_id"
            " WHERE s.ts >= to_timestamp(%s / 1000.0) AND s.ts < to_timestamp(%s / 1000.0) GROUP BY 1, 2",
            window,
        ).fetchall()
    return {(d, t): (n, g) for d, t, n, g in rows}


def _plans(dsn: str, window: tuple[int, int]) -> list[Plan]:
    made: list[Plan] = []
    plain = compute_module.make_plan

    def keep(*args: object, **kwargs: object) -> Plan:
        made.append(plain(*args, **kwargs))
        return made[-1]

    with pytest.MonkeyPatch.context() as m:
        m.setattr(compute_module, "make_plan", keep)
        _figures(dsn, window)
    return made


def _same_as_hours_and_raw(dsn: str, window: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> Figures:
    f = _figures(dsn, window)
    assert f.model_dump() == _figures_by_hours(dsn, window, monkeypatch).model_dump()
    raw = _raw(dsn, window)
    assert {(t.device, t.tag): (t.stored, t.good) for t in f.tags} == raw
    return f


def test_the_daily_rollup_is_the_raw_samples_by_utc_day(days_db: str) -> None:
    with psycopg.connect(days_db) as conn:
        assert conn.execute(dd.ROLLUP_DAYS).fetchall() == conn.execute(dd.RAW_DAYS).fetchall()
        day = (
            "SELECT r.n, r.n_good, r.hours, r.n_good_min FROM samples_1d r JOIN tags t ON t.id = r.tag_id"
            " JOIN devices d ON d.id = t.device_id WHERE d.code = %s AND t.name = 'q'"
            " AND r.bucket = to_timestamp(%s / 1000.0)"
        )
        assert conn.execute(day, ("a", dd.T0 + dd.DAY)).fetchone() == (720, 660, 24, 0)  # 2 h offline
        # a.q's uneven day: all 720 samples good, but one hour short (and the one before it over)
        assert conn.execute(day, ("a", dd.T0 + 2 * dd.DAY)).fetchone() == (720, 720, 24, 29)
        assert conn.execute(day, ("b", dd.T0 + 2 * dd.DAY)).fetchone() is None  # b.q silent all day


def test_utc_window_with_edges_inside_days(days_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plans = _plans(days_db, UTC_WINDOW)
    assert {p.days for p in plans} == {((dd.T0, dd.T0 + 2 * dd.DAY),)}  # the two whole days inside
    f = _same_as_hours_and_raw(days_db, UTC_WINDOW, monkeypatch)
    a, b = f.devices
    assert [(g.cause, g.start, g.duration_s) for g in a.gaps] == [
        ("device_offline", _dt(dd.A_OFF[0]), 7200.0)
    ]
    assert [g.start for g in b.gaps] == [_dt(dd.B_SILENT[0])]
    assert f.grid.bucket == "hour"


def test_shanghai_days_cut_utc_days(days_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells from Shanghai midnight: every UTC day is split between two cells. The uneven day of
    a.q has one sample too many in one cell and one too few in the next; the day b.q never
    reported counts nothing; both show in the grid exactly as the hours say."""
    plans = _plans(days_db, SHANGHAI_WINDOW)
    assert {p.days for p in plans} == {((dd.T0, dd.T0 + 3 * dd.DAY),)}
    f = _same_as_hours_and_raw(days_db, SHANGHAI_WINDOW, monkeypatch)
    assert f.grid.bucket == "day"
    tags = {(t.device, t.tag): t for t in f.tags}
    assert tags[("b", "q")].stored == 4 * 720 - 45 - 720  # silent 90 min, then a whole day
    assert tags[("a", "q")].stored == tags[("a", "p")].stored == 4 * 720
    # the local day before the uneven hour has one sample over (credited as full), the next one short
    a = next(r for r in f.grid.rows if r.device == "a")
    assert a.completeness[2:] == [1.0, pytest.approx((720 * 2 - 1) / 1440)]


def test_late_batch_into_a_closed_day(days_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """b.q's missing day, delivered in part long after: before the maintenance ran the day is read
    from the raw samples (the batch is pending); after it, the day is re-rolled."""
    late = [dd._sample("b", "q", dd.B_Q_SILENT[0] + 5 * dd.HOUR + i * dd.STEP) for i in range(5)]
    dd.write_late(days_db, dd.ROUNDS + 1, late, received_ms=dd.T0 + 20 * dd.DAY)
    status = CliRunner().invoke(main, ["status", "--dsn", days_db])
    assert status.exit_code == 0 and "rollups: 1 batches pending" in status.output, status.output
    window = (dd.T0, dd.T0 + 3 * dd.DAY + 8 * dd.HOUR)
    assert {p.days for p in _plans(days_db, window)} == {((dd.T0, dd.T0 + 2 * dd.DAY),)}  # not 01-03
    before = _same_as_hours_and_raw(days_db, window, monkeypatch)
    assert {(t.device, t.tag): t.stored for t in before.tags}[("b", "q")] == 80 * 30 - 45 - 720 + 5

    with psycopg.connect(days_db, autocommit=True) as conn:
        dd.roll_up(conn)
        assert conn.execute(dd.ROLLUP_DAYS).fetchall() == conn.execute(dd.RAW_DAYS).fetchall()
    status = CliRunner().invoke(main, ["status", "--dsn", days_db])
    assert "rollups: 0 batches pending" in status.output, status.output
    assert {p.days for p in _plans(days_db, window)} == {((dd.T0, dd.T0 + 3 * dd.DAY),)}
    after = _same_as_hours_and_raw(days_db, window, monkeypatch)
    assert [t.model_dump() for t in after.tags] == [t.model_dump() for t in before.tags]


@pytest.mark.parametrize("cell_start_h", [0, 7, 11, 20])
def test_day_cells_from_any_hour(days_db: str, monkeypatch: pytest.MonkeyPatch, cell_start_h: int) -> None:
    """Day cells from the top of any hour (the dashboard's 7- and 30-day windows start there): a
    day that is not uniform lies in one cell (from midnight) or is cut in two, and is read by the
    hours of its shorter side (before the cut at 07:00 and 11:00, after it at 20:00), the other
    side having the rest of the day's counts. a's offline hours (10:00-12:00 on 01-02) straddle
    the cut at 11:00; a.q's uneven hours (15:00 and 16:00 on 01-03) lie past every cut."""
    start = dd.T0 - 24 * dd.HOUR + cell_start_h * dd.HOUR
    window = (start, start + 4 * dd.DAY)
    assert {p.days for p in _plans(days_db, window)} == {((dd.T0, dd.T0 + 3 * dd.DAY),)}
    f = _same_as_hours_and_raw(days_db, window, monkeypatch)
    assert f.grid.bucket == "day"
    a = next(r for r in f.grid.rows if r.device == "a")
    assert len(a.completeness) == 4 and min(c or 0.0 for c in a.completeness) < 1.0
