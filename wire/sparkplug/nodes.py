"""What a Sparkplug host keeps per edge node, and who a node is in the cloud (enterprise, gateway).

A Sparkplug node names itself only by group id and edge node id. By default the group id is
the enterprise code and the edge node id the gateway code; a mapping (``sparkplug.nodes`` in
the cloud config, see ``identity_from``) overrides that per group or per node, and may rename
devices whose Sparkplug ids are not valid device codes. Our own agent names its enterprise in
``Properties/Enterprise Id``, which wins over the default and must agree with a mapping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from wire.json_v1 import EnterpriseInfo

CODE: Final = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")  # wire.json_v1.Name


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    enterprise: str
    gateway: str
    devices: Mapping[str, str] = field(default_factory=dict)  # Sparkplug device id -> device code
    mapped: bool = False  # from a mapping entry rather than the default

    def device(self, sparkplug_id: str) -> str:
        return self.devices.get(sparkplug_id, sparkplug_id)


Identity = Callable[[str, str], NodeIdentity]  # (group id, edge node id) -> who it is


def default_identity(group: str, node: str) -> NodeIdentity:
    return NodeIdentity(group, node)


@dataclass(frozen=True, slots=True)
class MetricDef:
    device: str | None  # Sparkplug device id; None for the node's own metrics
    name: str
    datatype: int


@dataclass
class NodeState:
    """One edge node as its last NBIRTH (and the DBIRTHs after it) described it."""

    identity: NodeIdentity
    agent: bool            # speaks our convention (docs/sparkplug.md), else any Sparkplug node
    session: str
    bdseq: int
    born_ms: int
    next_seq: int | None = None
    agent_version: str = ""
    info: EnterpriseInfo = field(default_factory=EnterpriseInfo)
    stream: str | None = None
    aliases: dict[int, MetricDef] = field(default_factory=dict)
    names: dict[tuple[str | None, str], int] = field(default_factory=dict)  # -> datatype
    devices: dict[str | None, list[str]] = field(default_factory=dict)  # born (None: node) -> metrics
    last_seq: int | None = None

    def forget_device(self, device: str) -> None:
        """A new DBIRTH replaces everything an earlier one said about the device."""
        self.aliases = {a: d for a, d in self.aliases.items() if d.device != device}
        self.names = {k: v for k, v in self.names.items() if k[0] != device}

    def define(self, device: str | None, name: str, datatype: int, alias: int | None) -> MetricDef | None:
        """Learn a birth metric; returns the definition an alias already had, if it clashes."""
        self.names[(device, name)] = datatype
        if alias is None:
            return None
        taken = self.aliases.get(alias)
        if taken is not None and (taken.device, taken.name) != (device, name):
            return taken
        self.aliases[alias] = MetricDef(device, name, datatype)
        return None


def bad_device(code: str, sparkplug_id: str) -> str | None:
    if CODE.match(code):
        return None
    return (f"device code {code!r} (Sparkplug device id {sparkplug_id!r}) must be 1-128 letters, digits, "
            "'_', '.' or '-': map it under sparkplug.nodes[].devices in the cloud config")


def invalid_code(identity: NodeIdentity, group: str, node: str) -> str | None:
    """Why the node's enterprise or gateway code cannot be stored, with the fix; None if fine."""
    for what, code, source in (("enterprise", identity.enterprise, f"group id {group!r}"),
                               ("gateway", identity.gateway, f"edge node id {node!r}")):
        if not CODE.match(code):
            return (f"{what} code {code!r} (from the Sparkplug {source}) must be 1-128 letters, "
                    "digits, '_', '.' or '-': map the node to valid codes under sparkplug.nodes "
                    "in the cloud config")
    return None
