"""What the Sparkplug decoder raises, and the rebirth request a host sends when it must ask.

All are ValueError, so a consumer that dead-letters ValueError keeps working::

    SparkplugError(ValueError)
     ├── MalformedPayload   not Sparkplug B protobuf, or not what the message kind requires
     └── NeedsBirth         the node (or an alias) is unknown: data before its births, e.g.
                            after an ingest restart; ``err.rebirth`` is (topic, payload) of an
                            NCMD rebirth request to publish
"""

from __future__ import annotations

from wire.sample import now_ms
from wire.sparkplug import convention as sp
from wire.sparkplug import sparkplug_b_pb2 as pb


class SparkplugError(ValueError):
    """A Sparkplug message that cannot become a wire message; the text says why."""


class MalformedPayload(SparkplugError):
    pass


class NeedsBirth(SparkplugError):
    def __init__(self, message: str, *, rebirth: tuple[str, bytes]) -> None:
        super().__init__(message)
        self.rebirth = rebirth


def rebirth_request(group: str, node: str) -> tuple[str, bytes]:
    """An NCMD asking the edge node for fresh NBIRTH/DBIRTHs. By name, since whoever asks may
    not know the alias; Sparkplug says QoS 0, not retained."""
    ts = now_ms()
    p = pb.Payload(timestamp=ts)
    m = p.metrics.add(name=sp.REBIRTH, timestamp=ts, datatype=sp.BOOLEAN)
    m.boolean_value = True
    return str(sp.Topic(group, "NCMD", node)), p.SerializeToString()
