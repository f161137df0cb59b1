"""The demo's services start wherever the checkout is, and never hand out a port twice."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg

from demo.services import free_port, start_postgres, stop_postgres


def test_the_embedded_postgresql_starts_under_a_folder_only_its_owner_may_enter() -> None:
    # run as root the server runs as 'nobody'; a checkout in /root or in a private temporary
    # folder (mode 0700) holds var/demo, and the server must still reach and use it
    private = Path(tempfile.mkdtemp(prefix="sfg-demo-private-"))
    private.chmod(0o700)
    var = private / "var" / "demo"
    var.mkdir(parents=True)
    try:
        url, version, data = start_postgres(var)
        try:
            assert "PostgreSQL" in version and data == str(var / "postgres")
            with psycopg.connect(url, connect_timeout=10) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            stop_postgres(data)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(p < low for p in ports)
