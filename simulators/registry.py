"""``device-sim``'s side of the protocol registry (`device_profiles.protocols`): each protocol's
simulator is ``simulators/<name>/serve.py``, with

    async def serve(specs: Sequence[DeviceSpec], *, host: str) -> None    # runs until cancelled

and, optionally, its own subcommand in ``simulators/<name>/command.py`` (``command``, a click
command named after the protocol). Both are imported only when used: ``device-sim modbus``
never loads asyncua.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import Sequence
from typing import Protocol, cast

import click

from common.cli import ConfigInvalid
from device_profiles.loader import resolve_profile
from device_profiles.protocols import PROTOCOLS
from simulators.devices import DeviceSpec


class Serve(Protocol):
    async def __call__(self, specs: Sequence[DeviceSpec], *, host: str) -> None: ...


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# protocol name -> "module:function" of its simulator, for every registered protocol that has one
SERVERS: dict[str, str] = {
    name: f"simulators.{name}.serve:serve" for name in PROTOCOLS if _has(f"simulators.{name}.serve")
}
# protocol name -> module of its own device-sim subcommand, where it has one
COMMANDS: dict[str, str] = {
    name: f"simulators.{name}.command" for name in PROTOCOLS if _has(f"simulators.{name}.command")
}


def server_for(protocol: str) -> Serve:
    target = SERVERS.get(protocol)
    if target is None:
        raise ConfigInvalid(f"no simulator for protocol {protocol!r}; known: {', '.join(SERVERS)}")
    module, name = target.split(":")
    return cast(Serve, getattr(importlib.import_module(module), name))


def command_for(protocol: str) -> click.Command:
    command = getattr(importlib.import_module(COMMANDS[protocol]), "command")  # noqa: B009
    if not isinstance(command, click.Command):
        raise TypeError(f"{COMMANDS[protocol]}.command is not a click command")
    return command


async def serve_all(specs: Sequence[DeviceSpec], *, host: str) -> None:
    """Serve devices of any protocols, each by its profile's protocol, until cancelled."""
    by_proto: dict[str, list[DeviceSpec]] = {}
    for spec in specs:
        by_proto.setdefault(resolve_profile(spec.profile).protocol, []).append(spec)
    servers = [server_for(p) for p in by_proto]  # an unknown protocol fails before any starts
    await asyncio.gather(*(serve(s, host=host) for serve, s in zip(servers, by_proto.values(), strict=True)))
