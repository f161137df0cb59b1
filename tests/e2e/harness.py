"""Run the real components as separate processes, as a technician would, with their logs kept.

Each process writes to its own log file; when a test fails, the tail of every log is printed
so the failure explains itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.support import BROKER_HOST, BROKER_PORT, eventually, free_port, stop_process, wait_port

BIN = Path(sys.executable).parent


class Proc:
    def __init__(self, name: str, args: list[str], *, log_dir: Path, cwd: Path | None = None) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._fh = self.log.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen(args, stdout=self._fh, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        self.stopped = False  # set when the test itself ends it

    def crashed(self) -> bool:
        return not self.stopped and self.p.poll() is not None
    def alive(self) -> bool:
        return self.p.poll() is None

    def terminate(self, timeout: float = 20) -> int:
        self.stopped = True
        stop_process(self.p, timeout=timeout)
        self._fh.close()
        return int(self.p.returncode)

    def kill(self) -> None:
        self.stopped = True
        stop_process(self.p, sig=signal.SIGKILL)
        self._fh.close()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text[-lines:])


class Stack:
    """Simulator(s), ingest and agent processes of one test; stops them all at the end."""

    def __init__(self, tmp: Path, *, uid: str, dsn: str, broker_port: int = BROKER_PORT) -> None:
        self.tmp, self.uid, self.dsn = tmp, uid, dsn
        self.broker_port = broker_port
        self.enterprise, self.gateway = f"ent-{uid}", f"gw-{uid}"
        self.procs: list[Proc] = []

    def start(self, name: str, args: list[str]) -> Proc:
        p = Proc(name, args, log_dir=self.tmp)
        self.procs.append(p)
        return p

    def simulator(self, *specs: str, record: Path | None = None) -> Proc:
        args = [str(BIN / "device-sim"), "modbus", "--seed", "7"]
        for spec in specs:
            args += ["--device", spec]
        if record is not None:
            args += ["--record", str(record)]
        p = self.start("device-sim", args)
        for spec in specs:
            wait_port("127.0.0.1", int(spec.split("@")[1].split(":")[0]), timeout=20)
        return p

    def cloud_config(self, **mqtt: object) -> Path:
        cfg = {
            "database": {"dsn": self.dsn},
            "mqtt": {"host": BROKER_HOST, "port": self.broker_port,
                     "topic_filter": f"shopfloor/v1/{self.enterprise}/+/+",
                     "client_id": f"ingest-{self.uid}", **mqtt},
            "api": {"port": free_port()},
        }
        path = self.tmp / "cloud.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    def ingest(self, config: Path, name: str = "cloud-ingest") -> Proc:
        subprocess.run([str(BIN / "cloud-ingest"), "migrate", "--config", str(config)],
                       check=True, capture_output=True, timeout=120)
        proc = self.start(name, [str(BIN / "cloud-ingest"), "serve", "--config", str(config),
                                 "--no-api"])
        # Messages published before the first subscription exists reach nobody: wait for it.
        self.wait(f"{name} subscribed", lambda: "subscribed to" in proc.log.read_text(), timeout=30)
        return proc

    def gateway_config(self, devices: list[dict[str, object]], **extra: object) -> Path:
        cfg: dict[str, object] = {
            "gateway": {"id": self.gateway, "enterprise": {"id": self.enterprise, "industry": "food",
                                                           "name": "测试企业"}},
            "broker": {"host": BROKER_HOST, "port": self.broker_port, "keepalive_s": 5},
            "buffer": {"path": str(self.tmp / "edge-buffer.sqlite"), "linger_ms": 200},
            "devices": devices,
        }
        cfg.update(extra)
        path = self.tmp / "gateway.yaml"
        path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        return path

    def agent(self, config: Path) -> Proc:
        return self.start("edge-agent", [str(BIN / "edge-agent"), "run", "--config", str(config)])

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql.encode(), args).fetchall()

    def wait(self, what: str, predicate: Callable[[], object], timeout: float = 60) -> None:
        """`eventually`, failing at once (with every process's log) if a process died."""
        def check() -> object:
            dead = [p.name for p in self.procs if p.crashed()]
            if dead:
                raise AssertionError(f"{dead} exited while waiting for {what}\n{self.logs()}")
            return predicate()

        try:
            eventually(check, timeout=timeout, what=what, every=0.2)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{self.logs()}") from None

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.procs)

    def close(self) -> None:
        for p in reversed(self.procs):
            p.terminate()


@contextmanager
def stack(tmp: Path, *, uid: str, dsn: str, broker_port: int = BROKER_PORT) -> Iterator[Stack]:
    s = Stack(tmp, uid=uid, dsn=dsn, broker_port=broker_port)
    try:
        yield s
    except BaseException:
        print(s.logs())
        raise
    finally:
        s.close()
