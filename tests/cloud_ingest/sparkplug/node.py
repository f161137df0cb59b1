"""A standard Sparkplug B edge node in its own process: tests/interop/sparkplug/edge_node.js
(Eclipse Tahu's sparkplug-payload encoder and MQTT.js), driven by commands on its stdin."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, eventually, stop_process

INTEROP = ROOT / "tests" / "interop" / "sparkplug"
PACKAGES = ("sparkplug-payload", "mqtt")


def node_exe() -> Path:
    """node with the lockfile's packages installed; a missing Node.js or npm is a failure."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the Sparkplug interop tests need Node.js and npm (apt-get install nodejs npm)")
    if not all((INTEROP / "node_modules" / p).exists() for p in PACKAGES):
        run = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=INTEROP, capture_output=True,
                             text=True, timeout=300)
        if run.returncode != 0:
            pytest.fail(f"npm ci in {INTEROP} failed:\n{run.stderr[-2000:]}")
    return Path(node)


class NodeProcess:
    """A script of tests/interop/sparkplug run by node; ``events`` is what it reported, in order."""

    def __init__(self, node: Path, script: str, cfg: dict[str, Any]) -> None:
        self.script = script
        self.proc = subprocess.Popen([str(node), str(INTEROP / script), json.dumps(cfg)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def count(self, pred: Any) -> int:
        return sum(1 for e in list(self.events) if pred(e))

    def wait(self, pred: Any, what: str, *, n: int = 1, timeout: float = 20.0) -> None:
        def done() -> bool:
            if self.proc.poll() is not None and self.count(pred) < n:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"{self.script} ended ({self.proc.returncode}) before {what}: {err}")
            return self.count(pred) >= n
        eventually(done, timeout=timeout, what=what)

    def tell(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        stop_process(self.proc)


class OutsideHost(NodeProcess):
    """host.js: a Sparkplug host application of Tahu's codec, subscribed to ``group``."""

    def __init__(self, node: Path, *, broker: tuple[str, int], group: str) -> None:
        super().__init__(node, "host.js", {"host": broker[0], "port": broker[1], "group": group})
        self.wait(lambda e: e["event"] == "subscribed", "the outside host subscribed")

    def received(self, kind: str) -> int:
        return self.count(lambda e: e["event"] == "message" and e["topic"].split("/")[2] == kind)

    def seen(self) -> list[dict[str, Any]]:
        """Every message decoded both ways (see host.js), after which the host ends."""
        self.tell("end")
        self.wait(lambda e: e["event"] == "seen", "the outside host's decodings")
        out: list[dict[str, Any]] = next(e for e in self.events if e["event"] == "seen")["messages"]
        return out


class EdgeNode(NodeProcess):
    """edge_node.js: a standard edge node, driven by commands."""

    def __init__(self, node: Path, *, broker: tuple[str, int], group: str, name: str, devices: list[str],
                 answer_rebirth: bool = True, births: bool = True) -> None:
        super().__init__(node, "edge_node.js", {
            "host": broker[0], "port": broker[1], "group": group, "node": name, "devices": devices,
            "answerRebirth": answer_rebirth, "births": births})
        self.wait(lambda e: e["event"] == "connected", "the edge node connected")

    def send(self, command: str, *, publishes: int) -> None:
        """A command, then wait for its publishes to have left the node."""
        before = self.count(lambda e: e["event"] == "published")
        self.tell(command)
        self.wait(lambda e: e["event"] == "published", f"{command!r} published", n=before + publishes)

    def rebirth_requests(self) -> int:
        return self.count(lambda e: e["event"] == "ncmd" and e["rebirth"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.tell("stop")
            self.wait(lambda e: e["event"] == "stopped", "the edge node stopped", timeout=10)
        stop_process(self.proc)
