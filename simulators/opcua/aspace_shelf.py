"""OPC UA's standard address space, built once and kept on disk for every later simulator.

asyncua builds the standard address space (its own nodes, about 20,000 of them) from generated
code at every server start: 2.4 s of CPU, most of a simulator's start-up, and the demo starts
several at once on a small machine. asyncua can load it from a shelf instead, node by node as
they are used (its ``Server.init(shelf_file)``): 0.25 s. The first simulator that finds no shelf
builds one in a folder of its own and moves the folder into place whole, so a simulator never
reads half a shelf; those starting meanwhile start without one rather than build it again (a
demo starts six at once). Each asyncua and Python version has its own (the nodes are pickled).
Where it is kept: ``$SFG_OPCUA_SHELF`` (a folder), else ``$XDG_CACHE_HOME/shopfloor-gateway``
(``~/.cache/shopfloor-gateway``); ``SFG_OPCUA_SHELF=off`` starts every simulator without one. A
cache that cannot be read or written means a start without it, never a failed start.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from asyncua import Server

log = logging.getLogger("device_sim.opcua")

ENV = "SFG_OPCUA_SHELF"
STALE_BUILD_S = 600  # a build folder this old was left by a simulator that was killed


def shelf_dir() -> Path | None:
    """The folder of this asyncua's and this Python's shelf, or None when it is turned off (or
    there is no home folder for the default place)."""
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    try:
        base = Path(setting) if setting else (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shopfloor-gateway")
    except RuntimeError:  # no home folder to be found (a service account without one)
        return None
    version = importlib.metadata.version("asyncua")
    return base / f"opcua-aspace-asyncua{version}-py{sys.version_info.major}.{sys.version_info.minor}"


async def initialised(make: Callable[[], Server]) -> Server:
    """A server from ``make()``, initialised, its standard address space from the shelf when
    there is one (and the shelf made when there is none)."""
    where = shelf_dir()
    if where is None:
        return await _plain(make)
    shelf = where / "aspace"
    if shelf.is_file():
        server = make()
        try:
            await server.init(shelf)
            return server
        except Exception as err:  # an unreadable shelf (disk error, cut short by hand): without
            log.warning("OPC UA address space shelf %s unreadable (%s); starting without it", where, err)
            return await _plain(make)
    build = where.parent / f".building-{where.name}"
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        _remove_if_stale(build)
        build.mkdir()  # this simulator builds it; one starting meanwhile starts without
    except FileExistsError:
        return await _plain(make)
    except OSError as err:
        log.info("OPC UA address space shelf: cannot write %s (%s); starting without it", where.parent, err)
        return await _plain(make)
    try:
        server = make()
        try:
            await server.init(build / "aspace")  # builds the nodes, then writes the shelf
        except OSError as err:  # e.g. a full disk while writing the shelf: the server is half made
            log.info("OPC UA address space shelf: cannot write %s (%s); starting without it", build, err)
            return await _plain(make)
        # the name asyncua looks for; Python's portable dbm writes only aspace.dat and aspace.dir
        (build / "aspace").touch()
        try:
            build.rename(where)  # whole, or not at all
        except OSError:
            pass
        return server
    finally:
        shutil.rmtree(build, ignore_errors=True)  # gone already when it was moved into place


async def _plain(make: Callable[[], Server]) -> Server:
    server = make()
    await server.init()
    return server


def _remove_if_stale(build: Path) -> None:
    try:
        if time.time() - build.stat().st_mtime > STALE_BUILD_S:
            shutil.rmtree(build, ignore_errors=True)
    except FileNotFoundError:
        pass
