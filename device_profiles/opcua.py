"""OPC UA profile models: which node each tag is and how the gateway should monitor it.

Node ids are written in the standard string notation (OPC UA Part 6, 5.3.1.10):
``ns=2;i=5``, ``ns=2;s=Line1.Speed``, ``ns=2;g=<GUID>``, ``ns=2;b=<base64>`` and, preferred
for PLCs whose namespace index can change on a firmware update or restart,
``nsu=<namespace URI>;s=...``; the collector resolves the URI against the server's namespace
array on every connect. Parsing lives here so a typo fails when the profile loads, not when
the device is first read.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import KW_ONLY, dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from device_profiles.base import Model, ProfileBase, TagBase

OpcUaType = Literal[
    "Boolean",
    "SByte",
    "Byte",
    "Int16",
    "UInt16",
    "Int32",
    "UInt32",
    "Int64",
    "UInt64",
    "Float",
    "Double",
    "String",
    "DateTime",
    "ByteString",
]
DeadbandType = Literal["none", "absolute", "percent"]
CollectMode = Literal["subscribe", "poll"]

NUMERIC_TYPES = frozenset(
    {"SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float", "Double"}
)


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A parsed node id; exactly one of ``namespace_index`` / ``namespace_uri`` is set."""

    kind: Literal["i", "s", "g", "b"]
    identifier: int | str | uuid.UUID | bytes
    _: KW_ONLY
    namespace_index: int | None = 0
    namespace_uri: str | None = None

    def __str__(self) -> str:
        ns = (
            f"nsu={self.namespace_uri};"
            if self.namespace_uri
            else (f"ns={self.namespace_index};" if self.namespace_index else "")
        )
        ident = self.identifier
        if isinstance(ident, bytes):
            ident = base64.b64encode(ident).decode()
        return f"{ns}{self.kind}={ident}"


def parse_node_id(text: str) -> NodeRef:
    """Parse the standard notation; raises ValueError saying what a valid one looks like."""
    hint = "expected e.g. ns=2;i=5, ns=2;s=Line1.Speed, nsu=urn:plc;s=Speed, ns=2;g=<GUID> or ns=2;b=<base64>"
    rest = text.strip()
    index: int | None = 0
    uri: str | None = None
    if rest.startswith("nsu="):
        uri, sep, rest = rest[4:].partition(";")
        if not sep or not uri:
            raise ValueError(f"node id {text!r}: nsu= needs a namespace URI and ';' ({hint})")
        index = None
    elif rest.startswith("ns="):
        head, sep, rest = rest[3:].partition(";")
        if not sep or not head.isdigit():
            raise ValueError(f"node id {text!r}: ns= needs a number and ';' ({hint})")
        index = int(head)
    kind, sep, ident = rest.partition("=")
    if not sep or kind not in ("i", "s", "g", "b") or ident == "":
        raise ValueError(f"node id {text!r}: identifier must be i=, s=, g= or b= ({hint})")
    value: int | str | uuid.UUID | bytes
    if kind == "i":
        if not ident.isdigit() or int(ident) > 0xFFFFFFFF:
            raise ValueError(f"node id {text!r}: i= needs an unsigned 32-bit number")
        value = int(ident)
    elif kind == "g":
        try:
            value = uuid.UUID(ident)
        except ValueError:
            raise ValueError(
                f"node id {text!r}: g= needs a GUID like 09087e75-8e5e-499b-954f-f2a9603db28a"
            ) from None
    elif kind == "b":
        try:
            value = base64.b64decode(ident, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"node id {text!r}: b= needs base64 bytes (opaque identifier)") from None
    else:
        value = ident
    return NodeRef(kind, value, namespace_index=index, namespace_uri=uri)  # type: ignore[arg-type]


class OpcUaTag(TagBase):
    node_id: str = Field(description="standard notation, e.g. ns=2;s=Line1.Speed or nsu=urn:x;s=Speed")
    type: OpcUaType = Field(
        "Double", description="data type the simulator serves; the gateway takes the server's"
    )
    array_length: int | None = Field(
        None, ge=1, le=10_000, description="one-dimensional array of this length"
    )
    sampling_interval_ms: int | None = Field(
        None, ge=0, description="server-side sampling; defaults to the tag's expected interval"
    )
    queue_size: int | None = Field(None, ge=1, le=10_000, description="monitored item queue; default 1")
    deadband_type: DeadbandType = "none"
    deadband_value: float = Field(0.0, ge=0)
    writable: bool = False

    @field_validator("node_id")
    @classmethod
    def _node_id(cls, v: str) -> str:
        parse_node_id(v)
        return v.strip()

    @model_validator(mode="after")
    def _check(self) -> OpcUaTag:
        if self.deadband_type != "none" and self.type not in NUMERIC_TYPES:
            raise ValueError(f"deadband applies to numeric types only, not {self.type}")
        if self.deadband_type == "percent" and self.deadband_value > 100:
            raise ValueError("a percent deadband is 0..100 (percent of the node's EURange)")
        return self

    @property
    def ref(self) -> NodeRef:
        return parse_node_id(self.node_id)


class OpcUaDefaults(Model):
    mode: CollectMode = Field("subscribe", description="subscribe (monitored items) or poll (batched Read)")
    publishing_interval_ms: int = Field(1000, ge=10, le=3_600_000)
    queue_size: int = Field(1, ge=1, le=10_000)
    read_batch_size: int = Field(500, ge=1, le=10_000, description="nodes per Read request when polling")


class OpcUaProfile(ProfileBase):
    protocol: Literal["opcua"]
    namespaces: list[str] = Field(
        default_factory=list, description="namespace URIs the device's node ids use (for the simulator)"
    )
    defaults: OpcUaDefaults = Field(default_factory=OpcUaDefaults)
    tags: list[OpcUaTag] = Field(min_length=1)

    def sampling_of(self, tag: OpcUaTag) -> int:
        return tag.sampling_interval_ms if tag.sampling_interval_ms is not None else self.interval_of(tag)

    def queue_of(self, tag: OpcUaTag) -> int:
        return tag.queue_size or self.defaults.queue_size
