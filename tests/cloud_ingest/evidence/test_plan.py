"""Every stretch of a period goes to exactly one source, whole hours to the hourly rollup."""

from cloud_ingest.evidence.intervals import HOUR_MS, MINUTE_MS, merge, total
from cloud_ingest.evidence.plan import make_plan

T = 1_767_225_600_000  # an hour boundary


def _covers_exactly(p) -> bool:  # type: ignore[no-untyped-def]
    parts = [*p.hours, *p.minutes, *p.raw]
    return total(parts) == sum(hi - lo for lo, hi in parts) == p.period[1] - p.period[0] and merge(parts) == [
        p.period
    ]


def test_aligned_window_is_all_hours() -> None:
    p = make_plan((T, T + 5 * HOUR_MS), cell_base=T, cell_ms=HOUR_MS)
    assert p.hours == ((T, T + 5 * HOUR_MS),) and p.minutes == () and p.raw == ()


def test_edges_go_to_minutes_then_raw() -> None:
    lo, hi = T + 90_500, T + 3 * HOUR_MS + 30_250
    p = make_plan((lo, hi), cell_base=lo, cell_ms=24 * HOUR_MS)
    assert p.hours == ((T + HOUR_MS, T + 3 * HOUR_MS),)
    assert p.minutes == ((T + 2 * MINUTE_MS, T + HOUR_MS),)
    assert p.raw == ((lo, T + 2 * MINUTE_MS), (T + 3 * HOUR_MS, hi))
    assert _covers_exactly(p)


def test_pending_batches_are_read_raw_and_their_hours_by_minute() -> None:
    p = make_plan(
        (T, T + 3 * HOUR_MS),
        cell_base=T,
        cell_ms=HOUR_MS,
        pending=[(T + HOUR_MS + 61_000, T + HOUR_MS + 62_000)],
    )
    assert p.hours == ((T, T + HOUR_MS), (T + 2 * HOUR_MS, T + 3 * HOUR_MS))
    assert (T + HOUR_MS + MINUTE_MS, T + HOUR_MS + 2 * MINUTE_MS) in p.raw
    assert _covers_exactly(p)


def test_cells_not_on_hour_boundaries_split_hours() -> None:
    base = T + 5 * MINUTE_MS + 2  # a gateway whose clock is 5 min 2 ms ahead
    p = make_plan((base, base + 2 * HOUR_MS), cell_base=base, cell_ms=HOUR_MS)
    for lo, hi in p.hours:  # no hour bucket crosses a cell boundary
        assert p.cell(lo) == p.cell(hi - 1)
    assert _covers_exactly(p)
    assert p.cell(base) == 0 and p.cell(base + HOUR_MS) == 1


def test_empty_period() -> None:
    assert make_plan((T, T), cell_base=T, cell_ms=HOUR_MS).hours == ()
