"""The edge agent's durable store-and-forward buffer (docs/edge-buffer.md).

| module | role |
|---|---|
| `schema` | the file's tables, pragmas and format check; multi-row statements |
| `rows` | samples → rows of one device in wire JSON (pure, no disk) |
| `cutting` | unsealed rows → numbered batches (pure, no disk) |
| `cache` | bodies of freshly sealed batches, bounded by bytes |
| `space` | how full the file is; what ``drop_oldest`` removes |
| `store` | `DiskBuffer`: one write verb, one seal verb, acks and the reads the agent needs |
"""

from edge_agent.buffer.cutting import BatchLimits, SealedBatch
from edge_agent.buffer.rows import Row, RowLimits, encode_rows
from edge_agent.buffer.schema import FORMAT_VERSION, BufferDiskFull, BufferFormatError
from edge_agent.buffer.store import DiskBuffer, Written

__all__ = [
    "FORMAT_VERSION",
    "BatchLimits",
    "BufferDiskFull",
    "BufferFormatError",
    "DiskBuffer",
    "Row",
    "RowLimits",
    "SealedBatch",
    "Written",
    "encode_rows",
]
