"""`good_sample` is the collectors' cheap way to make a good sample: the same frozen object."""

from __future__ import annotations

import dataclasses

import pytest

from wire.sample import Quality, Sample, good_sample, good_samples


def test_good_sample_is_the_sample_the_constructor_makes() -> None:
    fast = good_sample("m1", "t", 1_700_000_000_000, 230.5)
    assert fast == Sample("m1", "t", 1_700_000_000_000, 230.5)
    assert (fast.quality, fast.read_ts, fast.code, fast.reason) == (Quality.GOOD, 1_700_000_000_000,
                                                                   None, None)
    assert hash(fast) == hash(Sample("m1", "t", 1_700_000_000_000, 230.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.value = 1  # type: ignore[misc]


def test_good_samples_are_the_samples_the_constructor_makes() -> None:
    tags, values = ["a", "b", "状态"], [1, 2.5, -7]
    made = good_samples("m1", 1_700_000_000_000, tags, values)
    assert made == [Sample("m1", t, 1_700_000_000_000, v) for t, v in zip(tags, values, strict=True)]
    assert all(type(s) is Sample and s.read_ts == 1_700_000_000_000 for s in made)
    assert good_samples("m1", 1, [], []) == []
    with pytest.raises(ValueError, match="2 tags but 1 values"):
        good_samples("m1", 1, ["a", "b"], [1])
