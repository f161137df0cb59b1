"""Whole UTC days of a plan go to the daily rollup; the hours, minutes and raw stretches left
cover the rest, and a day a pending batch touches is not one of them."""

from cloud_ingest.evidence.intervals import DAY_MS, HOUR_MS, MINUTE_MS, merge, total
from cloud_ingest.evidence.plan import Plan, make_plan

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a UTC midnight


def _covers_exactly(p: Plan) -> bool:
    parts = [*p.days, *p.hours, *p.minutes, *p.raw]
    return total(parts) == sum(hi - lo for lo, hi in parts) == p.period[1] - p.period[0] and merge(parts) == [
        p.period
    ]


def test_whole_days_inside_a_window_with_edges_inside_days() -> None:
    lo, hi = T - 5 * HOUR_MS, T + 3 * DAY_MS + 7 * HOUR_MS
    p = make_plan((lo, hi), cell_base=lo, cell_ms=DAY_MS)
    assert p.days == ((T, T + 3 * DAY_MS),)
    assert p.hours == ((lo, T), (T + 3 * DAY_MS, hi))
    assert _covers_exactly(p)


def test_cells_at_shanghai_midnight_do_not_stop_utc_days() -> None:
    base = T - 8 * HOUR_MS  # 2026-01-01 00:00 in Asia/Shanghai
    p = make_plan((base, base + 4 * DAY_MS), cell_base=base, cell_ms=DAY_MS)
    assert p.days == ((T, T + 3 * DAY_MS),)
    for lo, hi in p.hours:  # hours still never cross a cell boundary
        assert p.cell(lo) == p.cell(hi - 1)
    assert _covers_exactly(p)


def test_a_pending_batch_keeps_its_day_out() -> None:
    late = (T + DAY_MS + 5 * HOUR_MS + 1_000, T + DAY_MS + 5 * HOUR_MS + 9_000)
    p = make_plan((T, T + 3 * DAY_MS), cell_base=T, cell_ms=DAY_MS, pending=[late])
    assert p.days == ((T, T + DAY_MS), (T + 2 * DAY_MS, T + 3 * DAY_MS))
    assert (T + DAY_MS, T + DAY_MS + 5 * HOUR_MS) in p.hours
    assert (T + DAY_MS + 5 * HOUR_MS, T + DAY_MS + 5 * HOUR_MS + MINUTE_MS) in p.raw
    assert _covers_exactly(p)


def test_cells_off_the_hour_leave_no_day() -> None:
    base = T + 5 * MINUTE_MS + 2  # a gateway whose clock is 5 min 2 ms ahead, hourly cells
    p = make_plan((base, base + 2 * DAY_MS), cell_base=base, cell_ms=HOUR_MS)
    assert p.days == () and p.hours == ()
    assert _covers_exactly(p)


def test_short_windows_have_no_days() -> None:
    assert make_plan((T, T + 23 * HOUR_MS), cell_base=T, cell_ms=HOUR_MS).days == ()
