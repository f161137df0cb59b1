"""The pure parts of the dashboard: live-state rules, windows, the series chart, the session seal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud_ingest.web import session
from cloud_ingest.web.queries.devices import MAX_POINTS, Bin, bin_width
from cloud_ingest.web.queries.live import classify
from cloud_ingest.web.series_chart import series_svg
from cloud_ingest.web.windows import WindowError, parse

NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def row(**kw: Any) -> dict[str, Any]:
    base = {"last_stored_at": NOW - timedelta(seconds=1), "db_now": NOW, "expected_ms": 1000,
            "gateway_online": True, "tags_seen": 4, "tags_good": 4, "tags_bad": 0}
    return {**base, **kw}


@pytest.mark.parametrize(("kw", "state"), [
    ({}, "delivering"),
    ({"tags_good": 3, "tags_bad": 1}, "degraded"),
    ({"tags_good": 3, "tags_bad": 0}, "degraded"),  # one uncertain
    ({"tags_good": 0, "tags_bad": 4}, "device_offline"),
    ({"last_stored_at": NOW - timedelta(seconds=4)}, "no_data"),
    ({"last_stored_at": NOW - timedelta(seconds=4), "gateway_online": False}, "gateway_offline"),
    ({"last_stored_at": None}, "never"),
    ({"expected_ms": None, "last_stored_at": NOW - timedelta(seconds=170)}, "delivering"),  # 60 s default
    ({"expected_ms": 120_000, "last_stored_at": NOW - timedelta(minutes=5)}, "delivering"),  # heartbeat
    ({"expected_ms": 120_000, "last_stored_at": NOW - timedelta(minutes=7)}, "no_data"),
])
def test_live_state_rules(kw: dict[str, Any], state: str) -> None:
    assert classify(row(**kw)) == state


def test_windows_presets_and_custom_in_beijing_time() -> None:
    today = parse("today", None, None, now=NOW)
    assert today.start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # 2026-03-01 00:00 in Beijing
    assert today.end == NOW
    assert parse("7d", None, None, now=NOW).start == NOW - timedelta(days=7)
    later = NOW.replace(minute=42, second=17)
    assert parse("7d", None, None, now=later).start == datetime(2026, 2, 22, 4, 0, tzinfo=UTC), \
        "from the top of the hour 7 days ago"
    assert parse("30d", None, None, now=later).start == datetime(2026, 1, 30, 4, 0, tzinfo=UTC)
    assert parse("30d", None, None, now=later).end == later
    custom = parse("custom", "2026-02-01T08:00", "2026-02-02T08:00", now=NOW)
    assert custom.start == datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    assert custom.end == datetime(2026, 2, 2, 0, 0, tzinfo=UTC)
    assert custom.query() == "window=custom&start=2026-02-01T08:00&end=2026-02-02T08:00"
    assert parse(None, None, None, now=NOW).preset == "today"
    clipped = parse("custom", "2026-02-28T08:00", "2026-03-09T08:00", now=NOW)
    assert clipped.end == NOW, "a window is never longer than now"


@pytest.mark.parametrize(("start", "end", "words"), [
    ("2026-02-02T08:00", "2026-02-01T08:00", "不晚于"),
    ("2026-02-01T08:00", "2026-02-01T08:00", "不晚于"),
    ("2027-01-01T00:00", "2027-01-02T00:00", "在将来"),
    ("2024-01-01T00:00", "2026-01-02T00:00", "最长一年"),
    ("02/01/2026", "2026-02-02T08:00", "格式不对"),
])
def test_bad_custom_windows(start: str, end: str, words: str) -> None:
    with pytest.raises(WindowError, match=words):
        parse("custom", start, end, now=NOW)


def test_bin_width_keeps_charts_small() -> None:
    assert bin_width(timedelta(hours=1)) == ("samples_1m", timedelta(minutes=1))
    assert bin_width(timedelta(days=1)) == ("samples_1m", timedelta(minutes=6))
    assert bin_width(timedelta(days=30)) == ("samples_1h", timedelta(hours=3))
    for span in (timedelta(minutes=10), timedelta(days=2), timedelta(days=7), timedelta(days=366)):
        _table, width = bin_width(span)
        assert span / width <= MAX_POINTS


def test_series_chart_is_deterministic_and_breaks_at_missing_bins() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    w = timedelta(minutes=1)
    bins = [Bin(start + i * w, 60, 60 if i != 2 else 50, float(i), i - 0.5, i + 0.5) for i in (0, 1, 2, 5, 6)]
    one = series_svg(bins, start=start, end=start + 10 * w, width=w, unit="kW", title="power")
    assert one == series_svg(bins, start=start, end=start + 10 * w, width=w, unit="kW", title="power")
    assert one.count("<polyline") == 2, "the missing minutes 3-4 break the line"
    assert one.count('class="bad"') == 1, "the minute with 10 samples not good is marked"
    assert "kW" in one and one.startswith("<svg") and one.endswith("</svg>")
    empty = series_svg([], start=start, end=start + w, width=w, unit=None, title="<x>")
    assert "无数值数据" in empty and "&lt;x&gt;" in empty


def test_session_seal_opens_only_with_its_key_and_age() -> None:
    keys = session.keys_from(b"k" * 40)
    cookie = session.seal(keys, "the-token-0123456789")
    assert "the-token" not in cookie
    assert session.open_cookie(keys, cookie) == "the-token-0123456789"
    with pytest.raises(session.SessionError, match="expired"):
        session.open_cookie(keys, cookie, now=datetime.now(UTC).timestamp() + session.MAX_AGE_S + 5)
    with pytest.raises(session.SessionError, match="invalid"):
        session.open_cookie(session.keys_from(b"j" * 40), cookie)
    with pytest.raises(session.SessionError, match="invalid"):
        session.open_cookie(keys, "garbage")


def test_a_short_session_key_is_refused_with_how_to_make_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(session.KEY_ENV, "short")
    with pytest.raises(ValueError, match="openssl rand"):
        session.load_keys()
