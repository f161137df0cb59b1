"""The evidence computation turns the cyclic garbage collector off while it runs; overlapping
computations in threads (the dashboard's warmer beside a request) leave it as they found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from cloud_ingest.evidence.compute import _cyclic_gc_paused


@pytest.fixture(autouse=True)
def _gc_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_overlapping_computations_turn_it_back_on_when_the_last_ends() -> None:
    gc.enable()
    first, second = _cyclic_gc_paused(), _cyclic_gc_paused()
    first.__enter__()
    assert not gc.isenabled()
    second.__enter__()
    first.__exit__(None, None, None)  # the first ends while the second still runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with _cyclic_gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_error_in_the_computation_still_turns_it_back_on() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), _cyclic_gc_paused():
        raise RuntimeError("query failed")
    assert gc.isenabled()
