"""The drain rate's token bucket: empty at each connection, refilled with time up to one
second's worth, and a batch larger than that goes out only when the bucket is full."""

from __future__ import annotations

import pytest

from edge_agent.drain import TokenBucket


def test_empty_at_connect_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(100, now=10.0)
    assert not bucket.has_tokens()
    bucket.refill(10.25)
    assert bucket.tokens == pytest.approx(25)
    assert bucket.take(20) and bucket.tokens == pytest.approx(5)
    assert not bucket.take(20), "5 tokens do not pay for 20 samples"
    assert bucket.tokens == pytest.approx(5), "a refused take leaves the bucket as it was"


def test_holds_at_most_one_seconds_worth() -> None:
    bucket = TokenBucket(100, now=0.0)
    bucket.refill(60.0)  # a minute idle: no burst of 6,000 samples
    assert bucket.tokens == 100


def test_a_batch_larger_than_a_second_waits_for_a_full_bucket_and_leaves_a_debt() -> None:
    bucket = TokenBucket(100, now=0.0)
    bucket.refill(0.5)
    assert not bucket.take(250)
    bucket.refill(1.0)
    assert bucket.take(250) and bucket.tokens == pytest.approx(-150)
    bucket.refill(2.0)  # the debt is paid back before anything else goes out
    assert not bucket.has_tokens() and bucket.tokens == pytest.approx(-50)
    bucket.refill(2.6)
    assert bucket.has_tokens()


def test_reset_empties_the_bucket_at_a_new_connection() -> None:
    bucket = TokenBucket(100, now=0.0)
    bucket.refill(1.0)
    bucket.reset(5.0)
    assert not bucket.has_tokens()
    bucket.refill(5.1)
    assert bucket.tokens == pytest.approx(10)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0, now=0.0)
