"""Helpers shared by the integration and end-to-end tests: real services, real sockets."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar, overload

import psycopg

PG_ADMIN_DSN = os.environ.get("SFG_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_HOST = os.environ.get("SFG_TEST_MQTT_HOST", "127.0.0.1")
BROKER_PORT = int(os.environ.get("SFG_TEST_MQTT_PORT", "1883"))
ROOT = Path(__file__).resolve().parent.parent


T = TypeVar("T")


def eventually(predicate: Callable[[], T], *, timeout: float, what: str, every: float = 0.05) -> T:
    """Wait until ``predicate()`` is truthy and return it; after ``timeout`` seconds fail
    saying ``what`` was awaited (and the last value seen). The one way tests wait: never a
    fixed sleep followed by an assertion, never an unbounded loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {timeout}s (last: {value!r})")
        time.sleep(every)


@overload
async def eventually_async(predicate: Callable[[], Awaitable[T]], *, timeout: float, what: str,
                           every: float = 0.05) -> T: ...
@overload
async def eventually_async(predicate: Callable[[], T], *, timeout: float, what: str,
                           every: float = 0.05) -> T: ...
async def eventually_async(predicate: Callable[[], T | Awaitable[T]], *, timeout: float, what: str,
                           every: float = 0.05) -> T:
    """`eventually` inside an event loop; ``predicate`` may be a plain or an async function."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {timeout}s (last: {value!r})")
        await asyncio.sleep(every)


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None, *,
                 sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
    """Stop a child the test started: ``sig`` first, SIGKILL if it has not ended within
    ``timeout``; returns its exit code (None when there was nothing to stop)."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def dsn_for(dbname: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{dbname}"


@contextmanager
def fresh_database(prefix: str = "sfg_test", *, template: str | None = None) -> Iterator[str]:
    """A database made for one test and dropped after it; yields its DSN. With ``template`` (the
    DSN of a database nobody is connected to) it starts as a copy of that one."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create = f'CREATE DATABASE "{name}"'
    if template is not None:
        create += f' TEMPLATE "{psycopg.conninfo.conninfo_to_dict(template)["dbname"]}"'
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        for attempt in range(50):
            try:
                conn.execute(create)
                break
            except psycopg.errors.ObjectInUse:  # a server's own worker (TimescaleDB's) still on it
                if attempt == 49:
                    raise
                time.sleep(0.1)
    try:
        yield dsn_for(name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class SmallDisk:
    """A filesystem of its own, ``size_bytes`` big, mounted at ``path`` (tmpfs with ``size=``),
    that really fills: a buffer on it meets SQLite's "database or disk is full" (ENOSPC), not
    a limit of ours. Mounting needs root (and a container that allows it): `unavailable` says
    why not."""

    def __init__(self, path: Path, *, size_bytes: int) -> None:
        self.path, self.size_bytes = path, size_bytes
        self.ballast = path / "ballast"
        path.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0755",
                              "sfg-small-disk", str(path)], capture_output=True, text=True)
        if out.returncode != 0:
            raise OSError(f"mount tmpfs at {path}: {(out.stderr or out.stdout).strip()}")

    @staticmethod
    @functools.cache
    def unavailable() -> str | None:
        """Why a small disk cannot be mounted here (None: it can)."""
        if os.geteuid() != 0:
            return "mounting a small filesystem needs root"
        probe = Path(tempfile.mkdtemp(prefix="sfg-disk-probe-"))
        try:
            SmallDisk(probe, size_bytes=1 << 20).close()
        except OSError as err:
            return f"this machine refuses the mount ({err})"
        finally:
            shutil.rmtree(probe, ignore_errors=True)
        return None

    def fill(self) -> int:
        """Fill every free byte with a ballast file; returns its size."""
        size = 0
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (b"\0" * (1 << 20), b"\0" * 4096, b"\0"):
                try:
                    while n := os.write(fd, chunk):
                        size += n
                except OSError:  # ENOSPC: on to smaller chunks
                    pass
        finally:
            os.close(fd)
        return size

    def free(self) -> None:
        """The space comes back."""
        self.ballast.unlink(missing_ok=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


class Mosquitto:
    """A mosquitto of the test's own on a free port, to stop and restart at will."""

    def __init__(self, port: int | None = None, *, persistent: bool = False) -> None:
        """``persistent``: sessions and queued messages survive a stop/start, as on a real
        broker with persistence on."""
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sfg-mosq-"))
        # started as root, mosquitto drops to its own user: it must be able to write its
        # persistence file here, or persistence silently does nothing
        self.dir.chmod(0o777)
        self.conf = self.dir / "mosquitto.conf"
        persistence = (f"persistence true\npersistence_location {self.dir}/\n" if persistent
                       else "persistence false\n")
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{persistence}"
            "max_queued_messages 1000000\nmax_inflight_messages 100\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port("127.0.0.1", self.port)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Capture:
    """Subscribes to a topic filter on a real broker and keeps every message it receives."""

    def __init__(self, host: str, port: int, topic_filter: str) -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"capture-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic_filter, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rc, p: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise TimeoutError(f"could not subscribe to {topic_filter} on {host}:{port}")

    def _on_message(self, client: object, userdata: object, msg: object) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload))  # type: ignore[attr-defined]

    def of_kind(self, kind: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t.endswith("/" + kind)]

    def wait_for(self, predicate: Callable[[], object], timeout: float = 30.0) -> None:
        eventually(predicate, timeout=timeout,
                   what=f"capture condition (got {len(self.messages)} messages so far)")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
