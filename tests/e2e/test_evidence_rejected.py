"""Evidence end to end, the cloud side: malformed messages are rejected and counted; a data message
the cloud rejects leaves a gap with cause ``rejected``; a batch the gateway counted as published
that never arrived is ``unexplained`` in the reconciliation — silent loss is never silent. The
messages are crafted and published to the real broker; the real ingest stores what it accepts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cloud_ingest.evidence.e2e_helpers import figures, now_ms
from tests.cloud_ingest.helpers import publisher
from tests.e2e.harness import stack
from tests.support import BROKER_HOST, BROKER_PORT
from wire.json_v1 import BirthMessage, DeviceInfo, TagInfo, topic

pytestmark = pytest.mark.e2e

STEP = 500  # the tag's interval
PER_MESSAGE = 5  # samples per device per message


def _data(ent: str, gw: str, seq: int, t0: int) -> dict[str, object]:
    samples = [
        {
            "d": d,
            "t": "power",
            "ts": t0 + (seq - 1) * PER_MESSAGE * STEP + i * STEP,
            "rt": t0 + (seq - 1) * PER_MESSAGE * STEP + i * STEP,
            "v": 10.0 + i,
            "q": "good",
        }
        for d in ("press-a", "press-b")
        for i in range(PER_MESSAGE)
    ]
    n = 2 * PER_MESSAGE * seq  # cumulative, per gateway; each device half of it
    return {
        "v": 1,
        "type": "data",
        "enterprise": ent,
        "gateway": gw,
        "session": "s1",
        "seq": seq,
        "sent": int(samples[-1]["ts"]) + 100,
        "samples": samples,
        "counters": {
            "batches_published": seq,
            "devices": {
                d: {"read": n // 2, "buffered": n // 2, "published": n // 2, "read_errors": 0, "dropped": {}}
                for d in ("press-a", "press-b")
            },
        },
    }


def test_rejected_and_lost_messages(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    with stack(tmp_path, uid=uid, dsn=pg_dsn) as s:
        ingest = s.ingest(s.cloud_config())
        ent, gw = s.enterprise, s.gateway
        birth = BirthMessage(
            enterprise=ent,
            gateway=gw,
            session="s1",
            ts=now_ms(),
            next_seq=1,
            agent_version="test",
            devices=[
                DeviceInfo(
                    id=d,
                    profile="press",
                    protocol="modbus",
                    tags=[TagInfo(name="power", type="float32", interval_ms=STEP)],
                )
                for d in ("press-a", "press-b")
            ],
        )
        with publisher((BROKER_HOST, BROKER_PORT), f"pub-{uid}") as pub:
            pub.publish([(topic(ent, gw, "birth"), birth.model_dump_json().encode())])
            s.wait("birth stored", lambda: s.query("SELECT count(*) FROM gateway_events")[0][0] == 1)
            t0 = now_ms() + 1000
            time.sleep(17)  # the data below is read during these seconds; it is sent now, a bit late
            messages = []
            for seq in range(1, 7):
                doc = _data(ent, gw, seq, t0)
                if seq == 3:
                    doc["samples"][0]["q"] = "excellent"  # type: ignore[index]  # not a quality: schema
                if seq == 5:
                    continue  # published by the gateway, lost before the cloud (its counters say so)
                messages.append((topic(ent, gw, "data"), json.dumps(doc).encode()))
            stray = {**_data(ent, gw, 6, t0), "v": 2, "seq": 9, "sent": now_ms()}  # a version we do not read
            messages += [
                (topic(ent, gw, "data"), b'{"v": 1, "type": "data", '),
                (topic(ent, gw, "data"), json.dumps(stray).encode()),
            ]
            pub.publish(messages)
            s.wait(
                "stored and rejected",
                lambda: (
                    s.query("SELECT count(*) FROM batches")[0][0] == 4
                    and s.query("SELECT count(*) FROM dead_letters")[0][0] == 3
                ),
            )
        end = t0 + 6 * PER_MESSAGE * STEP
        f = figures(pg_dsn, ent, t0, end)
        ingest.terminate()

    # the readable rejected ones count by the time of their data; the unreadable one by when it
    # was received, after the window
    assert f.rejected.by_reason == {"schema": 1, "unknown_version": 1}
    assert f.rejected.messages == 2 and f.rejected.samples == 4 * PER_MESSAGE
    later = figures(pg_dsn, s.enterprise, t0, now_ms() - 100)
    assert later.rejected.by_reason == {"bad_json": 1, "schema": 1, "unknown_version": 1}
    assert f.gateways[0].rejected == f.rejected.by_reason
    assert later.gateways[0].rejected == later.rejected.by_reason
    span = PER_MESSAGE * STEP
    for dev in f.devices:
        got = [
            (g.cause, round(g.start.timestamp() * 1000) - t0, round(g.end.timestamp() * 1000) - t0)
            for g in dev.gaps
        ]
        assert got == [("rejected", 2 * span, 3 * span), ("unknown", 4 * span, 5 * span)], (dev.device, got)
        assert dev.samples_good == 4 * PER_MESSAGE and dev.samples_expected == 6 * PER_MESSAGE
    rec = f.reconciliation[0]
    assert (rec.read, rec.published, rec.stored) == (60, 60, 40)
    assert rec.rejected == 10  # the schema-rejected message (the stray one was sent after the last report)
    assert rec.unexplained == 10  # the lost message
    assert {d.device: d.unexplained for d in rec.devices} == {"press-a": 5, "press-b": 5}
    assert any(n.code == "unexplained_loss" for n in f.notes)
