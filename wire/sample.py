"""The one sample type that flows from collectors through the edge buffer to the cloud.

A sample is frozen: normalization makes a new one instead of editing it in place, so the
buffer, the publisher and the ingest service all see exactly what was read.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

Value = float | int | bool | str | None
QualityLabel = Literal["good", "uncertain", "bad"]


class Quality(enum.IntEnum):
    """OPC-style quality, kept small: the device's own code travels beside it."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2

    @property
    def label(self) -> QualityLabel:
        return cast(QualityLabel, self.name.lower())

    @classmethod
    def parse(cls, text: str) -> Quality:
        return cls[text.upper()]


def now_ms() -> int:
    """Wall-clock UTC time in epoch milliseconds, the unit of every timestamp on the wire."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Sample:
    """One normalized reading of one tag of one device.

    ``ts`` is the source timestamp (the device's when it gives one, else the gateway's read
    time); ``read_ts`` is always the gateway's clock, so the cloud can compute latency and
    clock offset from both. Both are UTC epoch milliseconds.
    """

    device: str
    tag: str
    ts: int
    value: Value
    quality: Quality = Quality.GOOD
    read_ts: int = field(default=0)
    code: int | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.read_ts == 0:
            object.__setattr__(self, "read_ts", self.ts)

    @classmethod
    def bad(cls, device: str, tag: str, *, ts: int, reason: str, code: int | None = None) -> Sample:
        """A bad-quality sample: evidence must tell "no data" from "no change"."""
        return cls(device, tag, ts, None, Quality.BAD, ts, code, reason)


_new = object.__new__
_fields = [Sample.__dict__[f].__set__ for f in
           ("device", "tag", "ts", "value", "quality", "read_ts", "code", "reason")]
_set_device, _set_tag, _set_ts, _set_value, _set_quality, _set_read_ts, _set_code, _set_reason = _fields


def good_sample(device: str, tag: str, ts: int, value: Value) -> Sample:
    """``Sample(device, tag, ts, value)``, a third of the cost: the collectors make one per
    point read, and a frozen dataclass's ``__init__`` (with ``__post_init__``) was a tenth of
    the agent's CPU at 40,000 points/s. The same frozen object, its slots set directly."""
    s = _new(Sample)
    _set_device(s, device)
    _set_tag(s, tag)
    _set_ts(s, ts)
    _set_value(s, value)
    _set_quality(s, Quality.GOOD)
    _set_read_ts(s, ts)
    _set_code(s, None)
    _set_reason(s, None)
    return s


def good_samples(device: str, ts: int, tags: Sequence[str], values: Sequence[Value]) -> list[Sample]:
    """``[good_sample(device, t, ts, v) for t, v in zip(tags, values)]``, without a call a
    sample: a block of registers read at once (collectors.modbus.block)."""
    new, good = _new, Quality.GOOD
    set_device, set_tag, set_ts, set_value = _set_device, _set_tag, _set_ts, _set_value
    set_quality, set_read_ts, set_code, set_reason = _set_quality, _set_read_ts, _set_code, _set_reason
    out: list[Sample] = []
    append = out.append
    for tag, value in zip(tags, values, strict=True):
        s = new(Sample)
        set_device(s, device)
        set_tag(s, tag)
        set_ts(s, ts)
        set_value(s, value)
        set_quality(s, good)
        set_read_ts(s, ts)
        set_code(s, None)
        set_reason(s, None)
        append(s)
    return out
