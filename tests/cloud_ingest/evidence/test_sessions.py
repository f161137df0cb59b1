"""A gateway's online stretches from births and deaths."""

import pytest

from cloud_ingest.evidence.sessions import Event, in_window, online_ratio, stretches


def birth(t: int, ts: int | None = None) -> Event:
    return Event(kind="birth", session="s", ts=t if ts is None else ts, received=t)


def death(t: int, *, ts: int, last: int | None, reason: str = "lost") -> Event:
    return Event(kind="death", session="s", ts=ts, received=t, reason=reason, last_before=last)


def test_death_ends_at_the_last_message_before_it() -> None:
    st = stretches(
        [birth(100), death(900, ts=95, last=700), birth(1000, ts=1000)],
        now=2000,
        last_message=1990,
        stale_after_ms=300,
    )
    assert [(s.lo, s.hi, s.end_reason) for s in st] == [(100, 700, "death"), (1000, None, "open")]
    assert online_ratio(st, window=(0, 2000)) == pytest.approx((600 + 1000) / 2000)


def test_rebirth_without_death_is_lost_and_a_stale_will_is_ignored() -> None:
    evs = [
        birth(100, ts=100),
        birth(500, ts=500),
        Event(kind="birth", session="s", ts=480, received=480, last_before=450),
    ]
    st = stretches(sorted(evs, key=lambda e: e.received), now=1000, last_message=990, stale_after_ms=300)
    assert [s.end_reason for s in st] == ["lost", "lost", "open"]
    # the broker reports the will of connection 1 after connection 2 was born: ignored
    st = stretches(
        [birth(100, ts=100), birth(500, ts=500), death(510, ts=90, last=505)],
        now=1000,
        last_message=990,
        stale_after_ms=300,
    )
    assert st[-1].end_reason == "open"


def test_quiet_gateway_is_closed_at_its_last_message() -> None:
    st = stretches([birth(100)], now=10_000, last_message=2000, stale_after_ms=300)
    assert [(s.hi, s.end_reason) for s in st] == [(2000, "lost")]


def test_window_clipping() -> None:
    st = stretches(
        [birth(100), death(900, ts=95, last=700, reason="shutdown")],
        now=2000,
        last_message=None,
        stale_after_ms=300,
    )
    (s,) = in_window(st, window=(500, 2000))
    assert (s.lo, s.hi, s.end_reason) == (500, 700, "shutdown")
