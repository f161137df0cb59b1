"""Samples in their JSON wire form: this runs for every sample read.

`sample_json` assembles one sample by hand; `samples_json` encodes a poll's worth at once with
orjson (3x cheaper per sample, measured with bench/edge_scale.py's profile), falling back to
`sample_json` for whatever orjson would write differently or refuse: a value JSON cannot
carry (NaN, infinity), an integer beyond 64 bits, a string with a lone surrogate.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence

import orjson

from wire.json_v1 import REASON_MAX
from wire.sample import Quality, Sample, Value

_QUALITY = {q: q.label for q in Quality}


@functools.lru_cache(maxsize=65536)
def _jstr(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _jvalue(v: object) -> str | None:
    """JSON text of a value; None when it cannot be represented (NaN, infinity)."""
    if type(v) is float:  # the common case first
        return repr(v) if math.isfinite(v) else None
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else None
    if isinstance(v, int):
        return str(v)
    return _jstr(str(v))


def sample_json(s: Sample) -> str:
    """The wire form of one sample (keys documented in docs/wire-format.md).

    Hand-assembled because it runs for every sample the gateway reads; names are escaped once
    and cached. A value JSON cannot carry (NaN, infinity) becomes null with bad quality and
    the reason, instead of an invalid document.
    """
    value = _jvalue(s.value)
    quality, reason = _QUALITY[s.quality], s.reason
    if value is None:
        value, quality, reason = "null", "bad", f"not a finite number: {s.value!r}"
    out = (f'{{"d":{_jstr(s.device)},"t":{_jstr(s.tag)},"ts":{s.ts},"rt":{s.read_ts},'
           f'"v":{value},"q":"{quality}"')
    if s.code is not None:
        out += f',"c":{int(s.code)}'
    if reason is not None:
        if len(reason) > REASON_MAX:  # a device's or library's message of any length must not
            reason = reason[: REASON_MAX - 1] + "…"  # cost the batch the wire would refuse
        out += f',"r":{_jstr(reason)}'
    return out + "}"



def samples_json(samples: Sequence[Sample]) -> str:
    """The wire forms of ``samples`` joined by commas (a stored row's text), as
    ``",".join(map(sample_json, samples))`` gives them."""
    docs: list[dict[str, object]] = []
    for s in samples:
        v = s.value
        if type(v) is float and not math.isfinite(v):
            return ",".join(map(sample_json, samples))
        doc: dict[str, object] = {"d": s.device, "t": s.tag, "ts": s.ts, "rt": s.read_ts, "v": v,
                                  "q": _QUALITY[s.quality]}
        if s.code is not None:
            doc["c"] = int(s.code)
        if s.reason is not None:
            doc["r"] = s.reason
        docs.append(doc)
    try:
        return orjson.dumps(docs).decode()[1:-1]
    except (orjson.JSONEncodeError, TypeError):
        return ",".join(map(sample_json, samples))


def block_json(device: str, ts: int, tags: Sequence[str], values: Sequence[Value]) -> str | None:
    """The wire form of good samples read together (`wire.json_v1.WireBlock`), or None when a
    value cannot go in a block as it is (not finite, an integer beyond 64 bits, a string
    with a lone surrogate): the caller sends such values as samples, which say why."""
    try:
        if not math.isfinite(sum(values)):  # type: ignore[arg-type]  # numbers, the usual case
            return None
    except TypeError:  # bools with strings, or strings: only a float can be non-finite
        if any(type(v) is float and not math.isfinite(v) for v in values):
            return None
    try:
        return orjson.dumps({"d": device, "ts": ts, "rt": ts,
                             "values": dict(zip(tags, values, strict=True))}).decode()
    except (orjson.JSONEncodeError, TypeError):
        return None
