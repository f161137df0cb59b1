"""`make demo` ended early and stopped: Ctrl-C ends the run and still finishes cleanly (packages
built and verified), the cloud stays up until `make demo-stop`, which leaves no process behind,
and the demo runs again straight after."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from demo.city import CITY

pytestmark = pytest.mark.timeout(900)


def _left(var: Path) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if str(var) in line]


def test_ctrl_c_finishes_cleanly_demo_stop_leaves_nothing_and_a_second_run_works() -> None:
    root = Path(tempfile.mkdtemp(prefix="sfg-demo-stop-"))  # others may enter: see test_demo.py
    root.chmod(0o755)
    var = root / "var" / "demo"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")}
    demo = [sys.executable, "-m", "demo"]
    try:
        proc = subprocess.Popen([*demo, "--duration", "600"], cwd=root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:  # until the shop floors run
            lines.append(line)
            if "运行 running for" in line:
                break
        assert proc.poll() is None, "".join(lines)
        time.sleep(15)
        # what Ctrl-C sends the demo (its children run in sessions of their own)
        proc.send_signal(signal.SIGINT)
        out = "".join(lines) + proc.stdout.read()
        assert proc.wait(timeout=600) == 0, out[-4000:]
        assert "提前结束 ended early (Ctrl-C)" in out
        assert out.count("通过 ok") == len(CITY), out[-4000:]
        # the cloud stays up for the reviewer: the dashboard answers
        url = next(w for line in out.splitlines() if "仪表盘 dashboard:" in line
                   for w in line.split() if w.startswith("http://"))
        with urllib.request.urlopen(url.rstrip("/") + "/api/v1/health", timeout=10) as answer:
            assert answer.status == 200
        assert _left(var), "the cloud and the services should still be up"
        stopped = subprocess.run([*demo, "stop"], cwd=root, env=env, capture_output=True, text=True,
                                 timeout=120)
        assert stopped.returncode == 0 and "已停止 stopped" in stopped.stdout, stopped.stderr
        assert _left(var) == []
        again = subprocess.run([*demo, "--duration", "15", "--exit"], cwd=root, env=env, capture_output=True,
                               text=True, timeout=600)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert _left(var) == []
    finally:
        subprocess.run([*demo, "stop"], cwd=root, env=env, capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
