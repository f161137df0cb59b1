"""The figures' JSON, as frozen models: one versioned schema for the CLI, the API, the report and
the dashboard (docs/evidence.md defines every field; docs/evidence.schema.json is generated from
these models and a test keeps it current).

Stability: a field, once released, keeps its name and meaning within a major version; new
optional fields raise the minor version. All times are UTC, ISO 8601 with milliseconds and "Z";
gateway-clock times are corrected by the gateway's measured clock offset when it is flagged
(see ``GatewayFigures.clock_corrected``). Ratios are fractions in [0, 1], rounded to 6 digits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

SCHEMA_VERSION = "1.0"
METHODOLOGY_VERSION = "1"


def iso(dt: datetime) -> str:
    """The one time format of the figures: UTC, milliseconds, "Z"."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Instant = Annotated[datetime, PlainSerializer(iso, return_type=str, when_used="json")]
Ratio = Annotated[float, Field(ge=0, le=1)]

GapCause = Literal[
    "device_offline",
    "bad_value",
    "gateway_offline",
    "delivered_late",
    "dropped_at_gateway",
    "gateway_overrun",
    "rejected",
    "unknown",
]
GAP_CAUSES: tuple[GapCause, ...] = (
    "device_offline",
    "bad_value",
    "gateway_offline",
    "delivered_late",
    "dropped_at_gateway",
    "gateway_overrun",
    "rejected",
    "unknown",
)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generator(Out):
    name: str = "shopfloor-gateway"
    version: str


class EnterpriseRef(Out):
    code: str
    name: str | None = None
    industry: str | None = None
    district: str | None = None


class Window(Out):
    start: Instant = Field(description="inclusive")
    end: Instant = Field(description="exclusive; the requested end, or now when that was later")
    duration_s: float
    requested_end: Instant | None = Field(None, description="set when the requested end was in the future")


class Parameters(Out):
    """The thresholds the figures were computed with (part of the methodology)."""

    late_after_s: float = Field(description="a batch stored later than this after it was read is late")
    clock_tolerance_ms: float = Field(
        description="a gateway clock further off than this is flagged and corrected"
    )
    complete_threshold: Ratio = Field(
        description="a device at or above this completeness has complete data (key-process rate)"
    )
    gap_factor: float = Field(description="a silence longer than gap_factor x the expected spacing is a gap")


class Band(Out):
    """Where a rate falls among the MIIT 2024 bands (≤10% 0, ≤20% 1.5, ≤40% 3, ≤60% 4.5, >60% 6)."""

    range: str = Field(description='e.g. "(40%, 60%]"')
    lower: Ratio
    upper: Ratio
    points: float
    max_points: float


class InventorySummary(Out):
    present: bool = Field(description="false: no inventory imported; rates that need it are null")
    imported_at: Instant | None = None
    source: str | None = Field(None, description="file name of the last import")
    sha256: str | None = Field(None, description="digest of the last imported file")
    rows: int = Field(0, description="inventory rows, production or not")
    production_devices: int = Field(0, description="denominator of the networking and digitalization rates")
    networked_devices: int = Field(0, description="production devices the enterprise declares networked")
    delivering_devices: int = Field(
        0, description="production devices that delivered good data in the window"
    )
    digital_devices: int = Field(
        0, description="production devices the enterprise declares digitally capable"
    )
    key_process_devices: int = Field(0, description="production devices on a key process (关键工序)")
    key_process_complete: int = Field(0, description="of those, devices with complete data in the window")
    unlisted_devices: list[str] = Field(
        default_factory=list, description="announced by a gateway, not in the inventory: counted in no rate"
    )
    silent_devices: list[str] = Field(
        default_factory=list, description="declared networked, no good data in the window"
    )
    undeclared_delivering: list[str] = Field(
        default_factory=list, description="declared not networked, yet delivered good data"
    )


class LinkCoverage(Out):
    key: str
    label_zh: str
    label_en: str
    collected: bool = Field(description="some tag serving this link delivered good data in the window")
    declared: bool = Field(description="some inventory row names this link")
    devices: list[str] = Field(description="devices whose delivering tags serve this link")
    tags: int = Field(description="delivering tags that serve this link")


class BusinessLinks(Out):
    covered: int = Field(description="links with automatically collected data in the window")
    total: int = 14
    declared: int = Field(description="links named by the inventory")
    links: list[LinkCoverage]


class Percentiles(Out):
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class HistogramBin(Out):
    le_ms: float = Field(description="upper edge of the bin (inclusive), ms; the last bin is open")
    n: int


class Latency(Percentiles):
    """Source time → stored in the cloud, over the samples stored in the window (event-weighted)."""

    samples: int = 0
    method: Literal["ledger"] = "ledger"
    device_to_gateway: Percentiles = Field(default_factory=Percentiles)
    gateway_to_cloud: Percentiles = Field(default_factory=Percentiles)
    cloud_to_stored: Percentiles = Field(default_factory=Percentiles)
    corrected_gateways: list[str] = Field(
        default_factory=list, description="gateways whose clock offset was subtracted"
    )
    histogram: list[HistogramBin] = Field(default_factory=list)


class Session(Out):
    session: str
    start: Instant = Field(description="birth received (or window start)")
    end: Instant | None = Field(
        description="offline from (last message before the death or re-birth); null: online at the window end"
    )
    end_reason: Literal["death", "shutdown", "lost", "open"] = Field(
        description="death: last will; shutdown: clean stop; lost: re-birth with no death (the "
        "connection dropped without a will, e.g. a broker outage); open: still online"
    )


class GatewayFigures(Out):
    gateway: str
    clock_offset_ms: float | None = Field(
        description="gateway clock minus cloud clock (median over live batches); null without live batches"
    )
    clock_ok: bool | None = Field(description="|offset| within clock_tolerance_ms")
    clock_corrected: bool = Field(description="times of this gateway's data were corrected by the offset")
    online_ratio: Ratio | None = Field(
        description="time-weighted share of the window with a live session; null with no birth ever seen"
    )
    sessions: list[Session]
    streams: int = Field(description="buffers (installations) that sent batches in the window")
    batches: int
    late_batches: int
    samples_stored: int
    rejected: dict[str, int] = Field(description="dead letters from this gateway, by reason")


class Gap(Out):
    start: Instant
    end: Instant
    duration_s: float
    cause: GapCause
    detail: str | None = Field(None, description="e.g. the device's reason, or the drop reasons")
    dropped: dict[str, int] | None = Field(
        None, description="dropped_at_gateway: the gateway's drop counts by reason over the gap"
    )


class DeviceFigures(Out):
    device: str
    name: str | None = None
    type: str | None = None
    workshop: str | None = None
    line: str | None = None
    key_process: bool = False
    production: bool = True
    in_inventory: bool
    networked_declared: bool | None = None
    digital_declared: bool | None = None
    gateway: str | None = None
    delivering: bool = Field(description="delivered good data in the window")
    online_ratio: Ratio | None = Field(
        description="time-weighted: expected time not inside a gap "
        "(late counts as online); null when nothing was expected"
    )
    completeness: Ratio | None = Field(description="event-weighted over its tags: credited ÷ expected")
    complete: bool = Field(description="completeness ≥ complete_threshold")
    samples_expected: int | None
    samples_stored: int
    samples_good: int
    samples_late: int
    gaps: list[Gap]


class TagFigures(Out):
    device: str
    tag: str
    report_mode: Literal["all", "change"]
    interval_ms: int | None
    heartbeat_ms: int | None
    links: list[str]
    weighting: Literal["event", "time"] = Field(
        description="event: every-reading tags (counted); time: report-by-exception tags (silences)"
    )
    expected: int | None = Field(description="samples expected in the window (change: heartbeat slots)")
    stored: int
    good: int
    completeness: Ratio | None


class Reconciliation(Out):
    read: int = Field(description="samples the gateway read (its counters, window delta)")
    published: int = Field(description="acknowledged by the broker (its counters, window delta)")
    dropped: dict[str, int] = Field(description="dropped at the gateway, by reason (window delta)")
    stored: int = Field(description="stored by the cloud from the messages between the two counter reports")
    rejected: int = Field(description="samples in dead-lettered messages between the two reports")
    unexplained: int = Field(description="acknowledged but neither stored nor rejected; 0 when healthy")
    read_errors: int
    skipped_polls: int
    at_gateway_start: int = Field(description="read − published − dropped at the first report")
    at_gateway_end: int = Field(description="read − published − dropped at the last report")


class DeviceReconciliation(Reconciliation):
    device: str


class GatewayReconciliation(Reconciliation):
    gateway: str
    reports_from: Instant | None = Field(
        description="received time of the counter report the deltas "
        "start from (null: from the stream's first batch)"
    )
    reports_to: Instant | None = Field(description="received time of the last counter report in the window")
    devices: list[DeviceReconciliation]


class GroupFigures(Out):
    workshop: str | None = None
    line: str | None = None
    devices: int
    delivering: int
    completeness: Ratio | None
    online_ratio: Ratio | None
    samples_expected: int
    samples_good: int


class Rollups(Out):
    enterprise: GroupFigures
    workshops: list[GroupFigures]
    lines: list[GroupFigures]


class GridRow(Out):
    device: str
    completeness: list[Ratio | None]


class Grid(Out):
    """Completeness per device and bucket, for the report's grid chart."""

    bucket: Literal["hour", "day"]
    starts: list[Instant]
    rows: list[GridRow]


class RejectedSummary(Out):
    messages: int
    by_reason: dict[str, int]
    samples: int = Field(description="samples inside rejected data messages that could be read")


class Note(Out):
    code: str
    zh: str
    en: str


class Figures(Out):
    schema_version: str = SCHEMA_VERSION
    methodology_version: str = METHODOLOGY_VERSION
    generated_at: Instant
    generator: Generator
    enterprise: EnterpriseRef
    window: Window
    parameters: Parameters
    inventory: InventorySummary
    networking_rate: Ratio | None
    networking_band: Band | None
    digitalization_rate: Ratio | None
    digitalization_band: Band | None
    key_process_rate: Ratio | None
    business_links: BusinessLinks
    latency_ms: Latency
    gateways: list[GatewayFigures]
    devices: list[DeviceFigures]
    tags: list[TagFigures]
    reconciliation: list[GatewayReconciliation]
    rollups: Rollups
    grid: Grid
    rejected: RejectedSummary
    not_computable: dict[str, str] = Field(description="figure → why it is null (e.g. no_inventory)")
    notes: list[Note]
