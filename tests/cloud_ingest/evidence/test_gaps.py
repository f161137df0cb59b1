"""Gap causes in their documented order, and late stretches."""

from collections.abc import Sequence

from cloud_ingest.evidence.gaps import CounterDelta, Deltas, RawGap, classify, late_spans, offline_time
from cloud_ingest.evidence.intervals import Span
from cloud_ingest.evidence.pulse import BadSpan, Silence

NONE = CounterDelta(dropped={}, skipped_polls=0)


def _cls(
    silences: Sequence[Silence],
    *,
    late: Sequence[Span] = (),
    rejected: Sequence[Span] = (),
    deltas: Deltas = lambda lo, hi: NONE,
    gateway_offline: Sequence[Span] = (),
    sliver: int = 0,
) -> list[RawGap]:
    """classify with nothing late, rejected, dropped or offline unless a test says so."""
    return classify(
        silences, late=late, rejected=rejected, deltas=deltas, gateway_offline=gateway_offline, sliver=sliver
    )


def test_bad_samples_decide_first() -> None:
    s = Silence(
        lo=0,
        hi=10,
        bad=(
            BadSpan(lo=0, hi=6, offline=True, reason="device offline: x"),
            BadSpan(lo=6, hi=10, offline=False, reason="exception 4"),
        ),
    )
    got = _cls([s], deltas=lambda lo, hi: CounterDelta(dropped={"buffer_full": 5}, skipped_polls=0))
    assert [(g.lo, g.hi, g.cause) for g in got] == [(0, 6, "device_offline"), (6, 10, "bad_value")]


def test_no_data_causes_in_order() -> None:
    s = [Silence(lo=0, hi=10)]
    assert _cls(s, rejected=[(5, 20)])[0].cause == "rejected"
    g = _cls(
        s, deltas=lambda lo, hi: CounterDelta(dropped={"buffer_full": 7, "disk_error": 0}, skipped_polls=3)
    )[0]
    assert (g.cause, g.dropped) == ("dropped_at_gateway", {"buffer_full": 7})
    assert (
        _cls(s, deltas=lambda lo, hi: CounterDelta(dropped={}, skipped_polls=3))[0].cause == "gateway_overrun"
    )
    assert _cls(s, gateway_offline=[(0, 6)])[0].cause == "gateway_offline"
    assert _cls(s, gateway_offline=[(0, 4)])[0].cause == "unknown"  # offline for less than half of it


def test_slivers_and_skipped_polls_between_bad_samples_belong_to_them() -> None:
    s = Silence(
        lo=0,
        hi=1000,
        bad=(
            BadSpan(lo=0, hi=400, offline=True, reason="device offline: x"),
            BadSpan(lo=600, hi=997, offline=True, reason="device offline: x"),
        ),
    )
    got = _cls([s], sliver=100)
    assert [(g.lo, g.hi, g.cause) for g in got] == [(0, 1000, "device_offline")]


def test_late_stretches_outside_silences() -> None:
    late = late_spans([(100, 200), (250, 300), (1000, 1100)], spacing=50, gap_factor=1.5, period=(0, 2000))
    assert late == [(100, 350), (1000, 1150)]
    got = _cls([Silence(lo=120, hi=180)], late=late)
    assert [(g.lo, g.hi, g.cause) for g in got] == [
        (100, 120, "delivered_late"),
        (120, 180, "unknown"),
        (180, 350, "delivered_late"),
        (1000, 1150, "delivered_late"),
    ]
    assert offline_time(got) == 60
