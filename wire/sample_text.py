"""Samples in their JSON wire form: this runs for every sample read.

`sample_json` assembles one sample by hand; `samples_json` encodes a poll's worth at once with
orjson (3x cheaper per sample, measured with bench/edge_scale.py's profile), falling back to
`sample_json` for whatever orjson would write differently or refuse: a value JSON cannot
carry (NaN, infinity), an integer beyond 64 bits, a string with a lone surrogate.

`RunText` makes the same text for a run of good samples of one device read at one time (a
Modbus block of small integers) from the values alone: the rest of each sample's text is fixed
per tag list, so no per-sample object or dict is walked for it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Sequence

import orjson

from wire.json_v1 import REASON_MAX
from wire.sample import Quality, Sample

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



_TS = "\x00"  # where a run's read time goes: JSON text never holds a raw NUL (it is escaped)


class RunText:
    """The rows' text of good samples of one device and one fixed list of tags, read at one
    time (``ts`` and ``read_ts`` equal, no code, no reason): what `samples_json` writes for the
    same samples, in chunks of ``max_samples``, made with one orjson call for the values and one
    ``%`` format a chunk."""

    def __init__(self, device: str, tags: Sequence[str]) -> None:
        self._device, self._tags = device, list(tags)
        self.n = len(self._tags)
        # the text kept is one template a row (a 1,000-tag device: about 90 kB); the
        # per-tag pieces are made again only for another row size
        self._cuts: dict[int, list[tuple[int, int, str]]] = {}

    def _chunks(self, step: int) -> list[tuple[int, int, str]]:
        cut = self._cuts.get(step)
        if cut is None:
            dev = _text(self._device)
            parts = [f'{{"d":{dev},"t":{_text(t)},"ts":{_TS},"rt":{_TS},"v":%s,"q":"good"}}'
                     for t in self._tags]
            cut = self._cuts[step] = [(i, min(i + step, self.n), ",".join(parts[i:i + step]))
                                      for i in range(0, self.n, step)]
        return cut

    def rows(self, ts: int, values: Sequence[object], *, max_samples: int) -> list[tuple[int, str]] | None:
        """(samples, text) per chunk; None when a value is not a finite number or a 64-bit
        integer (those samples are encoded from their objects, as `samples_json` does)."""
        if len(values) != self.n or not self.n or not set(map(type, values)) <= _NUMBERS:
            return None
        try:
            text = orjson.dumps(values)
        except (orjson.JSONEncodeError, TypeError):  # an integer beyond 64 bits
            return None
        if b"null" in text:  # orjson writes NaN and infinity as null; sample_json makes them bad
            return None
        texts = text.decode()[1:-1].split(",")
        stamp = str(ts)
        return [(j - i, tmpl.replace(_TS, stamp) % tuple(texts[i:j]))
                for i, j, tmpl in self._chunks(max(1, max_samples))]


_NUMBERS = {int, float}


def _text(name: str) -> str:
    """A name's JSON text in a ``%`` template; not `_jstr`'s cache, which a 10,000-tag gateway
    would fill for text made once."""
    return json.dumps(name, ensure_ascii=False).replace("%", "%%")
Run = tuple[RunText, int, Sequence[object]]  # the text maker, the read time, the values


class TextedSamples(list[Sample]):
    """Samples that also know their rows' text: ``runs`` are (RunText, read time, values) in
    list order, covering it all (the collector that made the samples sets them). A list like
    any other; `edge_agent.buffer.rows.encode_rows` uses the runs while the length still
    matches, and encodes the samples themselves otherwise."""

    __slots__ = ("runs",)

    def __init__(self, samples: Iterable[Sample], runs: Sequence[Run]) -> None:
        super().__init__(samples)
        self.runs = runs

    def rows(self, *, max_samples: int, max_bytes: int) -> list[tuple[int, str]] | None:
        """(samples, text) per row, each within the limits; None when the runs cannot say."""
        if sum(r.n for r, _, _ in self.runs) != len(self):
            return None
        out: list[tuple[int, str]] = []
        for run, ts, values in self.runs:
            rows = run.rows(ts, values, max_samples=max_samples)
            if rows is None:
                return None
            out += rows
        if any(len(text) > max_bytes for _, text in out):
            return None
        return out
