"""Nodes: our node ids resolved against a session's namespace array, DataValues handed over as
plain `RawValue`s, and the batched Read of tag values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collectors.opcua.convert import BAD_NODE_ID_UNKNOWN, RawValue, epoch_ms
from collectors.opcua.uaclient.api import code_name, ua
from collectors.opcua.uaclient.session import UaSession
from device_profiles.opcua import NodeRef

_KINDS = {
    "i": ua.NodeIdType.Numeric,
    "s": ua.NodeIdType.String,
    "g": ua.NodeIdType.Guid,
    "b": ua.NodeIdType.ByteString,
}
KIND_OF = {0: "i", 1: "i", 2: "i", 3: "s", 4: "g", 5: "b"}  # NodeIdType -> notation letter


def node_id(ref: NodeRef, namespaces: Sequence[str]) -> ua.NodeId:
    """Resolve ``nsu=`` against the session's namespace array (servers may renumber)."""
    index = ref.namespace_index
    if ref.namespace_uri is not None:
        if ref.namespace_uri not in namespaces:
            raise KeyError(ref.namespace_uri)
        index = list(namespaces).index(ref.namespace_uri)
    ident: Any = ref.identifier
    return ua.NodeId(ident, ua.Int16(index or 0), _KINDS[ref.kind])


def resolve_all(refs: Sequence[NodeRef], namespaces: Sequence[str]) -> list[ua.NodeId | None]:
    """Node ids for ``refs``; None where the server does not know the namespace URI."""
    known = set(namespaces)
    return [
        None if r.namespace_uri is not None and r.namespace_uri not in known else node_id(r, namespaces)
        for r in refs
    ]


def raw_of(dv: ua.DataValue) -> RawValue:
    code = dv.StatusCode.value if dv.StatusCode is not None else 0
    value = dv.Value.Value if dv.Value is not None else None
    return RawValue(
        value=value,
        code=code,
        code_name=code_name(code) if code else "Good",
        source_ts=epoch_ms(dv.SourceTimestamp),
        server_ts=epoch_ms(dv.ServerTimestamp),
    )


def unknown_namespace() -> RawValue:
    return RawValue(value=None, code=BAD_NODE_ID_UNKNOWN,
                    code_name="BadNodeIdUnknown: namespace URI not on the server",
                    source_ts=None, server_ts=None)


async def read_values(session: UaSession, refs: Sequence[NodeRef], *, batch: int) -> list[RawValue]:
    """Batched Read of the Value attribute; a node whose namespace URI the server does not
    know comes back as BadNodeIdUnknown instead of failing the batch."""
    ids = resolve_all(refs, session.namespaces)
    out: list[RawValue] = []
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        params = ua.ReadParameters()
        params.TimestampsToReturn = ua.TimestampsToReturn.Both
        params.NodesToRead = [
            ua.ReadValueId(NodeId=i, AttributeId=ua.AttributeIds.Value) for i in chunk if i is not None
        ]
        values = iter(
            await session.call(session.client.uaclient.read(params), "read") if params.NodesToRead else []
        )
        for i in chunk:
            out.append(unknown_namespace() if i is None else raw_of(next(values)))
    return out
