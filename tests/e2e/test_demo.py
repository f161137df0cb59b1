"""`make demo`, short, twice in a row, from a directory of its own, on the embedded services.

The first run plays the whole sample city for a minute: its packages verify and its figures show
the faults the script played; the cloud stays up for the reviewer until `demo stop`, which leaves
no process behind. The second run, straight after, is ended early by Ctrl-C and still builds and
verifies every package, and with ``--exit`` leaves nothing running either. Both runs share one
fixture (a demo run costs about a minute of set-up and package building on its own).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.city import CITY
from demo.faults import DEVICE_OFF

pytestmark = pytest.mark.timeout(900)


@dataclass(frozen=True, kw_only=True)
class Runs:
    first: subprocess.CompletedProcess[str]
    var: Path
    packages: Path  # the first run's packages, kept aside before the second run replaces them
    health: int | None  # the dashboard's /api/v1/health status after the first run ended
    left_up: list[str]  # processes of the demo still running after the first run ended
    stopped: subprocess.CompletedProcess[str]
    left_stopped: list[str]  # ... after `demo stop`
    second_code: int
    second_out: str
    left_second: list[str]  # ... after the second run (Ctrl-C, --exit)


def _left(var: Path) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if str(var) in line]


def _health(out: str) -> int | None:
    url = next((w for line in out.splitlines() if "仪表盘 dashboard:" in line
                for w in line.split() if w.startswith("http://")), None)
    if url is None:
        return None
    with urllib.request.urlopen(url.rstrip("/") + "/api/v1/health", timeout=10) as answer:
        return int(answer.status)


def _interrupted_run(demo: list[str], root: Path, env: dict[str, str]) -> tuple[int, str]:
    """A long run, ended by what Ctrl-C sends once the shop floors run (the demo's children run
    in sessions of their own, so only the demo itself gets it)."""
    proc = subprocess.Popen([*demo, "--duration", "600", "--exit"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if "运行 running for" in line:
            break
    if proc.poll() is None:
        time.sleep(10)
        proc.send_signal(signal.SIGINT)
    out = "".join(lines) + proc.stdout.read()
    return proc.wait(timeout=600), out


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    # a folder every user may enter: run as root, the embedded PostgreSQL runs as 'nobody'
    # (pytest's own temporary folders are private to their owner)
    root = Path(tempfile.mkdtemp(prefix="sfg-demo-"))
    root.chmod(0o755)
    var = root / "var" / "demo"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")}
    demo = [sys.executable, "-m", "demo"]
    try:
        first = subprocess.run([*demo, "--duration", "60"], cwd=root, env=env, capture_output=True,
                               text=True, timeout=600)
        packages = root / "first-run-packages"
        if (var / "packages").is_dir():
            shutil.copytree(var / "packages", packages)
        health = _health(first.stdout) if first.returncode == 0 else None
        left_up = _left(var)
        stopped = subprocess.run([*demo, "stop"], cwd=root, env=env, capture_output=True, text=True,
                                 timeout=120)
        left_stopped = _left(var)
        code, out = _interrupted_run(demo, root, env)
        yield Runs(first=first, var=var, packages=packages, health=health, left_up=left_up,
                   stopped=stopped, left_stopped=left_stopped, second_code=code, second_out=out,
                   left_second=_left(var))
    finally:
        subprocess.run([*demo, "stop"], cwd=root, env=env, capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _figures(runs: Runs, enterprise: str) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads(
        (runs.packages / enterprise / "data" / "figures.json").read_text(encoding="utf-8"))
    return figures


def test_the_demo_ends_with_every_package_verified(runs: Runs) -> None:
    done, var = runs.first, runs.var
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the services it started itself, their versions and where their data is
    assert "(PostgreSQL) " in done.stdout and str(var / "postgres") in done.stdout.replace("\n", "")
    assert "mosquitto version" in done.stdout
    assert done.stdout.count("通过 ok") == len(CITY), done.stdout[-3000:]
    for ent in CITY:
        assert (runs.packages / ent.id / "evidence.dsse.json").is_file()
        recon = _figures(runs, ent.id)["reconciliation"]
        assert sum(r["unexplained"] for r in recon) == 0, (ent.id, recon)


def test_the_figures_show_the_scripted_faults(runs: Runs) -> None:
    assert runs.first.returncode == 0, runs.first.stderr[-3000:]
    by = {ent.id: _figures(runs, ent.id) for ent in CITY}
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


def test_the_cloud_stays_up_until_demo_stop_which_leaves_no_process(runs: Runs) -> None:
    assert runs.first.returncode == 0, runs.first.stderr[-3000:]
    # the reviewer can still open the dashboard
    assert runs.health == 200
    assert runs.left_up, "the cloud and the services should still be up"
    assert runs.stopped.returncode == 0 and "已停止 stopped" in runs.stopped.stdout, runs.stopped.stderr
    assert runs.left_stopped == []


def test_ctrl_c_in_a_second_run_still_finishes_cleanly(runs: Runs) -> None:
    out = runs.second_out
    assert runs.second_code == 0, out[-4000:]
    assert "提前结束 ended early (Ctrl-C)" in out
    assert out.count("通过 ok") == len(CITY), out[-4000:]
    # --exit: nothing of the demo is left running
    assert runs.left_second == []
