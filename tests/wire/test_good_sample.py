"""`good_sample` is the collectors' cheap way to make a good sample: the same frozen object."""

from __future__ import annotations

import dataclasses

import pytest

from wire.sample import Quality, Sample, good_sample


def test_good_sample_is_the_sample_the_constructor_makes() -> None:
    fast = good_sample("m1", "t", 1_700_000_000_000, 230.5)
    assert fast == Sample("m1", "t", 1_700_000_000_000, 230.5)
    assert (fast.quality, fast.read_ts, fast.code, fast.reason) == (Quality.GOOD, 1_700_000_000_000,
                                                                   None, None)
    assert hash(fast) == hash(Sample("m1", "t", 1_700_000_000_000, 230.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.value = 1  # type: ignore[misc]
