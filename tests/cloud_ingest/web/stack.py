"""A real stack for the dashboard's browser tests: Modbus simulators, an edge agent, Mosquitto,
``cloud-ingest serve`` with its API and pages, a fresh database, and a tokens file with one
token per role. A second enterprise is stored through the real write path (registry + writer)
so an enterprise user has someone else's pages to be refused.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import yaml

from cloud_ingest import migrate, rollups, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from tests.cloud_ingest.helpers import T0, birth, data
from tests.e2e.harness import BIN, Proc, Stack
from tests.support import BROKER_HOST, BROKER_PORT, free_port, wait_port

INTERVAL_MS = 500
TOKENS = {
    "admin": "web-admin-token-0123456789",
    "reviewer": "web-reviewer-token-0123456",
    "enterprise": "web-enterprise-token-01234",
    "other": "web-other-ent-token-012345",
}


@dataclass
class WebStack:
    stack: Stack
    url: str
    enterprise: str
    other: str
    gateway: str
    steady: Proc  # simulator of the devices that stay up
    flaky: Proc   # simulator of the device a test stops
    devices: dict[str, int]  # device -> port
    flaky_device: str

    def api(self, path: str, *, role: str = "admin") -> object:
        r = httpx.get(f"{self.url}/api/v1{path}", headers={"Authorization": f"Bearer {TOKENS[role]}"},
                      timeout=10)
        r.raise_for_status()
        return r.json()


def _tokens_file(path: Path, enterprise: str, other: str) -> Path:
    entries = [
        {"name": "ops", "role": "admin",
         "token_sha256": hashlib.sha256(TOKENS["admin"].encode()).hexdigest()},
        {"name": "acceptance", "role": "reviewer", "token": TOKENS["reviewer"]},
        {"name": "technician", "role": "enterprise", "enterprise": enterprise, "token": TOKENS["enterprise"]},
        {"name": "neighbour", "role": "enterprise", "enterprise": other, "token": TOKENS["other"]},
    ]
    path.write_text(yaml.safe_dump(entries))
    path.chmod(0o600)
    return path


def store_other_enterprise(dsn: str, code: str) -> None:
    """Another enterprise with a gateway and two devices, through the real write path."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)
        reg, parts = Registry(), Partitions(flavor=flavor)
        reg.apply_birth(conn, birth(code, "gw-other"), received_ms=T0)
        items = [writer.Inbound(DataBatch.of(data(code, "gw-other", s, n=20)), T0) for s in range(1, 4)]
        writer.write(conn, items, registry=reg, partitions=parts)
        while rollups.roll_up_pending(conn, flavor=flavor):
            pass


@contextmanager
def web_stack(tmp: Path, *, uid: str, dsn: str) -> Iterator[WebStack]:
    s = Stack(tmp, uid=uid, dsn=dsn)
    other = f"ent-other-{uid}"
    try:
        port = free_port()
        devices = {"press-01": free_port(), "press-02": free_port(), "oven-01": free_port()}
        steady = s.simulator(f"energy_meter_3ph@{devices['press-01']}",
                             f"energy_meter_3ph@{devices['press-02']}")
        flaky = s.simulator(f"energy_meter_3ph@{devices['oven-01']}")
        cfg = {
            "database": {"dsn": dsn},
            "mqtt": {"host": BROKER_HOST, "port": BROKER_PORT,
                     "topic_filter": f"shopfloor/v1/{s.enterprise}/+/+", "client_id": f"ingest-{uid}",
                     "persistent_session": False},
            "ingest": {"rollup_interval_s": 1},
            "api": {"host": "127.0.0.1", "port": port,
                    "tokens_file": str(_tokens_file(tmp / "tokens.yaml", s.enterprise, other))},
        }
        config = tmp / "cloud.yaml"
        config.write_text(yaml.safe_dump(cfg))
        migrate.migrate(dsn)
        store_other_enterprise(dsn, other)
        ingest = s.start("cloud-ingest", [str(BIN / "cloud-ingest"), "serve", "--config", str(config)])
        s.wait("cloud-ingest subscribed", lambda: "subscribed to" in ingest.log.read_text(), timeout=30)
        wait_port("127.0.0.1", port, timeout=20)
        where = {"press-01": ("冲压车间 Stamping", "L1"), "press-02": ("冲压车间 Stamping", "L1"),
                 "oven-01": ("烘烤车间 Baking", "L2")}
        s.agent(s.gateway_config([
            {"id": dev, "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{p}",
             "interval_ms": INTERVAL_MS, "workshop": where[dev][0], "line": where[dev][1],
             "key_process": dev == "oven-01"}
            for dev, p in devices.items()
        ], **{"buffer": {"path": str(tmp / "edge-buffer.sqlite"), "linger_ms": 100}}))
        web = WebStack(stack=s, url=f"http://127.0.0.1:{port}", enterprise=s.enterprise, other=other,
                       gateway=s.gateway, steady=steady, flaky=flaky, devices=devices, flaky_device="oven-01")

        def all_delivering() -> bool:
            # samples a few seconds old: a test's window that ends "3 s ago" holds some of them
            rows = s.query("SELECT count(DISTINCT device) FROM v_samples WHERE enterprise = %s"
                           " AND quality = 0 AND ts < now() - interval '5 seconds'", s.enterprise)
            return rows[0][0] == len(devices)

        s.wait("every device delivering", all_delivering, timeout=60)
        yield web
    except BaseException:
        print(s.logs())
        raise
    finally:
        s.close()


def set_connections(admin_dsn: str, dsn: str, *, allowed: bool) -> None:
    """Let the test's database refuse (or accept again) every connection: a database that is
    down, for this test only, while the machine's PostgreSQL serves everyone else."""
    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}'.encode())
        if not allowed:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                         " AND pid <> pg_backend_pid()", (name,))


def chromium_path() -> str | None:
    """Debian's chromium, or the browser named by ``SFG_CHROMIUM``; None when absent."""
    named = os.environ.get("SFG_CHROMIUM")
    for candidate in ((named,) if named else ("/usr/bin/chromium", "/usr/bin/chromium-browser")):
        if Path(candidate).exists():
            try:
                subprocess.run([candidate, "--version"], capture_output=True, timeout=20, check=True)
            except (OSError, subprocess.SubprocessError):
                continue
            return candidate
    return None
