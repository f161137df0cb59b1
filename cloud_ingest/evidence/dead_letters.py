"""What a dead letter held: read as far as it can be (a payload may be broken in any way), so
the figures can say whose samples were rejected and from when (gap cause ``rejected``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from wire.json_v1 import decode_payload

MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceShare:
    n: int
    min_ts: int
    max_ts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Contents:
    """``devices`` is empty when the payload was not a readable data message."""

    stream: str | None = None
    seq: int | None = None
    sent: int | None = None
    devices: dict[str, DeviceShare] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return sum(d.n for d in self.devices.values())


def read(payload: bytes) -> Contents:
    try:
        doc = json.loads(decode_payload(payload, max_bytes=MAX_BYTES))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return Contents()
    if not isinstance(doc, dict) or not isinstance(doc.get("samples"), list):
        return Contents()
    shares: dict[str, list[int]] = {}
    for s in doc["samples"]:
        if not isinstance(s, dict):
            continue
        dev, t = s.get("d"), s.get("ts")
        if not isinstance(dev, str) or isinstance(t, bool) or not isinstance(t, int):
            continue
        values = s.get("values")  # a block stands for one sample a value
        acc = shares.setdefault(dev, [0, t, t])
        acc[0] += len(values) if isinstance(values, dict) and values else 1
        acc[1], acc[2] = min(acc[1], t), max(acc[2], t)

    def opt_int(v: object) -> int | None:
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    stream = doc.get("stream")
    return Contents(
        stream=stream if isinstance(stream, str) else None,
        seq=opt_int(doc.get("seq")),
        sent=opt_int(doc.get("sent")),
        devices={d: DeviceShare(n=a[0], min_ts=a[1], max_ts=a[2]) for d, a in shares.items()},
    )
