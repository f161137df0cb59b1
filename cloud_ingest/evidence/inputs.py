"""Everything the queries found for one computation, handed to the pure assembly (assemble.py)
and the findings (notes.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cloud_ingest.evidence.gaps import RawGap
from cloud_ingest.evidence.gateway_pass import Clock, Rejections
from cloud_ingest.evidence.intervals import Span
from cloud_ingest.evidence.records import (
    DeviceRow,
    EnterpriseRow,
    GatewayRow,
    ImportRow,
    InventoryRow,
    LedgerRow,
    TagRow,
)
from cloud_ingest.evidence.schema import GatewayReconciliation, Parameters
from cloud_ingest.evidence.sessions import Stretch
from cloud_ingest.evidence.tag_figures import TagResult
from cloud_ingest.evidence.window import Span as WindowSpan


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    enterprise: EnterpriseRow
    span: WindowSpan
    now: datetime
    params: Parameters
    gateways: Sequence[GatewayRow]
    devices: Sequence[DeviceRow]
    clocks: Mapping[int, Clock]
    periods: Mapping[int, Span]
    tags: Mapping[int, TagRow]
    tag_results: Mapping[int, TagResult]
    device_period: Mapping[int, Span]
    gaps: Mapping[int, Sequence[RawGap]]
    late_samples: Mapping[int, int]
    shift: Mapping[int, int]
    sessions: Mapping[int, Sequence[Stretch] | None]
    ledger: Mapping[int, LedgerRow]
    rejections: Rejections
    latency_bins: Mapping[str, Sequence[tuple[float, int]]]
    latency_max: Mapping[str, float | None]
    latency_samples: int
    reconciliation: Sequence[GatewayReconciliation]
    inventory: Sequence[InventoryRow]
    last_import: ImportRow | None
    cell_ms: int
    rollups_pending: bool


