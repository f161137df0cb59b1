"""Whatever a dead letter holds is read as far as it can be, and nothing raises."""

import gzip
import json

from cloud_ingest.evidence.dead_letters import read


def test_a_readable_data_message_is_counted_per_device() -> None:
    doc = {
        "stream": "b1",
        "seq": 7,
        "sent": 99,
        "q_extra": 1,
        "samples": [{"d": "m1", "ts": 10}, {"d": "m1", "ts": 30}, {"d": "m2", "ts": 20}, "junk", {"d": 5}],
    }
    for payload in (json.dumps(doc).encode(), gzip.compress(json.dumps(doc).encode())):
        c = read(payload)
        assert (c.stream, c.seq, c.sent, c.samples) == ("b1", 7, 99, 3)
        assert (c.devices["m1"].min_ts, c.devices["m1"].max_ts, c.devices["m1"].n) == (10, 30, 2)


def test_unreadable_payloads_hold_nothing() -> None:
    for payload in (b"", b"\x1f\x8bnot gzip", b"{broken", b"[1, 2]", b'{"samples": 3}', b"\xff\xfe"):
        assert read(payload).devices == {}


def test_a_block_counts_as_one_sample_a_value() -> None:
    doc = {"samples": [{"d": "m1", "ts": 10, "rt": 11, "values": {"a": 1, "b": 2, "c": 3}},
                       {"d": "m1", "ts": 40, "values": {}}, {"d": "m1", "ts": 50, "values": [1, 2]},
                       {"d": "m2", "t": "x", "ts": 20}]}
    c = read(json.dumps(doc).encode())
    # the empty block and the one whose values are no map are read as one sample each
    assert c.samples == 3 + 1 + 1 + 1
    assert (c.devices["m1"].n, c.devices["m1"].min_ts, c.devices["m1"].max_ts) == (5, 10, 50)
