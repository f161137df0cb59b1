"""数据贯通证据 — the data-connectivity evidence figures, computed once for every reader.

    from cloud_ingest.evidence import compute, Figures
    figures = compute(conn, "ent-demo-food", start=..., end=...)   # raises EvidenceError on bad input

Definitions: docs/evidence.md. Schema: schema.py (docs/evidence.schema.json).
"""

from datetime import datetime
from typing import Any

import psycopg

from cloud_ingest.evidence.compute import DEFAULT_PARAMETERS, compute
from cloud_ingest.evidence.schema import SCHEMA_VERSION, Figures
from cloud_ingest.evidence.window import EvidenceError, SchemaTooOld, UnknownEnterprise, WindowInvalid


def compute_figures(conn: psycopg.Connection[Any], *, enterprise: str, start: datetime,
                    end: datetime) -> dict[str, Any]:
    """The figures as the JSON document (what `evidence figures --json` prints and the API
    returns): the contract for readers that want plain data, such as the evidence packages."""
    return compute(conn, enterprise, start=start, end=end).model_dump(mode="json")

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
