"""The supervisor's rules with a fake collector (the real reconnects are in test_reconnect)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Self

import pytest

from collectors.base import DeviceUnreachable
from collectors.opcua.errors import OptionsError
from collectors.opcua.supervisor import Backoff, supervise
from collectors.sample import Quality, Sample


class FakeCollector:
    """Script of sessions: each entry is the batches one session yields before it is lost;
    None means the connect itself fails."""

    def __init__(
        self, script: list[list[str] | None], *, fail_with: type[Exception] = DeviceUnreachable
    ) -> None:
        self.script, self.fail_with, self.session = script, fail_with, -1

    async def __aenter__(self) -> Self:
        self.session += 1
        if self.session >= len(self.script) or self.script[self.session] is None:
            raise self.fail_with(f"connect {self.session} failed")
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def subscribe(self) -> AsyncIterator[list[Sample]]:
        for value in self.script[self.session] or []:
            yield [Sample("d", "t", 1, value)]
        raise DeviceUnreachable(f"session {self.session} lost")

    def offline_samples(self, reason: str, *, ts: int | None = None) -> list[Sample]:
        return [Sample.bad("d", "t", ts=ts or 1, reason=f"device offline: {reason}")]


async def take(it: AsyncIterator[list[Sample]], n: int) -> list[list[Sample]]:
    return [await anext(it) for _ in range(n)]


async def test_one_offline_batch_per_gap_however_many_retries() -> None:
    fake = FakeCollector([["a"], None, None, None, ["b"]])
    out = await take(supervise(fake, backoff=Backoff(initial_s=0.001, max_s=0.001)), 3)
    assert [b[0].value for b in out] == ["a", None, "b"]
    assert out[1][0].quality is Quality.BAD and "session 0 lost" in (out[1][0].reason or "")


async def test_a_connect_that_never_worked_is_reported_offline_too() -> None:
    out = await take(supervise(FakeCollector([None, ["x"]]), backoff=Backoff(initial_s=0.001)), 2)
    assert out[0][0].quality is Quality.BAD and out[1][0].value == "x"


async def test_bad_options_are_not_retried() -> None:
    with pytest.raises(OptionsError):
        await take(supervise(FakeCollector([None], fail_with=OptionsError)), 1)


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    b = Backoff(initial_s=1.0, max_s=5.0, jitter=0.0)
    assert [b.next() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    b.reset()
    assert b.next() == 1.0
