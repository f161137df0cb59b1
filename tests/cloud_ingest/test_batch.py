"""The write path's dict validator gives the same verdicts as the wire models it is derived from."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from cloud_ingest.batch import DataBatch
from tests.cloud_ingest.helpers import T0, data, encode
from wire.json_v1 import DataMessage


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(encode(data("e1", "g1", 3, n=4))[1])
    doc["samples"][1].update(q="bad", c=17, r="timeout", v=None)
    doc["samples"][2]["v"] = True
    # a block of good values of one device read at one instant, between the samples
    doc["samples"].insert(2, {"d": "dev0", "ts": T0 + 50, "rt": T0 + 55,
                              "values": {"power": 1.5, "state": "RUN", "on": True, "count": 7}})
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
    "block without values": _set("samples.2.values", {}),
    "null in a block": _set("samples.2.values.power", None),
    "list in a block": _set("samples.2.values.power", [1]),
    "empty tag in a block": _set("samples.2.values", {"": 1}),
    "block with quality": _set("samples.2.q", "bad"),
    "block with a tag key": _set("samples.2.t", "power"),
    "block without rt": _set("samples.2.rt", _DELETE),
    "block device with a slash": _set("samples.2.d", "a/b"),
    "block ts beyond the range": _set("samples.2.ts", 10**14),
    "block values not a map": _set("samples.2.values", [1, 2]),
    "only a block": {**_doc(), "samples": [_doc()["samples"][2]]},
    "sample not an object": _set("samples.0", 5),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_verdict_as_data_message(name: str) -> None:
    payload = json.dumps(CASES[name]).encode()
    try:
        model: DataMessage | None = DataMessage.model_validate_json(payload)
        model_errors = None
    except ValidationError as err:
        model, model_errors = None, sorted(e["loc"] for e in err.errors())
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


def test_a_block_is_spelled_out_in_place_as_good_samples() -> None:
    batch = DataBatch.from_json(json.dumps(_doc()).encode())
    assert len(batch.samples) == 4 + 4
    assert batch.samples[2:6] == [
        {"d": "dev0", "t": t, "ts": T0 + 50, "rt": T0 + 55, "v": v}
        for t, v in (("power", 1.5), ("state", "RUN"), ("on", True), ("count", 7))]
    assert batch.samples[6]["v"] is True  # the sample after the block keeps its place
