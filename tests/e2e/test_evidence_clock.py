"""Evidence end to end, a gateway whose clock runs 5 minutes fast (the agent runs under
libfaketime): the offset is found within a second, flagged, and the latency and the window are
corrected by it — never a latency of minus five minutes, never a device "missing" because its
timestamps lie in the future."""

from __future__ import annotations

import time
from pathlib import Path

import libfaketime
import pytest

from tests.cloud_ingest.evidence.e2e_helpers import figures, now_ms
from tests.e2e.harness import stack
from tests.support import free_port

pytestmark = pytest.mark.e2e

FAST_MS = 300_000
INTERVAL = 200


def test_a_gateway_clock_five_minutes_fast_is_found_and_corrected(
    tmp_path: Path, pg_dsn: str, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    with stack(tmp_path, uid=uid, dsn=pg_dsn) as s:
        s.simulator(f"energy_meter_3ph@{port}")
        ingest = s.ingest(s.cloud_config())
        config = s.gateway_config(
            [
                {
                    "id": "fast-meter",
                    "profile": "energy_meter_3ph",
                    "endpoint": f"tcp://127.0.0.1:{port}",
                    "interval_ms": INTERVAL,
                }
            ]
        )
        with monkeypatch.context() as m:
            for k, v in libfaketime.get_reload_information()[1].items():
                m.setenv(k, v)
            m.setenv("FAKETIME", f"+{FAST_MS // 1000}s")
            agent = s.agent(config)
        started = now_ms()
        s.wait(
            "data stored",
            lambda: s.query("SELECT count(*) FROM v_samples WHERE gateway = %s", s.gateway)[0][0],
        )
        # the agent's clock really is ahead: its samples carry times five minutes from now
        ahead = s.query(
            "SELECT extract(epoch FROM max(ts) - now()) FROM v_samples WHERE gateway = %s", s.gateway
        )
        assert 290 < float(ahead[0][0]) < 310
        time.sleep(6)
        end = now_ms() - 1000
        start = started + 2000
        f = figures(pg_dsn, s.enterprise, start, end)
        assert agent.terminate() == 0, s.logs()
        ingest.terminate()

    gw = f.gateways[0]
    assert gw.clock_offset_ms is not None and abs(gw.clock_offset_ms - FAST_MS) < 1000, gw.clock_offset_ms
    assert gw.clock_ok is False and gw.clock_corrected
    assert f.latency_ms.corrected_gateways == [gw.gateway]
    assert any(n.code == "clock_corrected" for n in f.notes)
    # corrected latency: a sample is stored within a couple of seconds of being read
    lat = f.latency_ms
    assert lat.samples > 0 and lat.p50 is not None and lat.max is not None
    assert 0 <= lat.p50 < 2000 and lat.max < 5000, lat
    assert lat.gateway_to_cloud.p50 is not None and 0 <= lat.gateway_to_cloud.p50 < 2000
    # the window, in cloud time, finds the data the gateway stamped five minutes ahead
    dev = f.devices[0]
    assert dev.gaps == [], dev.gaps
    assert dev.completeness is not None and dev.completeness >= 1 - 2 * INTERVAL / (end - start)
    assert dev.samples_expected == sum(t.expected or 0 for t in f.tags)
