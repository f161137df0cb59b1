"""Evidence end to end, the gateway: its disk buffer fills during an outage and drops the oldest
data (cause dropped_at_gateway, the exact drop count in the reconciliation), and a gateway that is
switched off, reinstalled with a wiped buffer and switched on again inside the window (a new
stream; the stretch between is gateway_offline)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge_agent.buffer import DiskBuffer
from tests.cloud_ingest.evidence.e2e_helpers import figures, first_last, now_ms, truth
from tests.e2e.harness import stack
from tests.support import Mosquitto, free_port

pytestmark = pytest.mark.e2e


def _counters(path: Path) -> tuple[int, int]:
    """(read, dropped:buffer_full) as the gateway's own buffer counts them."""
    if not path.exists():
        return 0, 0
    buf = DiskBuffer(path, max_bytes=1 << 30)
    try:
        c = buf.counters().devices.get("mixer-meter")
        return (0, 0) if c is None else (c.read, c.dropped.get("buffer_full", 0))
    finally:
        buf.close()


def test_full_buffer_drops_show_as_dropped_at_gateway(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    broker = Mosquitto(persistent=True)
    broker.start()
    port = free_port()
    buffer_path = tmp_path / "edge-buffer.sqlite"
    try:
        with stack(tmp_path, uid=uid, dsn=pg_dsn, broker_port=broker.port) as s:
            s.simulator(f"energy_meter_3ph@{port}")
            ingest = s.ingest(s.cloud_config())
            agent = s.agent(
                s.gateway_config(
                    [
                        {
                            "id": "mixer-meter",
                            "profile": "energy_meter_3ph",
                            "endpoint": f"tcp://127.0.0.1:{port}",
                            "interval_ms": 20,
                        }
                    ],
                    buffer={
                        "path": str(buffer_path),
                        "max_bytes": 65536,
                        "full_policy": "drop_oldest",
                        "linger_ms": 100,
                        "batch_max_samples": 200,
                    },
                )
            )
            s.wait(
                "data flowing",
                lambda: s.query("SELECT count(*) FROM v_samples WHERE gateway = %s", s.gateway)[0][0] > 0,
            )
            time.sleep(2)
            down_at = now_ms()
            broker.stop()
            s.wait("the buffer to overflow", lambda: _counters(buffer_path)[1] > 0, timeout=90)
            time.sleep(1)
            broker.start()
            up_at = now_ms()

            def drained() -> bool:
                # everything read before the broker came back is acknowledged; newer polls keep
                # arriving every 20 ms, so an empty buffer is a moment a slow machine may never show
                buf = DiskBuffer(buffer_path, max_bytes=1 << 30)
                try:
                    oldest = buf.oldest_ms()
                    return oldest is None or oldest >= up_at
                finally:
                    buf.close()

            s.wait("the backlog drained", drained, timeout=90)
            time.sleep(2)
            end = now_ms() - 1000
            assert agent.terminate() == 0, s.logs()
            _, dropped = _counters(buffer_path)
            start = first_last(pg_dsn, s.gateway, "mixer-meter")[0] + 1000
            s.wait(
                "every published sample stored",
                lambda: (
                    s.query(
                        "SELECT count(*) FROM batches b JOIN gateways g ON g.id = b.gateway_id WHERE"
                        " g.code = %s"
                        " AND b.received_at > now() - interval '1 second'",
                        s.gateway,
                    )[0][0]
                    == 0
                ),
                timeout=20,
            )
            f = figures(pg_dsn, s.enterprise, start, end)
            ingest.terminate()
    finally:
        broker.close()

    dev = f.devices[0]
    drops = [g for g in dev.gaps if g.cause == "dropped_at_gateway"]
    assert drops, dev.gaps
    for g in drops:
        assert g.dropped is not None and 0 < g.dropped["buffer_full"] <= dropped
        assert down_at - 1000 <= g.start.timestamp() * 1000 and g.end.timestamp() * 1000 <= up_at + 35_000
    # what went missing while the broker was down was dropped or came late, nothing else (the
    # first report after the outage counts the drops); around it, a 20 ms poll on a busy machine
    # may come late or be skipped: such a gap is a few polls long and says so
    told = ("dropped_at_gateway", "delivered_late")
    outage = [g for g in dev.gaps if down_at - 1000 <= g.start.timestamp() * 1000 < up_at]
    assert outage and {g.cause for g in outage} <= set(told), dev.gaps
    jitter = [g for g in dev.gaps if g not in outage and g.cause not in told]
    assert all(g.cause in ("gateway_overrun", "unknown") and g.duration_s < 0.2 for g in jitter), dev.gaps
    rec = f.reconciliation[0]
    # every drop happened inside the window, and the gateway's last report carries them all
    assert rec.dropped == {"buffer_full": dropped}
    assert rec.devices[0].dropped == {"buffer_full": dropped}
    assert rec.unexplained == 0 and rec.rejected == 0
    assert rec.read + rec.at_gateway_start - rec.at_gateway_end == rec.published + dropped
    # what is missing is what was dropped: completeness counts the good samples that did arrive
    n, good = truth(pg_dsn, f"gw-{uid}", "mixer-meter", start, end)
    assert dev.samples_good == good and dev.samples_stored == n
    assert dev.samples_expected is not None and dev.completeness is not None
    assert dev.completeness == pytest.approx(good / dev.samples_expected, abs=1e-6)
    assert dev.completeness < 1


def test_reinstalled_gateway_is_a_new_stream_and_the_pause_is_gateway_offline(
    tmp_path: Path, pg_dsn: str, uid: str
) -> None:
    port = free_port()
    buffer_path = tmp_path / "edge-buffer.sqlite"
    with stack(tmp_path, uid=uid, dsn=pg_dsn) as s:
        s.simulator(f"energy_meter_3ph@{port}")
        ingest = s.ingest(s.cloud_config())
        config = s.gateway_config(
            [
                {
                    "id": "m1",
                    "profile": "energy_meter_3ph",
                    "endpoint": f"tcp://127.0.0.1:{port}",
                    "interval_ms": 200,
                }
            ]
        )
        stops = []
        for life in range(2):
            agent = s.agent(config)
            def lives(life: int = life) -> bool:
                sql = "SELECT count(DISTINCT seq >> 32) FROM v_samples WHERE gateway = %s"
                return bool(s.query(sql, s.gateway)[0][0] == life + 1)

            s.wait("this life's data stored", lives, timeout=30)
            time.sleep(3)
            stops.append(now_ms())
            assert agent.terminate() == 0, s.logs()
            for part in ("", "-wal", "-shm"):  # the reinstall: a new disk, an empty buffer
                Path(f"{buffer_path}{part}").unlink(missing_ok=True)
            if life == 0:
                time.sleep(3)  # switched off
        first, last = first_last(pg_dsn, s.gateway, "m1")
        start, end = first + 1000, last - 500
        f = figures(pg_dsn, s.enterprise, start, end)
        ingest.terminate()

    gw = f.gateways[0]
    assert gw.streams == 2
    assert [x.end_reason for x in gw.sessions] == ["shutdown", "open"], gw.sessions
    dev = f.devices[0]
    assert [g.cause for g in dev.gaps] == ["gateway_offline"], dev.gaps
    gap = dev.gaps[0]
    # the pause lies between the first life's stop and the second life's first reading
    assert stops[0] - 2000 <= gap.start.timestamp() * 1000 <= stops[0] + 200
    assert gap.duration_s >= 3
    assert dev.online_ratio == pytest.approx(1 - gap.duration_s / ((end - start) / 1000), abs=1e-6)
    rec = f.reconciliation[0]
    assert rec.unexplained == 0 and rec.dropped == {}
    # the gateway's own balance holds over both streams summed
    assert rec.read + rec.at_gateway_start - rec.at_gateway_end == rec.published
    assert rec.devices[0].device == "m1"
