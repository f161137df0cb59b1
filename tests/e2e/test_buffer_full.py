"""The disk buffer fills during a long outage: the configured policy drops the oldest data,
the drops are counted per device and reason, and the cloud receives those counts so the
evidence shows them — every sample read is either stored or reported dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.buffer import DiskBuffer
from tests.e2e.harness import stack
from tests.support import Mosquitto, free_port
from wire.json_v1 import DeviceCounters

pytestmark = pytest.mark.e2e


def test_full_buffer_drops_oldest_and_the_cloud_is_told(tmp_path: Path, pg_dsn: str,
                                                        uid: str) -> None:
    broker = Mosquitto(persistent=True)
    port = free_port()
    buffer_path = tmp_path / "edge-buffer.sqlite"
    try:
        with stack(tmp_path, uid=uid, dsn=pg_dsn, broker_port=broker.port) as s:
            s.simulator(f"energy_meter_3ph@{port}")
            # the cloud's persistent session exists before the outage, as in production
            broker.start()
            ingest = s.ingest(s.cloud_config())
            broker.stop()
            agent = s.agent(s.gateway_config(
                [{"id": "mixer-meter", "profile": "energy_meter_3ph",
                  "endpoint": f"tcp://127.0.0.1:{port}", "interval_ms": 20}],
                buffer={"path": str(buffer_path), "max_bytes": 65536, "full_policy": "drop_oldest",
                        "linger_ms": 100, "batch_max_samples": 200},
            ))

            def mixer() -> DeviceCounters | None:
                if not buffer_path.exists():
                    return None
                buf = DiskBuffer(buffer_path, max_bytes=65536)
                try:
                    return buf.counters().devices.get("mixer-meter")
                finally:
                    buf.close()

            def dropped() -> int:
                c = mixer()
                return 0 if c is None else c.dropped.get("buffer_full", 0)

            s.wait("the buffer to overflow", lambda: dropped() > 0, timeout=90)
            broker.start()

            def published() -> int:
                c = mixer()
                return 0 if c is None else c.published

            s.wait("the agent to publish again", lambda: published() > 0, timeout=60)
            # every row on disk now, sealed into a batch or not, is at or below this id: the
            # backlog has drained when none is left (polls every 20 ms keep a live batch in
            # flight most of the time, so the buffer need never be seen empty meanwhile)
            buf = DiskBuffer(buffer_path, max_bytes=65536)
            backlog_to = buf.db.execute("SELECT coalesce(max(id), 0) FROM rows").fetchone()[0]
            buf.close()

            def backlog_left() -> int:
                buf = DiskBuffer(buffer_path, max_bytes=65536)
                try:
                    return int(buf.db.execute("SELECT count(*) FROM rows WHERE id <= ?",
                                              (backlog_to,)).fetchone()[0])
                finally:
                    buf.close()

            s.wait("the backlog drained after the outage", lambda: backlog_left() == 0, timeout=60)
            assert agent.terminate() == 0, s.logs()
            buf = DiskBuffer(buffer_path, max_bytes=65536)
            c = buf.counters().devices["mixer-meter"]
            assert buf.depth() == (0, 0)
            buf.close()
            assert c.dropped["buffer_full"] > 0
            assert c.read == c.published + c.dropped["buffer_full"], "every sample accounted for"

            def cloud_dropped() -> int:
                rows = s.query("SELECT raw FROM gateway_counters_latest l JOIN gateways g "
                               "ON g.id = l.gateway_id WHERE g.code = %s", s.gateway)
                if not rows:
                    return -1
                dev = rows[0][0]["devices"].get("mixer-meter", {})
                return int(dev.get("dropped", {}).get("buffer_full", 0))

            s.wait("the drop counts reach the cloud", lambda: cloud_dropped() > 0, timeout=30)
            s.wait("every published sample stored", lambda: s.query(
                "SELECT count(*) FROM v_samples WHERE gateway = %s", s.gateway)[0][0] == c.published,
                timeout=30)
            ingest.terminate()
        assert 0 < cloud_dropped() <= c.dropped["buffer_full"]
    finally:
        broker.close()
