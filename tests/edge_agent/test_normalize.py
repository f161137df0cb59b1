"""Normalization: scaling and units, deadbands, report by exception with heartbeats."""

from __future__ import annotations

import pytest

from common.config_files import validate
from device_profiles.device import DeviceConfig
from device_profiles.loader import resolve_profile
from edge_agent.normalize import Normalizer
from wire.sample import Quality, Sample, expand

PROFILE = resolve_profile("energy_meter_3ph")


def device(report: dict[str, object]) -> DeviceConfig:
    return validate(DeviceConfig, {"id": "m1", "profile": "energy_meter_3ph",
                                   "endpoint": "tcp://127.0.0.1:1", "report": report}, "test")


def feed(norm: Normalizer, values: list[tuple[int, object]], tag: str = "voltage_l1",
         quality: Quality = Quality.GOOD) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    for ts, v in values:
        out += [(s.ts, s.value) for s in expand(norm.apply([Sample("m1", tag, ts, v, quality)]))]  # type: ignore[arg-type]
    return out


def test_default_reports_every_reading_unchanged() -> None:
    norm = Normalizer(device({}), PROFILE)
    assert feed(norm, [(0, 1.0), (1000, 1.0), (2000, 1.0)]) == [(0, 1.0), (1000, 1.0), (2000, 1.0)]


def test_absolute_deadband_and_heartbeat() -> None:
    norm = Normalizer(device({"deadband_abs": 0.5, "heartbeat_ms": 5000}), PROFILE)
    got = feed(norm, [(0, 230.0), (1000, 230.4), (2000, 230.6), (3000, 230.2), (4000, 231.2),
                      (8000, 231.3), (9000, 231.3), (10000, 231.3)])
    # 230.4 within 0.5 of 230.0; 230.6 beyond; 230.2 within 0.5 of 230.6; 231.2 beyond;
    # 231.3 at 8000 is within the band but 4 s later no heartbeat yet; 9000 = 5 s of silence
    assert got == [(0, 230.0), (2000, 230.6), (4000, 231.2), (9000, 231.3)]


def test_percent_deadband_per_tag_override_and_unit_scaling() -> None:
    norm = Normalizer(device({"tags": {"power_total": {"deadband_pct": 10, "scale": 0.001,
                                                       "unit": "kW"}}}), PROFILE)
    assert norm.rules["power_total"].unit == "kW" and norm.rules["voltage_l1"].mode == "all"
    got = feed(norm, [(0, 10000.0), (1, 10900.0), (2, 11100.0)], tag="power_total")
    assert got == [(0, 10.0), (2, pytest.approx(11.1))]


def test_quality_change_is_always_reported() -> None:
    norm = Normalizer(device({"mode": "change"}), PROFILE)
    assert feed(norm, [(0, 5.0), (1, 5.0)]) == [(0, 5.0)]
    bad = expand(norm.apply([Sample.bad("m1", "voltage_l1", ts=2, reason="offline")]))
    assert len(bad) == 1 and bad[0].quality == Quality.BAD
    assert feed(norm, [(3, 5.0)]) == [(3, 5.0)]


def test_unknown_tag_in_report_overrides_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"voltage_l9.*energy_meter_3ph"):
        Normalizer(device({"tags": {"voltage_l9": {"deadband_abs": 1}}}), PROFILE)
