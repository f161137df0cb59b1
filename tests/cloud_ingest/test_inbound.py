"""Every kind of bad input gets a reason; good input comes back as the wire model."""

from __future__ import annotations

import gzip
import json
from typing import cast

import pytest

from cloud_ingest.batch import DataBatch
from cloud_ingest.inbound import Rejected, decode
from tests.cloud_ingest.helpers import data, encode

LIMIT = 64 * 1024


def test_valid_data_message() -> None:
    t, p = encode(data("e1", "g1", 1))
    msg = decode(t, p, max_bytes=LIMIT)
    assert isinstance(msg, DataBatch) and msg.seq == 1 and len(msg.samples) == 10


def _doc() -> dict[str, object]:
    return json.loads(encode(data("e1", "g1", 1))[1])


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("shopfloor/v1/e1/g1/data", b"{not json", "bad_json"),
        ("shopfloor/v1/e1/g1/data", json.dumps({**_doc(), "v": 2}).encode(), "unknown_version"),
        ("shopfloor/v1/e1/g1/data", json.dumps({**_doc(), "type": "birth"}).encode(), "wrong_type"),
        ("shopfloor/v1/e1/g1/data", json.dumps({**_doc(), "seq": 0}).encode(), "schema"),
        ("shopfloor/v1/e1/g1/data", json.dumps([1, 2]).encode(), "schema"),
        ("shopfloor/v1/e1/other/data", encode(data("e1", "g1", 1))[1], "topic_mismatch"),
        ("shopfloor/v1/e1/g1/nonsense", b"{}", "bad_topic"),
        ("shopfloor/v1/e1/data", b"{}", "bad_topic"),
        ("shopfloor/v1/e1/g1/data", b"x" * (LIMIT + 1), "oversized"),
    ],
)
def test_rejections_have_reasons(topic: str, payload: bytes, reason: str) -> None:
    out = decode(topic, payload, max_bytes=LIMIT)
    assert isinstance(out, Rejected)
    assert out.reason == reason, out
    assert out.detail


def test_schema_detail_names_the_field() -> None:
    doc = _doc()
    doc["samples"][0]["ts"] = "yesterday"  # type: ignore[index]
    out = decode("shopfloor/v1/e1/g1/data", json.dumps(doc).encode(), max_bytes=LIMIT)
    assert isinstance(out, Rejected) and out.reason == "schema"
    assert "samples.0.ts" in out.detail


def test_gzip_payloads_are_inflated_within_the_limit() -> None:
    t, p = encode(data("e1", "g1", 1).model_copy(update={"historical": True}))
    msg = decode(t, gzip.compress(p, mtime=0), max_bytes=LIMIT)
    assert isinstance(msg, DataBatch) and msg.historical and len(msg.samples) == 10
    broken = decode(t, b"\x1f\x8b" + b"not really gzip", max_bytes=LIMIT)
    assert isinstance(broken, Rejected) and broken.reason == "bad_gzip"
    bomb = decode(t, gzip.compress(b" " * (LIMIT * 4)), max_bytes=LIMIT)  # small on the wire, huge inflated
    assert isinstance(bomb, Rejected) and bomb.reason == "oversized" and "inflates beyond" in bomb.detail


def test_schema_detail_names_the_block_value() -> None:
    doc = _doc()
    items = cast(list[object], doc["samples"])
    items.append({"d": "m1", "ts": 1, "rt": 2, "values": {"power": None}})
    out = decode("shopfloor/v1/e1/g1/data", json.dumps(doc).encode(), max_bytes=LIMIT)
    assert isinstance(out, Rejected) and out.reason == "schema"
    n = len(items) - 1
    assert out.detail.startswith(f"samples.{n}.values.power.") and "got None" in out.detail, out.detail
