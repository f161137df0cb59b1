"""Local health: `/metrics` in Prometheus text format and `edge-agent status`, on a real agent."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from common.config_files import validate
from edge_agent.agent import Agent
from edge_agent.config import GatewayConfig
from tests.support import eventually, eventually_async, free_port, stop_process

BIN = Path(sys.executable).parent


def gateway(tmp_path: Path, *, uid: str, broker_port: int, metrics_port: int) -> dict[str, object]:
    return {
        "gateway": {"id": f"gw-{uid}", "enterprise": {"id": f"ent-{uid}"}},
        "broker": {"host": "127.0.0.1", "port": broker_port},
        "buffer": {"path": str(tmp_path / "buf.sqlite"), "linger_ms": 100},
        "metrics_port": metrics_port,
        "devices": [{"id": "dead-1", "profile": "energy_meter_3ph", "timeout_s": 0.3,
                     "endpoint": f"tcp://127.0.0.1:{free_port()}", "interval_ms": 200}],
    }


async def test_metrics_endpoint_reports_buffer_broker_and_devices(
    tmp_path: Path, broker: tuple[str, int], uid: str
) -> None:
    port = free_port()
    cfg = validate(GatewayConfig, gateway(tmp_path, uid=uid, broker_port=broker[1],
                                          metrics_port=port), "test")
    agent = Agent(cfg, tmp_path / "gw.yaml")
    task = asyncio.create_task(agent.run())

    def scrape() -> str:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()

    async def settled() -> str:
        """The scrape once the broker is connected and the dead device has failed a read."""
        try:
            text = await asyncio.to_thread(scrape)
        except OSError:
            return ""  # not listening yet
        families = {f.name: f for f in text_string_to_metric_families(text)}
        errors = [s.value for s in families["edge_device_read_errors"].samples]
        return text if families["edge_broker_connected"].samples[0].value == 1 and errors else ""

    try:
        text = await eventually_async(settled, timeout=15,
                                      what="/metrics with the broker connected and a read error")
        missing = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/nope", timeout=5))
    except urllib.error.HTTPError as err:
        missing = err
    finally:
        agent.stop.set()
        await asyncio.wait_for(task, 15)
    assert getattr(missing, "code", None) == 404
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["edge_broker_connected"].samples[0].value == 1
    assert "edge_buffer_backlog_samples" in families and "edge_buffer_bytes" in families
    assert "edge_buffer_oldest_unsent_age_seconds" in families
    errors = {s.labels["device"]: s.value for s in families["edge_device_read_errors"].samples}
    assert errors["dead-1"] >= 1
    up = {s.labels["device"]: s.value for s in families["edge_device_connected"].samples}
    assert up["dead-1"] == 0


def test_status_command_reads_the_buffer_without_the_agent(tmp_path: Path, uid: str) -> None:
    cfg = gateway(tmp_path, uid=uid, broker_port=free_port(), metrics_port=free_port())
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(cfg))
    missing = subprocess.run([str(BIN / "edge-agent"), "status", "--config", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "has `edge-agent run` started here" in missing.stderr
    # run the agent with no broker listening: everything stays in the buffer
    run = subprocess.Popen([str(BIN / "edge-agent"), "run", "--config", str(path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    buffer = Path(cfg["buffer"]["path"])  # type: ignore[index]

    def buffered() -> int:
        if not buffer.exists():
            return 0
        db = sqlite3.connect(f"file:{buffer}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT coalesce(sum(n), 0) FROM rows").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the agent is still creating its tables
        finally:
            db.close()

    try:
        eventually(buffered, timeout=30, what="the running agent buffering the dead device's samples")
    finally:
        stop_process(run, timeout=20)
    out = subprocess.run([str(BIN / "edge-agent"), "status", "--config", str(path), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(out.stdout)
    assert report["backlog_samples"] > 0 and report["oldest_unsent_age_s"] >= 0
    assert report["counters"]["devices"]["dead-1"]["read"] == report["backlog_samples"]
    human = subprocess.run([str(BIN / "edge-agent"), "status", "--config", str(path)],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert "dead-1" in human and "backlog_samples" in human


def test_bad_config_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text("gateway: {id: g, enterprise: {id: e}}\ndevices: [{id: d, profile: energy_meter_3ph}]\n")
    for cmd in ("run", "check", "status"):
        out = subprocess.run([str(BIN / "edge-agent"), cmd, "--config", str(path)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, cmd
        assert str(path) in out.stderr and "devices[0].endpoint" in out.stderr
