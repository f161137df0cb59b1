"""One Sparkplug metric value → one wire sample: value, timestamps and quality.

Quality comes from the metric's ``Quality`` property (Sparkplug 3.0 defines 0 BAD, 192 GOOD and
500 STALE; without the property a value is good). Codes from other hosts' vocabularies are read
the OPC DA way, by the quality byte's top bits (192-255 good, 64-191 uncertain, below 64 bad),
anything else is bad; a code that is not one of Sparkplug's three is kept as the sample's own
status code, so nothing the device said is lost. Our agent's properties (``Uncertain``,
``Read Time``, ``Code``, ``Reason``, docs/sparkplug.md) are honoured from any node.
"""

from __future__ import annotations

from wire.json_v1 import WireSample
from wire.sample import QualityLabel, Value
from wire.sparkplug import convention as sp
from wire.sparkplug import sparkplug_b_pb2 as pb
from wire.sparkplug.values import value as metric_value

_STANDARD = frozenset({sp.QUALITY_BAD, sp.QUALITY_GOOD, sp.QUALITY_STALE})
REASON_MAX = 512  # WireSample.r


def quality(props: dict[str, Value]) -> tuple[QualityLabel, int | None, str | None]:
    """(quality, the device's own code, reason) from a metric's properties."""
    raw = props.get(sp.P_QUALITY, sp.QUALITY_GOOD)
    code = props.get(sp.P_CODE)
    reason = props.get(sp.P_REASON)
    label: QualityLabel
    if isinstance(raw, bool) or not isinstance(raw, int):
        text = str(raw)  # a host that sends its quality as text ("Good", "Bad_Stale")
        label = "good" if text.lower() == "good" else "bad"
        reason = reason if reason is not None or label == "good" else f"quality {text}"
        raw_code = None
    else:
        raw_code = raw
        if raw == sp.QUALITY_STALE:
            label = "bad"
            reason = "stale" if reason is None else reason
        elif 192 <= raw <= 255:
            label = "good"
        elif 64 <= raw < 192:
            label = "uncertain"
        else:
            label = "bad"
    if label == "bad" and props.get(sp.P_UNCERTAIN) is True:
        label = "uncertain"
    if not isinstance(code, int) or isinstance(code, bool):
        code = raw_code if raw_code is not None and raw_code not in _STANDARD else None
    return label, code, None if reason is None else str(reason)[:REASON_MAX]


def sample(device: str, tag: str, m: pb.Payload.Metric, datatype: int, *, default_ts: int) -> WireSample:
    """The wire sample of one metric; raises pydantic.ValidationError or UnsupportedValue."""
    props = sp.read_properties(m.properties) if m.HasField("properties") else {}
    ts = m.timestamp if m.HasField("timestamp") else default_ts
    read_ts = props.get(sp.P_READ_TIME, ts)
    q, code, reason = quality(props)
    return WireSample(d=device, t=tag, ts=ts, rt=read_ts, v=metric_value(m, datatype, tag), q=q, c=code,
                      r=reason)
