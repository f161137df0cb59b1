"""`samples_json` (orjson, a poll at a time) writes what `sample_json` writes, sample by sample:
the same documents, and the same text for the numbers a poll carries; what orjson would write
differently or refuse goes through `sample_json`."""

from __future__ import annotations

import json
import random

import pytest

from wire.sample import Quality, Sample, good_sample
from wire.sample_text import sample_json, samples_json


def _reference(samples: list[Sample]) -> str:
    return ",".join(map(sample_json, samples))


def test_a_poll_of_numbers_is_the_same_text() -> None:
    rnd = random.Random(7)
    poll = [good_sample("meter-01", f"r{i}", 1_764_000_000_000 + i,
                        rnd.choice([rnd.randrange(-32768, 65536), round(rnd.uniform(-500, 500), 1),
                                    rnd.random() * 1e6, True, False]))
            for i in range(2000)]
    assert samples_json(poll) == _reference(poll)


@pytest.mark.parametrize("odd", [
    Sample("m1", "t", 1, float("nan")),                         # not JSON: bad, with the reason
    Sample("m1", "t", 1, float("inf")),
    Sample("m1", "t", 1, 2**70),                                # beyond orjson's 64 bits
    Sample("m1", "t", 1, "lone \ud800 surrogate"),
    Sample("m1", "t", 1, None, Quality.BAD, 1, 0x80, "device offline: refused"),
    Sample("m1", "状态", 1, "运行中 \"quoted\"\n", Quality.UNCERTAIN, 2, 1083310080),
    Sample("m1", "t", 1, 1e-7),
])
def test_anything_else_gives_the_same_documents(odd: Sample) -> None:
    poll = [good_sample("m1", "a", 1, 1.5), odd]
    try:
        want = json.loads("[" + _reference(poll) + "]")
    except ValueError:  # a lone surrogate: neither side can make it valid UTF-8 JSON text
        assert samples_json(poll) == _reference(poll)
        return
    assert json.loads("[" + samples_json(poll) + "]") == want
