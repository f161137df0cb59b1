"""Per-tag completeness: every-reading tags counted, report-by-exception tags by their silences."""

import pytest

from cloud_ingest.evidence.queries_samples import TagSilences
from cloud_ingest.evidence.tag_figures import by_exception, cell_spans, every_reading, grid_row, silence_spans

H = 3_600_000


def test_every_reading_caps_at_expected_and_splits_cells() -> None:
    r = every_reading((0, 2 * H), interval_ms=10_000, cells={0: (360, 360), 1: (361, 300)}, base=0, cell_ms=H)
    assert (r.expected, r.good, r.stored) == (720, 660, 721)
    assert r.completeness == pytest.approx(660 / 720)
    assert r.cells == {0: (360.0, 360.0), 1: (300.0, 360.0)}
    surplus = every_reading((0, H), interval_ms=10_000, cells={0: (361, 361)}, base=0, cell_ms=H)
    assert surplus.completeness == 1.0


def test_a_period_shorter_than_the_interval_expects_nothing() -> None:
    assert every_reading((0, 5000), interval_ms=10_000, cells={}, base=0, cell_ms=H).completeness is None


def test_report_by_exception_counts_silences_not_samples() -> None:
    # heartbeat 60 s, interval 1 s; busy first half hour, then quiet with heartbeats, one silence 40:00-52:00
    m = 60_000
    s = TagSilences(first=0, last=59 * m, silences=[(40 * m, 52 * m)])
    r = by_exception(
        (0, 60 * m),
        heartbeat_ms=60_000,
        interval_ms=1000,
        gap_factor=1.5,
        silences=s,
        cells={0: (900 + 20, 900 + 20)},
        base=0,
        cell_ms=H,
    )
    assert r.missing == ((41 * m, 52 * m),)
    assert r.completeness == pytest.approx(1 - 660 / 3600)
    assert r.expected == 60 and r.good == 920


def test_quiet_healthy_tag_is_complete_and_edges_count() -> None:
    s = TagSilences(first=-30_000, last=3_590_000, silences=[])
    r = by_exception(
        (0, H), heartbeat_ms=60_000, interval_ms=1000, gap_factor=1.5, silences=s, cells={}, base=0, cell_ms=H
    )
    assert r.completeness == 1.0
    # nothing at all in the period and nothing before it: missing from one heartbeat in
    assert silence_spans(
        TagSilences(None, None, []), period=(0, H), heartbeat_ms=60_000, limit_ms=61_500
    ) == [(60_000, H)]


def test_cells_and_grid_rows() -> None:
    assert cell_spans((1_500, 7_500), base=0, cell_ms=3000) == {
        0: (1500, 3000),
        1: (3000, 6000),
        2: (6000, 7500),
    }
    a = every_reading((0, 2 * H), interval_ms=H // 10, cells={0: (10, 10), 1: (5, 5)}, base=0, cell_ms=H)
    assert grid_row([a], [0, 1, 2]) == [1.0, 0.5, None]
