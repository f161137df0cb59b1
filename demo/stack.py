"""The city's processes: device simulators, one edge agent per enterprise, the cloud ingest.

Every part runs as the product's own command line (`device-sim`, `edge-agent`, `cloud-ingest`)
in its own process, with the config files a technician would write, under ``var/demo/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from demo.city import Enterprise
from demo.faults import CLOCK_FAST_S, SMALL_BUFFER
from demo.services import ServiceError, Services, free_port, wait_port
from simulators.network import TcpProxy

BIN = Path(sys.executable).parent


def parallel(jobs: int) -> int:
    """How many of ``jobs`` CPU-bound commands to run at once: one per core."""
    return max(1, min(jobs, os.cpu_count() or 1))


@dataclass(kw_only=True)
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, *, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _faketime_lib() -> str | None:
    for base in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"):
        lib = Path(base) / "faketime" / "libfaketime.so.1"
        if lib.exists():
            return str(lib)
    return None


@dataclass(kw_only=True)
class Site:
    """One enterprise of the city as it runs: its simulators, its gateway, its uplink."""

    enterprise: Enterprise
    dir: Path
    ports: dict[str, int] = field(default_factory=dict)   # device id -> simulator port
    control_port: int = 0                                  # the Modbus simulator's faults
    metrics_port: int = 0
    uplink: TcpProxy | None = None                         # between agent and broker
    sims: list[Proc] = field(default_factory=list)
    agent: Proc | None = None

    @property
    def gateway_config(self) -> Path:
        return self.dir / "gateway.yaml"

    @property
    def buffer_path(self) -> Path:
        return self.dir / "edge-buffer.sqlite"


class Stack:
    def __init__(self, var: Path, services: Services, *, duration_s: float) -> None:
        self.var = var
        self.services = services
        self.duration_s = duration_s
        self.procs: list[Proc] = []
        self.sites: dict[str, Site] = {}
        self.api_port = 0
        self.ingest: Proc | None = None

    # -- processes --------------------------------------------------------------------------

    def start(self, name: str, args: list[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> Proc:
        log = self.var / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        fh = log.open("ab")
        popen = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd or self.var,
                                 env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                                 start_new_session=True)
        fh.close()
        proc = Proc(name=name, popen=popen, log=log)
        self.procs.append(proc)
        return proc

    def dead(self) -> list[Proc]:
        return [p for p in self.procs if not p.alive() and p.popen.returncode not in (0, -15)]

    # -- the cloud --------------------------------------------------------------------------

    def cloud_config(self) -> Path:
        self.api_port = self.api_port or free_port()
        cfg = {
            "database": {"dsn": self.services.database_url},
            "mqtt": {"host": self.services.mqtt_host, "port": self.services.mqtt_port,
                     "client_id": "demo-cloud-ingest-1", "persistent_session": True},
            "ingest": {"rollup_interval_s": 5},
            "api": {"host": "127.0.0.1", "port": self.api_port},
            # kept across demo runs, as a real deployment keeps its key
            "signing": {"key_file": str(self.var / "keys" / "signing.key"), "log_name": "demo.shopfloor"},
        }
        path = self.var / "cloud.yaml"
        path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
        return path

    def cloud(self, command: str, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """Run one `cloud-ingest` command (``"evidence build"``) with the demo's cloud config, in a
        session of its own: a Ctrl-C that ends the run early does not cut a command under way (an
        import running beside the run); the demo ending kills it (`subprocess.run` does)."""
        return subprocess.run([str(BIN / "cloud-ingest"), *command.split(), "--config",
                               str(self.var / "cloud.yaml"), *args], capture_output=True, text=True,
                              timeout=timeout_s, cwd=self.var, start_new_session=True)

    def start_ingest(self, *, env: dict[str, str] | None = None) -> Proc:
        proc = self.start("cloud-ingest", [str(BIN / "cloud-ingest"), "serve", "--config",
                                           str(self.var / "cloud.yaml")], env=env)
        deadline = time.monotonic() + 60
        while "subscribed to" not in proc.log.read_text(errors="replace"):
            if not proc.alive() or time.monotonic() > deadline:
                raise ServiceError(f"cloud-ingest did not start:\n{proc.tail()}")
            time.sleep(0.2)
        wait_port("127.0.0.1", self.api_port, timeout_s=30, what="the cloud API")
        self.ingest = proc
        return proc

    # -- an enterprise ----------------------------------------------------------------------

    def site(self, ent: Enterprise) -> Site:
        folder = self.var / "sites" / ent.id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        site = Site(enterprise=ent, dir=folder, control_port=free_port(), metrics_port=free_port())
        for dev in ent.devices:
            site.ports[dev.id] = free_port()
        self.sites[ent.id] = site
        return site

    def start_simulators(self, site: Site) -> None:
        ent = site.enterprise
        modbus = [f"{d.profile}@{site.ports[d.id]}" for d in ent.devices if d.protocol == "modbus"]
        opcua = [f"{d.profile}@{site.ports[d.id]}" for d in ent.devices if d.protocol == "opcua"]
        if modbus:
            site.sims.append(self.start(f"{ent.id}-modbus-sim", [
                str(BIN / "device-sim"), "modbus", *(a for spec in modbus for a in ("--device", spec)),
                "--control-port", str(site.control_port)]))
        if opcua:
            site.sims.append(self.start(f"{ent.id}-opcua-sim", [
                str(BIN / "device-sim"), "serve", *(a for spec in opcua for a in ("--device", spec))]))

    def wait_simulators(self, site: Site, *, timeout_s: float = 120) -> None:
        for dev in site.enterprise.devices:
            try:
                wait_port("127.0.0.1", site.ports[dev.id], timeout_s=timeout_s,
                          what=f"the simulator of {site.enterprise.id}/{dev.id}")
            except ServiceError as err:
                logs = "\n".join(p.tail() for p in site.sims)
                raise ServiceError(f"{err}\n{logs}") from err

    def write_gateway_config(self, site: Site, *, uplink: bool) -> Path:
        ent = site.enterprise
        broker_port = self.services.mqtt_port
        if uplink:
            site.uplink = TcpProxy((self.services.mqtt_host, self.services.mqtt_port))
            site.uplink.start()
            broker_port = site.uplink.port
        devices = []
        for d in ent.devices:
            scheme = "opc.tcp" if d.protocol == "opcua" else "tcp"
            dev: dict[str, object] = {"id": d.id, "profile": d.profile,
                                      "endpoint": f"{scheme}://127.0.0.1:{site.ports[d.id]}",
                                      "workshop": d.workshop, "line": d.line, "key_process": d.key_process}
            if d.protocol == "modbus":
                dev["unit_id"] = 1
            devices.append(dev)
        buffer: dict[str, object] = {"path": str(site.buffer_path), "linger_ms": 500}
        if ent.id in SMALL_BUFFER:
            buffer |= {"max_bytes": SMALL_BUFFER[ent.id], "full_policy": "drop_oldest",
                       "batch_max_samples": 200}
        cfg = {
            "gateway": {"id": ent.gateway, "enterprise": {"id": ent.id, "name": ent.name,
                                                          "industry": ent.industry,
                                                          "district": ent.district}},
            "broker": {"host": "127.0.0.1", "port": broker_port, "keepalive_s": 10},
            "buffer": buffer,
            "metrics_port": site.metrics_port,
            "devices": devices,
        }
        site.gateway_config.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
        return site.gateway_config

    def start_agent(self, site: Site, *, clock_fast: bool) -> Proc:
        env: dict[str, str] = {}
        if clock_fast:
            lib = _faketime_lib()
            if lib is None:
                raise ServiceError("libfaketime is missing (Debian: apt-get install faketime; "
                                   "`bash scripts/services.sh` does it): the demo runs one gateway "
                                   "with a clock minutes fast")
            # only the wall clock moves: timers and timeouts keep the real pace
            env = {"LD_PRELOAD": lib, "FAKETIME": f"+{CLOCK_FAST_S}s", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                   "FAKETIME_NO_CACHE": "1"}
        site.agent = self.start(f"{site.enterprise.id}-edge-agent",
                                [str(BIN / "edge-agent"), "run", "--config", str(site.gateway_config)],
                                env=env, cwd=site.dir)
        return site.agent

    # -- the end ----------------------------------------------------------------------------

    def stop_gateways(self) -> None:
        """Stop every agent cleanly (it seals and sends what it read), then the simulators."""
        for site in self.sites.values():
            if site.uplink is not None:
                site.uplink.resume()
                site.uplink.start()
        for site in self.sites.values():
            if site.agent is not None:
                site.agent.popen.send_signal(signal.SIGTERM)
        for site in self.sites.values():
            if site.agent is not None:
                site.agent.stop(timeout_s=60)
            for sim in site.sims:
                sim.stop()

    def close(self, *, keep_ingest: bool) -> None:
        self.stop_gateways()
        for site in self.sites.values():
            if site.uplink is not None:
                site.uplink.close()
        if not keep_ingest and self.ingest is not None:
            self.ingest.stop()
