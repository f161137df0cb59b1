"""`make demo`, short: the whole sample city on the embedded services for about a minute, from a
directory of its own. The packages verify, and the figures show the faults the script played."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.city import CITY
from demo.faults import DEVICE_OFF

pytestmark = pytest.mark.timeout(900)
DemoRun = tuple[subprocess.CompletedProcess[str], Path]


def _figures(var: Path, enterprise: str) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads(
        (var / "packages" / enterprise / "data" / "figures.json").read_text(encoding="utf-8"))
    return figures


@pytest.fixture(scope="module")
def demo_run() -> Iterator[DemoRun]:
    # a folder every user may enter: run as root, the embedded PostgreSQL runs as 'nobody'
    # (pytest's own temporary folders are private to their owner)
    root = Path(tempfile.mkdtemp(prefix="sfg-demo-"))
    root.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")}
    done = subprocess.run([sys.executable, "-m", "demo", "--duration", "60", "--exit"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=840)
    yield done, root / "var" / "demo"
    shutil.rmtree(root, ignore_errors=True)


def test_the_demo_ends_with_every_package_verified(demo_run: DemoRun) -> None:
    done, var = demo_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the services it started itself, their versions and where their data is
    assert "(PostgreSQL) " in done.stdout and str(var / "postgres") in done.stdout.replace("\n", "")
    assert "mosquitto version" in done.stdout
    assert done.stdout.count("通过 ok") == len(CITY), done.stdout[-3000:]
    for ent in CITY:
        assert (var / "packages" / ent.id / "evidence.dsse.json").is_file()
        recon = _figures(var, ent.id)["reconciliation"]
        assert sum(r["unexplained"] for r in recon) == 0, (ent.id, recon)


def test_the_figures_show_the_scripted_faults(demo_run: DemoRun) -> None:
    done, var = demo_run
    assert done.returncode == 0, done.stderr[-3000:]
    by = {ent.id: _figures(var, ent.id) for ent in CITY}
    # a device switched off: an offline gap on that device
    off = next(d for d in by["qc-dairy"]["devices"] if d["device"] == DEVICE_OFF["qc-dairy"])
    assert any(g["cause"] == "device_offline" for g in off["gaps"]), off["gaps"]
    # an uplink cut and restored: late batches, nothing unexplained
    assert sum(g["late_batches"] for g in by["sb-cashmere"]["gateways"]) > 0
    # a clock five minutes fast: found and corrected
    assert any(not g["clock_ok"] and g["clock_corrected"] for g in by["jh-biopharma"]["gateways"])
    # malformed messages: rejected and counted
    assert by["cy-agrimach"]["rejected"]["messages"] > 0
    # a small buffer through a long cut: drops, counted by the gateway
    assert sum(sum(r["dropped"].values()) for r in by["clc-materials"]["reconciliation"]) > 0
    # inventories with unnetworked devices: the networking rates differ
    assert len({f["networking_rate"] for f in by.values()}) >= 4


def test_the_demo_leaves_no_process_behind(demo_run: DemoRun) -> None:
    _, var = demo_run
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    assert [line for line in ps.splitlines() if str(var) in line] == []
