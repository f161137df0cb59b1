"""What the evidence end-to-end tests share: the simulator with its fault control port and its
record of what it served (the device side's own account, independent of the product), the CLI
doors, and the truth computed straight from the samples table."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from cloud_ingest.evidence import Figures, compute
from cloud_ingest.evidence.inventory_file import TEMPLATE_HEADER
from tests.e2e.harness import BIN, Proc, Stack
from tests.support import free_port, wait_port


def ms_of(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def dt_of(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def now_ms() -> int:
    return ms_of(datetime.now(UTC))


class Sim:
    """``device-sim modbus`` with a control port and a record file."""

    def __init__(self, stack: Stack, *specs: str) -> None:
        self.control = free_port()
        self.record = stack.tmp / "served.jsonl"
        args = [
            str(BIN / "device-sim"),
            "modbus",
            "--seed",
            "7",
            "--control-port",
            str(self.control),
            "--record",
            str(self.record),
        ]
        for spec in specs:
            args += ["--device", spec]
        self.proc: Proc = stack.start("device-sim", args)
        for spec in specs:
            wait_port("127.0.0.1", int(spec.split("@")[1].split(":")[0]), timeout=20)
        wait_port("127.0.0.1", self.control, timeout=20)

    def command(self, line: str) -> str:
        with socket.create_connection(("127.0.0.1", self.control), timeout=5) as s:
            s.sendall(line.encode() + b"\n")
            reply = s.makefile().readline().strip()
        assert reply.startswith("ok"), reply
        return reply

    def served(self, port: int) -> list[int]:
        """Times (ms) at which the simulator served new values on ``port``."""
        out = []
        for line in self.record.read_text().splitlines():
            rec = json.loads(line)
            if rec["port"] == port:
                out.append(int(rec["ts"]))
        return out


def figures(dsn: str, enterprise: str, start_ms: int, end_ms: int, **kw: Any) -> Figures:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return compute(conn, enterprise, start=dt_of(start_ms), end=dt_of(end_ms), **kw)


def figures_cli(config: Path, enterprise: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    """The figures through the command line, as a reviewer's script would get them."""
    out = subprocess.run(
        [
            str(BIN / "cloud-ingest"),
            "evidence",
            "figures",
            "--config",
            str(config),
            "--enterprise",
            enterprise,
            "--from",
            dt_of(start_ms).isoformat(),
            "--to",
            dt_of(end_ms).isoformat(),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def import_inventory(
    config: Path, enterprise: str, rows: list[list[str]], path: Path, *, encoding: str = "gbk"
) -> str:
    """Write an inventory CSV (GBK by default, as a Chinese office saves it) and import it."""
    text = "\r\n".join(",".join(r) for r in [TEMPLATE_HEADER, *rows]) + "\r\n"
    path.write_bytes(text.encode(encoding))
    out = subprocess.run(
        [
            str(BIN / "cloud-ingest"),
            "inventory",
            "import",
            "--config",
            str(config),
            "--enterprise",
            enterprise,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def inventory_row(code: str, *, networked: bool = True, key: bool = False, links: str = "") -> list[str]:
    yn = {True: "是", False: "否"}
    return [code, f"设备 {code}", "电能表", "一车间", "1 号线", yn[key], yn[networked], "是", links, "是", ""]


def truth(dsn: str, gateway: str, device: str, lo_ms: int, hi_ms: int) -> tuple[int, int]:
    """(samples, good samples) of a device stored with source time in [lo, hi): the plain count."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE quality = 0) FROM v_samples WHERE gateway = %s AND"
            " device = %s"
            " AND ts >= to_timestamp(%s / 1000.0) AND ts < to_timestamp(%s / 1000.0)",
            (gateway, device, lo_ms, hi_ms),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def first_last(dsn: str, gateway: str, device: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (extract(epoch FROM min(ts)) * 1000)::int8, (extract(epoch FROM max(ts)) * 1000)::int8"
            " FROM v_samples WHERE gateway = %s AND device = %s",
            (gateway, device),
        ).fetchone()
    assert row is not None and row[0] is not None, f"no samples of {device}"
    return int(row[0]), int(row[1])


def roll_up_everything(dsn: str) -> None:
    from cloud_ingest import rollups
    from cloud_ingest.timescale import flavor_of

    with psycopg.connect(dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)
        while rollups.roll_up_pending(conn, flavor=flavor):
            pass


def same_figures(a: Figures, b: Figures) -> bool:
    """Equal apart from when they were generated and the note saying some data was read raw."""

    def core(f: Figures) -> dict[str, Any]:
        d = f.model_dump(exclude={"generated_at"})
        d["notes"] = [n for n in d["notes"] if n["code"] != "rollups_pending"]
        return d

    return core(a) == core(b)


__all__ = ["Sim", "figures", "figures_cli", "import_inventory", "sys"]


def two_meters(p_on: int, p_off: int, *, interval_ms: int) -> list[dict[str, Any]]:
    """The gateway's two meters of the device e2e tests: one on a key process, one to switch off."""
    meter = {"profile": "energy_meter_3ph", "interval_ms": interval_ms, "workshop": "灌装车间"}
    return [
        {**meter, "id": "meter-on", "endpoint": f"tcp://127.0.0.1:{p_on}", "line": "1 号线",
         "key_process": True},
        {**meter, "id": "meter-off", "endpoint": f"tcp://127.0.0.1:{p_off}", "line": "2 号线"},
    ]


def wait_both_meters(s: Stack) -> None:
    """Until both meters have good samples stored."""
    sql = "SELECT count(DISTINCT device) FROM v_samples WHERE gateway = %s AND quality = 0"
    s.wait("both meters stored", lambda: s.query(sql, s.gateway)[0][0] == 2)
