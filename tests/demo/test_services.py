"""The demo's services say what stops them, in words a developer can act on."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from demo.services import ServiceError, _check_reachable, free_port


def test_a_private_folder_above_the_data_is_named_with_its_fix() -> None:
    top = Path(tempfile.mkdtemp(prefix="sfg-demo-reach-"))  # in /tmp, which everyone may enter
    top.chmod(0o755)
    private = top / "private"
    (private / "var" / "demo").mkdir(parents=True)
    private.chmod(0o700)
    with pytest.raises(ServiceError, match=f"cannot enter {private}: .*chmod o\\+x {private}"):
        _check_reachable(private / "var" / "demo")
    try:
        private.chmod(0o755)
        _check_reachable(private / "var" / "demo")  # every folder above may be entered: no error
    finally:
        shutil.rmtree(top)


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(p < low for p in ports)
