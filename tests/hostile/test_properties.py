"""Every target of `tests.hostile.targets` under hypothesis: no input crashes it, hangs it or
makes it answer without a reason (the longer run of the same targets: scripts/fuzz.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.hostile.targets import TARGETS, Target

EXAMPLES = 150


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_no_input_crashes_the_target(target: Target) -> None:
    seen: set[tuple[bool, str]] = set()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(target.inputs)
    def run(case: object) -> None:
        out = target.check(case)
        seen.add((out.accepted, out.reason))

    run()
    # the inputs reach both sides: some are accepted, some rejected
    assert {accepted for accepted, _ in seen} == {True, False} or target.name == "opcua_convert", seen
