"""The uplink goes away: a Mosquitto of the test's own is stopped for a while and started
again. The agent keeps reading and buffering, drains its backlog (marked historical) when the
broker is back, and the database ends with exactly the samples the gateway read — zero lost,
zero duplicated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edge_agent.buffer import DiskBuffer
from tests.e2e.harness import stack
from tests.support import Capture, Mosquitto, free_port

pytestmark = pytest.mark.e2e


def outage(tmp_path: Path, dsn: str, uid: str, *, down_s: float, drain_rate: int) -> None:
    # persistence on, as on a real broker: the cloud's session and what is queued for it
    # survive the outage, whichever of agent and ingest reconnects first (after ten minutes
    # their reconnect backoffs differ by seconds, and a session lost in the restart would
    # leave the agent's first batches undelivered)
    broker = Mosquitto(persistent=True)
    broker.start()
    port = free_port()
    try:
        with stack(tmp_path, uid=uid, dsn=dsn, broker_port=broker.port) as s:
            s.simulator(f"energy_meter_3ph@{port}")
            ingest = s.ingest(s.cloud_config())
            agent = s.agent(s.gateway_config(
                [{"id": "kiln-meter", "profile": "energy_meter_3ph",
                  "endpoint": f"tcp://127.0.0.1:{port}", "interval_ms": 200}],
                publish={"drain_rate_per_s": drain_rate},
            ))
            s.wait("first rows", lambda: s.query(
                "SELECT count(*) FROM v_samples WHERE gateway = %s", s.gateway)[0][0] > 0)
            broker.stop()
            time.sleep(down_s)
            buf = DiskBuffer(tmp_path / "edge-buffer.sqlite", max_bytes=1 << 30)
            backlog = buf.backlog_samples()
            buf.close()
            assert backlog > 0, "the agent should have kept reading into its buffer"
            drain_s = backlog / drain_rate
            broker.start()
            cap = Capture("127.0.0.1", broker.port, f"shopfloor/v1/{s.enterprise}/{s.gateway}/data")
            try:
                s.wait("the backlog drained", lambda: any(
                    json.loads(p)["historical"] for p in cap.of_kind("data")) and not any(
                    json.loads(p)["historical"] for p in cap.of_kind("data")[-3:]),
                    timeout=60 + 2 * drain_s)
            finally:
                cap.close()
            assert agent.terminate() == 0, s.logs()
            order = [json.loads(p)["historical"] for p in cap.of_kind("data")]
            last_backlog = max(i for i, hist in enumerate(order) if hist)
            assert not all(order[:last_backlog]), "live data must flow while the backlog drains"
            buf = DiskBuffer(tmp_path / "edge-buffer.sqlite", max_bytes=1 << 30)
            c = buf.counters().devices["kiln-meter"]
            assert buf.depth() == (0, 0)
            buf.close()
            assert c.read == c.published and not c.dropped

            def stored() -> int:
                return int(s.query("SELECT count(*) FROM v_samples WHERE gateway = %s",
                                   s.gateway)[0][0])

            s.wait("every read sample stored", lambda: stored() >= c.read, timeout=60)
            time.sleep(0.5)
            ingest.terminate()
        assert stored() == c.read
        assert s.query("SELECT count(*) - count(DISTINCT (tag, ts)) FROM v_samples "
                       "WHERE gateway = %s", s.gateway)[0][0] == 0
        seqs = [int(r[0]) for r in s.query(
            "SELECT DISTINCT seq FROM v_samples WHERE gateway = %s ORDER BY 1", s.gateway)]
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        broker.close()


def test_broker_outage_loses_and_duplicates_nothing(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    outage(tmp_path, pg_dsn, uid, down_s=6, drain_rate=150)


@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_broker_outage_of_ten_minutes(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    # 48,000 samples of backlog (80 a second for ten minutes), drained at 2,000 a second
    outage(tmp_path, pg_dsn, uid, down_s=600, drain_rate=2000)
