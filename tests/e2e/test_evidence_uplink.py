"""Evidence end to end, the uplink: the gateway's own connection cut (its buffer keeps the data;
it arrives late but complete), then the broker itself stopped for a while. Both must show as
late delivery, never as loss: completeness 1, gap cause delivered_late, the gateway offline in
its sessions (a last will for the cut, a re-birth with no will for the broker outage), and a
reconciliation with nothing unexplained."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from simulators.network import TcpProxy
from tests.cloud_ingest.evidence.e2e_helpers import figures, first_last, now_ms, truth
from tests.e2e.harness import stack
from tests.support import Mosquitto, free_port

pytestmark = pytest.mark.e2e

INTERVAL = 200


def test_uplink_cut_and_broker_outage_are_late_not_lost(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    broker = Mosquitto(persistent=True)
    broker.start()
    proxy = TcpProxy(("127.0.0.1", broker.port))
    proxy.start()
    port = free_port()
    try:
        with stack(tmp_path, uid=uid, dsn=pg_dsn, broker_port=broker.port) as s:
            s.simulator(f"energy_meter_3ph@{port}")
            ingest = s.ingest(s.cloud_config())
            config = s.gateway_config(
                [
                    {
                        "id": "kiln-meter",
                        "profile": "energy_meter_3ph",
                        "endpoint": f"tcp://127.0.0.1:{port}",
                        "interval_ms": INTERVAL,
                    }
                ]
            )
            text = config.read_text().replace(f"port: {broker.port}", f"port: {proxy.port}")
            config.write_text(text)
            agent = s.agent(config)

            def stored_since(t: int) -> bool:
                return bool(
                    s.query(
                        "SELECT count(*) FROM v_samples WHERE gateway = %s AND ts > to_timestamp(%s / 1000.0)"
                        " AND stored_ts > ts",
                        s.gateway,
                        t,
                    )[0][0]
                )

            s.wait("data flowing", lambda: stored_since(0))
            time.sleep(3)
            cut_at = now_ms()
            proxy.cut()  # the gateway's uplink is gone; it keeps reading into its buffer
            time.sleep(5)
            proxy.start()
            restored_at = now_ms()
            s.wait(
                "the backlog of the cut drained",
                lambda: (
                    s.query(
                        "SELECT count(*) FROM batches b JOIN gateways g ON g.id = b.gateway_id WHERE"
                        " g.code = %s"
                        " AND b.historical AND b.received_at > to_timestamp(%s / 1000.0)",
                        s.gateway,
                        restored_at,
                    )[0][0]
                    > 0
                    and stored_since(now_ms() - 1000)
                ),
                timeout=60,
            )
            time.sleep(2)
            down_at = now_ms()
            broker.stop()  # now the broker itself: no last will reaches anyone
            time.sleep(4)
            broker.start()
            up_at = now_ms()
            s.wait(
                "the backlog of the outage drained",
                lambda: (
                    s.query(
                        "SELECT count(*) FROM batches b JOIN gateways g ON g.id = b.gateway_id WHERE"
                        " g.code = %s"
                        " AND b.historical AND b.received_at > to_timestamp(%s / 1000.0)",
                        s.gateway,
                        up_at,
                    )[0][0]
                    > 0
                    and stored_since(now_ms() - 1000)
                ),
                timeout=60,
            )
            time.sleep(2)
            end = now_ms() - 1000
            assert agent.terminate() == 0, s.logs()
            start = first_last(pg_dsn, s.gateway, "kiln-meter")[0] + 1000
            s.wait(
                "everything stored",
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
        with psycopg.connect(pg_dsn) as conn:
            late_truth = conn.execute(
                "SELECT count(*) FROM samples s JOIN batches b ON b.gateway_id = s.gateway_id AND b.seq ="
                " s.seq"
                " WHERE b.historical AND s.ts >= to_timestamp(%s / 1000.0) AND s.ts < to_timestamp(%s /"
                " 1000.0)",
                (start, end),
            ).fetchone()
    finally:
        proxy.close()
        broker.close()

    dev = f.devices[0]
    # late but complete: every expected sample arrived
    assert dev.completeness == 1.0, dev
    assert [g.cause for g in dev.gaps] == ["delivered_late", "delivered_late"], dev.gaps
    assert dev.online_ratio == 1.0  # late counts as online: the device was read all along
    n, good = truth(pg_dsn, f"gw-{uid}", "kiln-meter", start, end)
    assert dev.samples_stored == n and dev.samples_good == good
    assert late_truth is not None and dev.samples_late == late_truth[0] > 0
    for gap, (lo, hi) in zip(dev.gaps, [(cut_at, restored_at), (down_at, up_at)], strict=True):
        g0, g1 = gap.start.timestamp() * 1000, gap.end.timestamp() * 1000
        # from about when the uplink went (what was in flight then is sent again from the backlog)
        assert lo - 3000 <= g0 <= lo + 1000, (gap, lo)
        # until the gateway was connected again; what it read in its last second offline was
        # sealed after reconnecting and arrived within a second or two: on time, not late
        assert hi - 2000 <= g1 <= hi + 35_000, (gap, hi)
    gw = f.gateways[0]
    # the cut: a last will; the broker outage: Mosquitto sends the will as it stops, or the
    # re-birth comes with no death before it
    reasons = [x.end_reason for x in gw.sessions]
    assert reasons[0] == "death" and reasons[1] in ("death", "lost") and reasons[2:] == ["open"], gw.sessions
    assert gw.late_batches > 0 and gw.clock_ok
    offline_s = sum(
        (b.start - a.end).total_seconds()
        for a, b in zip(gw.sessions, gw.sessions[1:], strict=False)
        if a.end is not None
    )
    assert gw.online_ratio == pytest.approx(1 - offline_s / ((end - start) / 1000), abs=1e-3)
    assert 5 <= offline_s <= 5 + 4 + 2 * 35
    rec = f.reconciliation[0]
    assert rec.unexplained == 0 and rec.dropped == {} and rec.rejected == 0
    assert rec.read + rec.at_gateway_start - rec.at_gateway_end == rec.published
    assert f.rejected.messages == 0
