"""A gateway box is reinstalled (its buffer wiped) and comes back with the same id: its new
batches start again at seq 1, and the cloud must store them, not drop them as replays."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge_agent.buffer import DiskBuffer
from tests.e2e.harness import stack
from tests.support import free_port

pytestmark = pytest.mark.e2e


def test_wiped_buffer_starts_a_new_stream_and_nothing_is_dropped(tmp_path: Path, pg_dsn: str,
                                                                  uid: str) -> None:
    port = free_port()
    buffer_path = tmp_path / "edge-buffer.sqlite"
    with stack(tmp_path, uid=uid, dsn=pg_dsn) as s:
        s.simulator(f"energy_meter_3ph@{port}")
        ingest = s.ingest(s.cloud_config())
        config = s.gateway_config([{"id": "m1", "profile": "energy_meter_3ph",
                                    "endpoint": f"tcp://127.0.0.1:{port}", "interval_ms": 200}])
        read = []
        for _ in range(2):
            agent = s.agent(config)
            time.sleep(2.5)
            assert agent.terminate() == 0, s.logs()
            buf = DiskBuffer(buffer_path, max_bytes=1 << 30)
            read.append(buf.counters().devices["m1"].read)
            assert buf.depth() == (0, 0)
            buf.close()
            for part in ("", "-wal", "-shm"):  # the reinstall
                Path(f"{buffer_path}{part}").unlink(missing_ok=True)

        def stored() -> int:
            return int(s.query("SELECT count(*) FROM v_samples WHERE gateway = %s",
                               s.gateway)[0][0])

        s.wait("both lives of the gateway stored", lambda: stored() >= sum(read), timeout=60)
        ingest.terminate()
    assert stored() == sum(read)
    assert len(s.query("SELECT stream FROM gateway_streams")) == 2
