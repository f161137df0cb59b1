"""Windows and times as a user types them; bad ones refused with what would be accepted."""

from datetime import UTC, datetime, timedelta

import pytest

from cloud_ingest.evidence.window import UnknownEnterprise, WindowInvalid, check_window, parse_time, zone

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
SH = zone("Asia/Shanghai")


def test_times_with_and_without_offsets() -> None:
    assert parse_time("2026-03-01", tz=SH, now=NOW) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert parse_time("2026-03-01T08:00", tz=SH, now=NOW) == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert parse_time("2026-03-01T00:00:00Z", tz=SH, now=NOW) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_time("2026-03-01T09:00+09:00", tz=SH, now=NOW) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_time("now", tz=SH, now=NOW) == NOW


def test_unreadable_time_and_zone() -> None:
    with pytest.raises(WindowInvalid, match="ISO 8601"):
        parse_time("March 1st", tz=SH, now=NOW)
    with pytest.raises(WindowInvalid, match="Asia/Shanghai"):
        zone("Mars/Olympus")


def test_bad_windows() -> None:
    with pytest.raises(WindowInvalid, match="at or before"):
        check_window(NOW - timedelta(hours=1), NOW - timedelta(hours=1), now=NOW)
    with pytest.raises(WindowInvalid, match="at or before"):
        check_window(NOW - timedelta(hours=1), NOW - timedelta(hours=2), now=NOW)
    with pytest.raises(WindowInvalid, match="future"):
        check_window(NOW + timedelta(minutes=1), NOW + timedelta(hours=1), now=NOW)


def test_an_end_in_the_future_is_now() -> None:
    span = check_window(NOW - timedelta(days=1), NOW + timedelta(days=1), now=NOW)
    assert span.end == NOW and span.requested_end == NOW + timedelta(days=1)


def test_unknown_enterprise_lists_known_ones() -> None:
    assert "ent-a, ent-b" in str(UnknownEnterprise("ent-x", ["ent-a", "ent-b"]))
    assert "no enterprise" in str(UnknownEnterprise("ent-x", []))
