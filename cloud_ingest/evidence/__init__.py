"""数据贯通证据 — the data-connectivity evidence figures, computed once for every reader.

    from cloud_ingest.evidence import compute, Figures
    figures = compute(conn, "ent-demo-food", start=..., end=...)   # raises EvidenceError on bad input

Definitions: docs/evidence.md. Schema: schema.py (docs/evidence.schema.json).
"""

from cloud_ingest.evidence.compute import DEFAULT_PARAMETERS, compute
from cloud_ingest.evidence.schema import SCHEMA_VERSION, Figures
from cloud_ingest.evidence.window import EvidenceError, SchemaTooOld, UnknownEnterprise, WindowInvalid

__all__ = [
    "DEFAULT_PARAMETERS",
    "SCHEMA_VERSION",
    "EvidenceError",
    "Figures",
    "SchemaTooOld",
    "UnknownEnterprise",
    "WindowInvalid",
    "compute",
]
