"""Pure parts of the OPC UA simulator: generators it adds, type coercion, argument checks."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest

from device_profiles.base import SimSpec
from device_profiles.loader import load_profile
from device_profiles.opcua import OpcUaProfile
from simulators.generators import make_generator
from simulators.opcua.server import OpcUaSimulator
from simulators.opcua.values import coerce

PROFILE = Path(__file__).resolve().parents[2] / "cases" / "opcua" / "basic" / "profile.yaml"


def test_unknown_security_mode_is_refused() -> None:
    profile = load_profile(PROFILE)
    assert isinstance(profile, OpcUaProfile)
    with pytest.raises(ValueError, match="valid are None, Basic256Sha256_Sign"):
        OpcUaSimulator(profile, port=1, security=["Basic128Rsa15"])


def test_state_machine_walks_states_in_order_with_varying_dwell() -> None:
    g = make_generator(SimSpec(kind="state_machine", choices=["idle", "run", "clean"], period_s=10), seed=3)
    seen = [g(t / 2) for t in range(0, 200)]
    order = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
    assert order[:6] == ["idle", "run", "clean", "idle", "run", "clean"]
    dwell = [len(list(g)) for _, g in itertools.groupby(seen)]
    assert len(set(dwell[:-1])) > 1


def test_alarm_bits_is_a_reproducible_word_of_max_bits() -> None:
    spec = SimSpec(kind="alarm_bits", max=4, amplitude=0.5, period_s=1)
    a, b = make_generator(spec, seed=1), make_generator(spec, seed=1)
    words = [a(float(t)) for t in range(50)]
    assert words == [b(float(t)) for t in range(50)]
    assert all(isinstance(w, int) and 0 <= w < 16 for w in words) and len(set(words)) > 3


@pytest.mark.parametrize(
    ("type_", "value", "out"),
    [("Byte", 300.0, 255), ("SByte", -1000, -128), ("UInt16", -3, 0), ("Boolean", 0.0, False),
     ("Boolean", "on", True), ("String", 2.5, "2.5"), ("ByteString", 258, b"\x00\x00\x01\x02"),
     ("DateTime", 0, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)), ("Double", "x", 0.0)],
)
def test_values_are_coerced_to_the_declared_type(type_: str, value: float | str, out: object) -> None:
    assert coerce(type_, value, now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) == out
