"""Percentiles over binned latencies, and the clock verdict."""

import pytest

from cloud_ingest.evidence.latency import bin_value, clock_verdict, histogram, percentiles, weighted_quantiles


def test_bins_are_ms_below_a_second_and_one_percent_above() -> None:
    assert bin_value(12.4) == 12 and bin_value(-3.6) == -4
    for v in (1500.0, 86_400_000.0, -2000.0):
        assert abs(bin_value(v) - v) <= abs(v) * 0.006


def test_weighted_nearest_rank() -> None:
    pts = [(10.0, 50), (20.0, 45), (500.0, 4), (9000.0, 1)]
    assert weighted_quantiles(pts) == [10.0, 20.0, 500.0]
    assert weighted_quantiles([]) == [None, None, None]
    p = percentiles(pts, exact_max=9050.0)
    assert (p.p50, p.max) == (10.0, 9050.0)


def test_histogram_puts_every_sample_in_a_bin() -> None:
    h = histogram([(-5.0, 1), (15.0, 2), (4_000_000.0, 3)])
    assert sum(b.n for b in h) == 6 and h[0].n == 1 and h[2].n == 2 and h[-1].n == 3


@pytest.mark.parametrize(
    ("offset", "ok", "corrected"),
    [
        (None, None, False),
        (-200.0, True, False),
        (999.0, True, False),
        (300_002.0, False, True),
        (-5000.0, False, True),
    ],
)
def test_clock_verdict(offset: float | None, ok: bool | None, corrected: bool) -> None:
    assert clock_verdict(offset, tolerance_ms=1000) == (ok, corrected)
