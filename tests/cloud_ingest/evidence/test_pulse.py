"""Silences of a device's pulse from pieces: full rollup buckets, empty or bad ones, raw instants."""

from cloud_ingest.evidence.pulse import Instant, Piece, find_silences, is_offline

S = 1000  # spacing


def raw(
    lo: int, hi: int, *ts: int, bad: tuple[int, ...] = (), reason: str | None = "device offline: x"
) -> Piece:
    inst = [Instant(t, True) for t in ts] + [Instant(t, False, True, is_offline(reason), reason) for t in bad]
    return Piece(lo=lo, hi=hi, kind="raw", instants=tuple(sorted(inst, key=lambda i: i.ts)))


def test_regular_pulse_has_no_silence() -> None:
    p = raw(0, 10_000, *range(0, 10_000, S))
    assert find_silences([p], period=(0, 10_000), spacing=S, gap_factor=1.5, lookback_found=True) == []


def test_one_missed_poll_is_a_gap_of_one_interval() -> None:
    ts = [t for t in range(0, 10_000, S) if t != 5000]
    (g,) = find_silences(
        [raw(0, 10_000, *ts)], period=(0, 10_000), spacing=S, gap_factor=1.5, lookback_found=True
    )
    assert (g.lo, g.hi) == (5000, 6000) and g.bad == ()


def test_jitter_below_the_factor_is_not_a_gap() -> None:
    ts = [0, 1000, 2400, 3400]
    assert (
        find_silences([raw(0, 4000, *ts)], period=(0, 4000), spacing=S, gap_factor=1.5, lookback_found=True)
        == []
    )


def test_full_buckets_are_gap_free_and_bad_samples_are_reported() -> None:
    pieces = [
        Piece(lo=0, hi=60_000, kind="full"),
        raw(60_000, 62_000, 60_500, 61_500),
        Piece(lo=62_000, hi=120_000, kind="bad", offline=True, reason="device offline: refused"),
        raw(120_000, 125_000, 123_000, 124_000, bad=(120_000, 121_000, 122_000)),
    ]
    (g,) = find_silences(pieces, period=(0, 125_000), spacing=S, gap_factor=1.5, lookback_found=True)
    assert (g.lo, g.hi) == (62_500, 123_000)
    assert [(b.lo, b.hi, b.offline) for b in g.bad] == [(62_500, 123_000, True)]


def test_a_window_opening_in_silence_and_an_open_end() -> None:
    gaps = find_silences(
        [raw(0, 20_000, 5000, 6000, 7000)],
        period=(0, 20_000),
        spacing=S,
        gap_factor=1.5,
        lookback_found=False,
    )
    assert [(g.lo, g.hi) for g in gaps] == [(1000, 5000), (8000, 20_000)]


def test_reasons_tell_offline_from_bad_value() -> None:
    assert is_offline("device offline: timed out") and is_offline(None)
    assert not is_offline("exception 2: illegal data address")
