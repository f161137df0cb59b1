"""The body cache keeps freshly sealed bodies up to its byte bound and no further."""

from __future__ import annotations

from edge_agent.buffer.cache import BodyCache
from edge_agent.buffer.cutting import SealedBatch


def batch(seq: int, body: str) -> SealedBatch:
    return SealedBatch(seq=seq, sealed_ms=0, n=1, samples_json=body)


def test_bodies_are_kept_while_they_fit_and_handed_back_without_when_not() -> None:
    cache = BodyCache(10)
    out = cache.keep([batch(1, "[aaaa]"), batch(2, "[bbbb]"), batch(3, "[c]")])
    assert [b.samples_json for b in out] == ["[aaaa]", "", "[c]"]
    assert (cache.get(1), cache.get(2), cache.get(3)) == ("[aaaa]", None, "[c]")
    assert cache.used_bytes == 9


def test_forgetting_a_batch_frees_its_room() -> None:
    cache = BodyCache(10)
    cache.keep([batch(1, "[aaaaaaa]")])
    assert cache.keep([batch(2, "[bb]")])[0].samples_json == ""
    cache.forget(1)
    cache.forget(1)  # twice (acknowledged after being dropped) changes nothing
    assert cache.used_bytes == 0
    assert cache.keep([batch(2, "[bb]")])[0].samples_json == "[bb]"


def test_a_batch_without_a_body_takes_no_room() -> None:
    cache = BodyCache(10)
    assert cache.keep([batch(1, "")])[0].samples_json == "" and cache.used_bytes == 0
