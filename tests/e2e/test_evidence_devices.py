"""Evidence end to end, devices: a meter switched off for a stretch of the window, a meter that
keeps delivering, and a production device in the inventory that no gateway reads. The figures
come out of the real path (device-sim → edge-agent → Mosquitto → cloud-ingest → PostgreSQL) and
are checked against what the simulator itself says it served, and against plain counts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cloud_ingest.evidence.e2e_helpers import (
    Sim,
    figures,
    figures_cli,
    first_last,
    import_inventory,
    inventory_row,
    now_ms,
    roll_up_everything,
    same_figures,
    truth,
    two_meters,
    wait_both_meters,
)
from tests.e2e.harness import stack
from tests.support import free_port

pytestmark = pytest.mark.e2e

INTERVAL = 200


def test_device_off_and_a_device_never_networked(tmp_path: Path, pg_dsn: str, uid: str) -> None:
    p_on, p_off = free_port(), free_port()
    with stack(tmp_path, uid=uid, dsn=pg_dsn) as s:
        sim = Sim(s, f"energy_meter_3ph@{p_on}", f"energy_meter_3ph@{p_off}")
        config = s.cloud_config()
        ingest = s.ingest(config)
        agent = s.agent(
            s.gateway_config(two_meters(p_on, p_off, interval_ms=INTERVAL))
        )
        wait_both_meters(s)
        time.sleep(3)
        down_at = now_ms()
        sim.command(f"down {p_off}")
        time.sleep(6)
        sim.command(f"up {p_off}")
        up_at = now_ms()
        s.wait("meter-off read again", lambda: any(t > up_at for t in sim.served(p_off)), timeout=40)
        time.sleep(3)
        end = now_ms() - 1000
        s.wait(
            "the window's samples stored",
            lambda: (
                s.query(
                    "SELECT count(*) FROM v_samples WHERE gateway = %s AND ts >= to_timestamp(%s / 1000.0)",
                    s.gateway,
                    end,
                )[0][0]
                > 0
            ),
        )
        assert agent.terminate() == 0, s.logs()
        # the inventory: both meters, plus a press that has no interface (networked = 否)
        import_inventory(
            config,
            s.enterprise,
            [
                inventory_row("meter-on", key=True, links="能源管理"),
                inventory_row("meter-off"),
                inventory_row("press-03", networked=False, key=True, links="设备管理"),
            ],
            tmp_path / "台账.csv",
        )
        start = first_last(pg_dsn, s.gateway, "meter-off")[0] + 1000  # both registered and read by then

        f = figures(pg_dsn, s.enterprise, start, end)
        cli = figures_cli(config, s.enterprise, start, end)
        ingest.terminate()

    served = sim.served(p_off)
    last_before = max(t for t in served if t < down_at)
    first_after = min(t for t in served if t > up_at)
    off = next(d for d in f.devices if d.device == "meter-off")
    on = next(d for d in f.devices if d.device == "meter-on")
    press = next(d for d in f.devices if d.device == "press-03")

    # the gap: from one interval after the last read served before the meter went down, to the
    # first read served after it came back (the simulator's own account), within one interval
    assert [g.cause for g in off.gaps] == ["device_offline"], off.gaps
    gap = off.gaps[0]
    assert abs(int(gap.start.timestamp() * 1000) - (last_before + INTERVAL)) <= INTERVAL
    assert abs(int(gap.end.timestamp() * 1000) - first_after) <= INTERVAL
    assert gap.detail is not None and gap.detail.startswith("device offline:")
    period = (end - start) / 1000
    assert off.online_ratio == pytest.approx(1 - gap.duration_s / period, abs=1e-6)
    # completeness is the good samples counted straight from the table, over what was expected
    n, good = truth(pg_dsn, f"gw-{uid}", "meter-off", start, end)
    assert off.samples_stored == n and off.samples_good == good
    tags = [t for t in f.tags if t.device == "meter-off"]
    assert off.samples_expected == sum(t.expected or 0 for t in tags)
    assert off.completeness == pytest.approx(good / off.samples_expected, abs=1e-6)
    assert all(
        t.expected == int((end - start) // INTERVAL) or t.expected == int((end - start) // INTERVAL) - 1
        for t in tags
    )
    # the meter that kept delivering: complete, no gap, within one poll at the window's edges
    assert on.gaps == [] and on.online_ratio == 1.0
    assert on.completeness is not None and on.completeness >= 1 - 2 * INTERVAL / (end - start)
    # the press no gateway reads lowers the networking rate by exactly 1/N (N = 3)
    assert press.in_inventory and not press.delivering and press.samples_expected is None
    assert f.inventory.production_devices == 3 and f.inventory.delivering_devices == 2
    assert f.networking_rate == pytest.approx(2 / 3, abs=1e-6)
    assert f.networking_band is not None and f.networking_band.points == 6.0
    assert f.key_process_rate == pytest.approx(0.5, abs=1e-6)  # meter-on complete, the press not
    assert f.digitalization_rate == 1.0
    assert f.inventory.unlisted_devices == [] and f.inventory.silent_devices == []
    energy = next(li for li in f.business_links.links if li.key == "energy")
    equipment = next(li for li in f.business_links.links if li.key == "equipment")
    assert energy.collected and energy.devices == ["meter-off", "meter-on"]
    assert equipment.declared and not equipment.collected
    # the rollups: the workshop holds all three
    shop = next(w for w in f.rollups.workshops if w.workshop == "一车间")
    assert (shop.devices, shop.delivering) == (3, 2)
    # the command line gives the same JSON
    assert cli["networking_rate"] == f.networking_rate
    assert cli["devices"] == [d.model_dump(mode="json") for d in f.devices]
    # and the figures are the same once the rollup maintenance has caught up
    roll_up_everything(pg_dsn)
    assert same_figures(figures(pg_dsn, s.enterprise, start, end, now=f.generated_at), f)
