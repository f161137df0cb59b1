"""The standard address space shelf: made by the first simulator, read by the next ones (which
then never build the nodes from code), made once when two start together, and never a reason
for a simulator not to start (turned off, a folder it cannot write, a shelf it cannot read)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import pytest
from asyncua import Client, Server, ua
from asyncua.server.standard_address_space import standard_address_space

from device_profiles.loader import load_profile
from device_profiles.opcua import OpcUaProfile
from simulators.opcua import aspace_shelf
from simulators.opcua.server import OpcUaSimulator
from tests.support import free_port

PROFILE = Path(__file__).resolve().parents[2] / "cases" / "opcua" / "basic" / "profile.yaml"


def _profile() -> OpcUaProfile:
    profile = load_profile(PROFILE)
    assert isinstance(profile, OpcUaProfile)
    return profile


async def _reads(sim: OpcUaSimulator) -> tuple[str, str, int]:
    """A standard node (the server's product name), the namespace array's last entry and a
    profile node's browse name length, read by a client."""
    async with Client(sim.endpoint, timeout=5) as client:
        product = await client.get_node(ua.ObjectIds.Server_ServerStatus_BuildInfo_ProductName).read_value()
        namespaces = await client.get_namespace_array()
        speed = await client.get_node(sim.nodes["speed"]).read_browse_name()
        return str(product), str(namespaces[-1]), len(speed.Name)


async def test_the_first_simulator_makes_the_shelf_and_the_next_read_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(aspace_shelf.ENV, str(tmp_path))
    where = aspace_shelf.shelf_dir()
    assert where is not None and where.parent == tmp_path
    async with OpcUaSimulator(_profile(), port=free_port(), tick_s=0.05) as first:
        built = await _reads(first)
    assert (where / "aspace").is_file() and (where / "aspace.dat").stat().st_size > 1_000_000
    assert not list(tmp_path.glob(".building-*"))

    def never(*_: object) -> None:
        raise AssertionError("the standard address space was built from code again")

    monkeypatch.setattr(standard_address_space, "fill_address_space", never)
    async with OpcUaSimulator(_profile(), port=free_port(), tick_s=0.05) as second:
        assert await _reads(second) == built


async def test_two_servers_starting_together_leave_one_shelf(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(aspace_shelf.ENV, str(tmp_path))
    where = aspace_shelf.shelf_dir()
    assert where is not None
    # what a simulator killed while building left behind, long ago: no reason not to build
    stale = tmp_path / f".building-{where.name}"
    stale.mkdir()
    (stale / "aspace.dat").write_bytes(b"half")
    old = time.time() - 2 * aspace_shelf.STALE_BUILD_S
    os.utime(stale, (old, old))
    servers = await asyncio.gather(aspace_shelf.initialised(Server), aspace_shelf.initialised(Server))
    for s in servers:  # both made and usable
        assert await s.get_namespace_array()
    assert [p.name for p in tmp_path.iterdir()] == [where.name]
    assert (where / "aspace").is_file()


async def test_no_shelf_when_turned_off_or_where_it_cannot_be_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(aspace_shelf.ENV, "off")
    assert aspace_shelf.shelf_dir() is None  # `initialised` then inits as asyncua alone does
    monkeypatch.delenv(aspace_shelf.ENV)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def homeless() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", homeless)
    assert aspace_shelf.shelf_dir() is None
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(aspace_shelf.ENV, str(blocked / "cache"))
    with caplog.at_level(logging.INFO, logger="device_sim.opcua"):
        server = await aspace_shelf.initialised(Server)
    assert await server.get_namespace_array()
    assert "cannot write" in caplog.text and str(blocked) in caplog.text


async def test_an_unreadable_shelf_is_passed_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(aspace_shelf.ENV, str(tmp_path))
    where = aspace_shelf.shelf_dir()
    assert where is not None
    where.mkdir()
    (where / "aspace").touch()  # the name, without the shelf's files (cut short by hand)
    with caplog.at_level(logging.WARNING, logger="device_sim.opcua"):
        async with OpcUaSimulator(_profile(), port=free_port(), tick_s=0.05) as sim:
            product, _, name_len = await _reads(sim)
    assert product and name_len == len("Speed")
    assert "unreadable" in caplog.text and str(where) in caplog.text
