"""Two `cloud-ingest serve` processes share one stream; one is SIGKILLed mid-stream and restarted.

What Mosquitto 2.0 does (checked on 2.0.11): members of a shared subscription get messages round
robin, *including* a member that is disconnected but has a persistent session: its share, and
whatever was in flight unacknowledged when it died, wait in its session until a client with the
same id returns. With clean sessions those in-flight messages are simply gone. So each worker
has a fixed client id and a persistent session, and a supervisor restarts a dead one; QoS 1
redelivery plus the batch ledger then give exactly the published rows.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud_ingest import migrate
from tests.cloud_ingest.helpers import T0, clear_sessions, data, encode, publisher, scalar, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

EXE = Path(sys.executable).parent / "cloud-ingest"


class Worker:
    def __init__(self, tmp: Path, name: str, cfg: dict[str, object]) -> None:
        self.name = name
        self.cfg_file = tmp / f"{name}.yaml"
        self.cfg_file.write_text(json.dumps(cfg))  # JSON is YAML
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen([str(EXE), "serve", "--no-api", "--config", str(self.cfg_file)],
                                         stdout=subprocess.DEVNULL, stderr=err)
        wait_until(lambda: self.log.read_text().count("consuming") >= self.starts
                   or self.proc is None or self.proc.poll() is not None, timeout=30, what=f"{self.name} up")
        assert self.proc.poll() is None, self.log.read_text()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None


@pytest.fixture
def workers(tmp_path: Path, pg_dsn: str, broker: tuple[str, int], uid: str) -> Iterator[list[Worker]]:
    ent = f"ent-{uid}"
    ws = [
        Worker(tmp_path, f"w{i}", {
            "database": {"dsn": pg_dsn},
            "mqtt": {"host": broker[0], "port": broker[1], "client_id": f"ingest-{uid}-{i}",
                     "topic_filter": f"shopfloor/v1/{ent}/+/+", "shared_group": f"g-{uid}",
                     "session_expiry_s": 300, "max_inflight": 20},
            "ingest": {"batch_max_messages": 5, "rollup_interval_s": 2},
        })
        for i in (1, 2)
    ]
    try:
        yield ws
    finally:
        for w in ws:
            w.terminate()
        clear_sessions(broker, [f"ingest-{uid}-{i}" for i in (1, 2)])


def test_two_workers_one_killed_mid_stream(
    workers: list[Worker], pg_dsn: str, broker: tuple[str, int], uid: str
) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    w1, w2 = workers
    w1.start()
    w2.start()
    total = 400
    # four gateways, interleaved, each on its own stretch of time
    stream = [encode(data(ent, f"gw{s % 4}", s // 4 + 1, n=50, t0=T0 + (s % 4) * 10**9))
              for s in range(total)]
    with publisher(broker, f"pub-{uid}") as pub:
        pub.publish(stream[:100])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") >= 20, what="stream flowing")
        # kill while messages are in flight to it, and keep publishing while it is dead
        for i in range(100, 200, 10):
            pub.publish(stream[i : i + 10])
        w1.kill()
        pub.publish(stream[200:])
        time.sleep(1.0)
        parked = total - scalar(pg_dsn, "SELECT count(*) FROM batches")
        w1.start()  # the supervisor's restart: same client id, same persistent session
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == total, timeout=90,
                   what="every batch stored")
        # replay a slice through both workers: still no duplicates
        pub.publish(stream[:40])
        pub.publish([encode(data(ent, "gw0", 1000, n=50))])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == total + 1, what="sentinel")
    assert parked > 0, "the killed worker's share should have waited for it"
    assert "session present: True" in w1.log.read_text()  # the restart resumed the dead one's session
    assert scalar(pg_dsn, "SELECT count(*) FROM samples") == (total + 1) * 50
    distinct = "SELECT count(*) FROM (SELECT DISTINCT tag_id, ts FROM samples) x"
    assert scalar(pg_dsn, distinct) == (total + 1) * 50
    assert scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 0
    # both stop cleanly on SIGTERM, and both did part of the work (the restarted w1 at least
    # the share that waited for it)
    assert w2.terminate() == 0
    assert w1.terminate() == 0
    for w in workers:
        # a graceful stop leaves the group: drained, acknowledged, session ended at the broker
        assert "left the subscription; all stored and acknowledged" in w.log.read_text()
        stored = re.findall(r"stopped: Stats\(messages=\d+, batches=(\d+)", w.log.read_text())
        assert len(stored) == 1 and int(stored[0]) > 0, w.log.read_text()[-2000:]
