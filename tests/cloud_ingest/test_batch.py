"""The write path's dict validator gives the same verdicts as the wire models it is derived from."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from cloud_ingest.batch import DataBatch
from tests.cloud_ingest.helpers import data, encode
from wire.json_v1 import DataMessage


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(encode(data("e1", "g1", 3, n=4))[1])
    doc["samples"][1].update(q="bad", c=17, r="timeout", v=None)
    doc["samples"][2]["v"] = True
    return doc


def _set(path: str, value: Any) -> dict[str, Any]:
    doc = _doc()
    *parents, last = path.split(".")
    node: Any = doc
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


_DELETE = object()

CASES = {
    "valid": _doc(),
    "extra key in a sample": _set("samples.0.x", 1),
    "extra top-level key": _set("extra", 1),
    "bad quality": _set("samples.0.q", "fine"),
    "negative ts": _set("samples.0.ts", -1),
    "ts beyond the range": _set("samples.0.ts", 10**14),
    "ts as numeric string (lax)": _set("samples.0.ts", "1767225600000"),
    "device id with a slash": _set("samples.0.d", "a/b"),
    "empty tag": _set("samples.0.t", ""),
    "reason too long": _set("samples.1.r", "x" * 513),
    "value a list": _set("samples.0.v", [1]),
    "missing rt": _set("samples.0.rt", _DELETE),
    "no samples": _set("samples", []),
    "seq zero": _set("seq", 0),
    "wrong type": _set("type", "birth"),
    "version 2": _set("v", 2),
    "negative counter": _set("counters.devices.dev0.read", -5),
    "extra counter key": _set("counters.devices.dev0.lost", 1),
    "bad enterprise id": _set("enterprise", "a b"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_verdict_as_data_message(name: str) -> None:
    payload = json.dumps(CASES[name]).encode()
    try:
        model: DataMessage | None = DataMessage.model_validate_json(payload)
        model_errors = None
    except ValidationError as err:
        # the model names the union branch of a sample ("sample"); the cloud's schema takes
        # samples only (blocks are not stored yet), so its paths have no branch
        model, model_errors = None, sorted(
            tuple(p for i, p in enumerate(e["loc"]) if not (i == 2 and p == "sample"))
            for e in err.errors())
    try:
        batch: DataBatch | None = DataBatch.from_json(payload)
        batch_errors = None
    except ValidationError as err:
        batch, batch_errors = None, sorted(e["loc"] for e in err.errors())
    assert (model is None) == (batch is None)
    assert model_errors == batch_errors
    if model is not None and batch is not None:
        assert DataBatch.of(model).samples == [
            {**{"q": "good", "c": None, "r": None}, **s} for s in copy.deepcopy(batch.samples)
        ]
        assert (batch.enterprise, batch.gateway, batch.seq, batch.counters) == (
            model.enterprise, model.gateway, model.seq, model.counters)
