"""Browse a server's address space for `discover`: the variables under Objects with what a
profile needs of each (data type, rank, minimum sampling interval, description), plus the
server's build info (maker and product, to name the skeleton)."""

from __future__ import annotations

from typing import Any

from collectors.opcua.items import BrowsedVariable
from collectors.opcua.uaclient.api import ua
from collectors.opcua.uaclient.nodes import KIND_OF
from collectors.opcua.uaclient.session import UaSession

_ATTRIBUTES = (
    ua.AttributeIds.DataType,
    ua.AttributeIds.ValueRank,
    ua.AttributeIds.ArrayDimensions,
    ua.AttributeIds.MinimumSamplingInterval,
    ua.AttributeIds.Description,
)
_BUILD_INFO = (2263, 2261)  # Server.ServerStatus.BuildInfo: ManufacturerName, ProductName
_READS_PER_REQUEST = 1000


async def browse(
    session: UaSession, *, depth: int, limit: int = 20_000
) -> tuple[list[BrowsedVariable], dict[str, str]]:
    """Variables under Objects (the Server diagnostics object left out) down to ``depth``
    levels, with data type, rank and minimum sampling interval; plus the server's build info."""
    client = session.client
    server_object = ua.NodeId(ua.ObjectIds.Server)  # type: ignore[arg-type]
    found: list[tuple[list[str], ua.NodeId]] = []
    level: list[tuple[list[str], Any]] = [([], client.nodes.objects)]
    for _ in range(depth):
        nxt = []
        for path, node in level:
            for r in await session.call(node.get_children_descriptions(), "browse"):
                here = [*path, str(r.BrowseName.Name)]
                if r.NodeId == server_object or len(found) >= limit:
                    continue
                if r.NodeClass == ua.NodeClass.Variable:
                    found.append((here, r.NodeId))
                elif r.NodeClass == ua.NodeClass.Object:
                    nxt.append((here, client.get_node(r.NodeId)))
        level = nxt
    reads = [ua.ReadValueId(NodeId=nid, AttributeId=a) for _, nid in found for a in _ATTRIBUTES]
    reads += [
        ua.ReadValueId(NodeId=ua.NodeId(i), AttributeId=ua.AttributeIds.Value)  # type: ignore[arg-type]
        for i in _BUILD_INFO
    ]
    got: list[Any] = []
    for start in range(0, len(reads), _READS_PER_REQUEST):
        params = ua.ReadParameters(NodesToRead=reads[start : start + _READS_PER_REQUEST])
        got += [v.Value.Value if v.Value is not None else None
                for v in await session.call(client.uaclient.read(params), "browse")]
    n = len(_ATTRIBUTES)
    out = []
    for i, (path, nid) in enumerate(found):
        dtype, rank, dims, msi, desc = got[i * n : i * n + n]
        out.append(BrowsedVariable(
            path=path,
            namespace_uri=session.namespaces[nid.NamespaceIndex] if nid.NamespaceIndex else None,
            namespace_index=nid.NamespaceIndex,
            kind=KIND_OF[int(nid.NodeIdType)],
            identifier=nid.Identifier,
            data_type=dtype.Identifier if dtype is not None and dtype.NamespaceIndex == 0 else None,
            value_rank=rank,
            array_dimensions=list(dims or []),
            min_sampling_ms=msi,
            description=getattr(desc, "Text", None),
        ))
    info = {k: str(v) for k, v in zip(("manufacturer", "model"), got[-2:], strict=True) if v}
    return out, info
