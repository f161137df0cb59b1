"""SIGKILL the agent at random moments, many times: no committed sample may be lost, and the
database may hold no duplicate, however many batches went over the wire twice.

"Committed" is exact here: the gateway's `read` counter is bumped in the same SQLite
transaction that stores the samples, so after the last clean run the rows in the database
must equal the sum of `read` over every device — across every kill and restart.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from edge_agent.buffer import DiskBuffer
from tests.e2e.harness import stack
from tests.support import free_port

pytestmark = pytest.mark.e2e


def kill_many(tmp_path: Path, dsn: str, uid: str, *, kills: int) -> None:
    rng = random.Random(uid)
    ports = {"press-1": free_port(), "press-2": free_port()}
    with stack(tmp_path, uid=uid, dsn=dsn) as s:
        s.simulator(*(f"energy_meter_3ph@{p}" for p in ports.values()))
        ingest = s.ingest(s.cloud_config())
        config = s.gateway_config(
            [{"id": dev, "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{port}",
              "interval_ms": 100} for dev, port in ports.items()],
            buffer={"path": str(tmp_path / "edge-buffer.sqlite"), "linger_ms": 50,
                    "batch_max_samples": 64},
        )
        for i in range(kills):
            agent = s.agent(config)
            time.sleep(rng.uniform(0.8, 2.5))  # startup, reading, sealing, publishing: any moment
            assert agent.alive(), f"agent died by itself before kill {i}\n{s.logs()}"
            agent.kill()
        final = s.agent(config)
        time.sleep(2.0)
        assert final.terminate() == 0, s.logs()

        buf = DiskBuffer(tmp_path / "edge-buffer.sqlite", max_bytes=1 << 30)
        counters, depth, last_seq = buf.counters(), buf.depth(), buf.next_seq - 1
        buf.close()
        assert depth == (0, 0), "after a clean stop everything was acknowledged"
        read = sum(counters.devices[d].read for d in ports)
        assert all(not counters.devices[d].dropped for d in ports)

        def stored() -> int:
            return int(s.query("SELECT count(*) FROM v_samples WHERE gateway = %s",
                               s.gateway)[0][0])

        def missing() -> str:
            have = {int(r[0]) for r in s.query(
                "SELECT DISTINCT seq FROM v_samples WHERE gateway = %s", s.gateway)}
            return (f"stored {stored()} of {read}; batches missing: "
                    f"{sorted(set(range(1, last_seq + 1)) - have)[:20]} of {last_seq}")

        s.wait(f"every committed sample stored ({missing()})", lambda: stored() >= read, timeout=60)
        time.sleep(1.0)  # redeliveries still in flight must not add rows
        ingest.terminate()

    assert stored() == read, "rows in the database must equal the samples the gateway committed"
    dupes = s.query("SELECT count(*) - count(DISTINCT (device, tag, ts)) FROM v_samples "
                    "WHERE gateway = %s", s.gateway)[0][0]
    assert dupes == 0
    seqs = [int(r[0]) for r in s.query(
        "SELECT DISTINCT seq FROM v_samples WHERE gateway = %s ORDER BY 1", s.gateway)]
    assert seqs == list(range(1, last_seq + 1)), "every sealed batch arrived exactly once"


def test_sigkill_agent_repeatedly_loses_nothing(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    kill_many(tmp_path, pg_dsn, uid, kills=6)


@pytest.mark.soak
def test_sigkill_agent_fifty_times_loses_nothing(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    kill_many(tmp_path, pg_dsn, uid, kills=50)
