"""What the benchmarks share and is not the product: a free loopback port, waiting for a
listener, stopping a child process. Imported by the bench scripts as a sibling module (a
script's own folder is first on sys.path); the product itself comes from the installed
distribution (``pip install -e .``), never from a path inserted here."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_port(port: int, *, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
    """Return once something accepts connections on ``host:port``; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            await asyncio.sleep(0.05)


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], *, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if the child has not ended within ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
