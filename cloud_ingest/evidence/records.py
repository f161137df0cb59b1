"""What the queries return: small frozen records, in epoch milliseconds, gateway clock for data
times and cloud clock for everything the cloud stamped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class EnterpriseRow:
    id: int
    code: str
    name: str | None
    industry: str | None
    district: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayRow:
    id: int
    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRow:
    id: int
    code: str
    gateway_id: int | None
    workshop: str | None
    line: str | None
    key_process: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TagRow:
    id: int
    device_id: int
    name: str
    report_mode: str
    interval_ms: int | None
    heartbeat_ms: int | None
    links: tuple[str, ...]
    first_seen: int  # cloud clock: when the cloud registered the tag
    first_hour: int | None  # the first hourly rollup bucket holding it (gateway clock)


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryRow:
    code: str
    name: str
    type: str | None
    workshop: str | None
    line: str | None
    key_process: bool
    networked: bool
    digital: bool
    production: bool
    links: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportRow:
    imported_at: int
    source: str
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRow:
    gateway_id: int
    kind: str
    session: str
    ts: int | None
    received: int
    reason: str | None
    last_before: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    """One gateway's batches with samples in the window."""

    gateway_id: int
    batches: int
    late_batches: int
    samples: int
    streams: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LateBatch:
    gateway_id: int
    seq: int
    min_ts: int
    max_ts: int
    device_id: int
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetterRow:
    id: int
    received: int
    reason: str
    gateway: str | None
    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRow:
    """A device's counters as one data message carried them."""

    gateway_id: int
    base: int  # the stream (its seq base in the ledger)
    seq: int
    sent: int
    device_id: int
    read: int
    published: int
    read_errors: int
    skipped_polls: int
    dropped: dict[str, int]
