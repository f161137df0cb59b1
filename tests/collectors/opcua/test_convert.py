"""Value, quality and timestamp mapping, on values as the library hands them over."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from collectors.opcua.convert import RawValue, quality_of, to_sample, to_value
from wire.sample import Quality


@pytest.mark.parametrize(
    ("code", "quality"),
    [
        (0, Quality.GOOD),
        (0x00A80000, Quality.GOOD),
        (0x40000000, Quality.UNCERTAIN),
        (0x408F0000, Quality.UNCERTAIN),
        (0x808C0000, Quality.BAD),
        (0x80000000, Quality.BAD),
    ],
)
def test_quality_from_status_code_severity(code: int, quality: Quality) -> None:
    assert quality_of(code) is quality


def test_values_of_every_type_are_stored_as_documented() -> None:
    t = dt.datetime(2025, 3, 1, 8, 0, 0, 123000, tzinfo=dt.UTC)
    assert to_value(True) == (True, True)
    assert to_value(-7) == (-7, True)
    assert to_value(2.5) == (2.5, True)
    assert to_value("x") == ("x", True)
    assert to_value(t) == ("2025-03-01T08:00:00.123Z", True)
    assert to_value(b"\xde\xad") == ("dead", True)
    assert to_value([1.5, float("nan"), 2.0]) == ("[1.5,null,2.0]", True)
    assert json.loads(str(to_value([[1, 2], [3, 4]])[0])) == [[1, 2], [3, 4]]
    assert to_value(float("inf")) == (None, False)


def test_source_timestamp_wins_and_code_is_kept() -> None:
    raw = RawValue(value=3.0, code=0x40920000, code_name="UncertainLastUsableValue", source_ts=1000,
                   server_ts=2000)
    s = to_sample("d", "t", raw, read_ts=3000)
    assert (s.ts, s.read_ts, s.quality, s.code, s.reason) == (
        1000,
        3000,
        Quality.UNCERTAIN,
        0x40920000,
        "UncertainLastUsableValue",
    )


def test_bad_status_drops_the_value_and_falls_back_to_server_time() -> None:
    raw = RawValue(value=3.0, code=0x808C0000, code_name="BadSensorFailure", source_ts=None,
                   server_ts=2000)
    s = to_sample("d", "t", raw, read_ts=3000)
    assert (s.ts, s.value, s.quality, s.code, s.reason) == (
        2000,
        None,
        Quality.BAD,
        0x808C0000,
        "BadSensorFailure",
    )


def test_nan_becomes_uncertain_null() -> None:
    raw = RawValue(value=float("nan"), code=0, code_name="Good", source_ts=5, server_ts=5)
    s = to_sample("d", "t", raw, read_ts=6)
    assert (s.value, s.quality) == (None, Quality.UNCERTAIN)
    assert s.reason is not None and "NaN" in s.reason
