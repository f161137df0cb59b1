"""Loss reconciliation: the gateway's own counters against what the cloud stored and rejected
(docs/evidence.md §13), per stream and device, summed per gateway.

Counters are cumulative per stream (a reinstalled gateway starts again at zero) and ride on data
messages. ``a`` is the last report sent before the window, ``b`` the last sent before its end;
what the cloud stored "between" them is what it has from the batches the gateway sent after ``a``
up to and including ``b``: everything the broker acknowledged before a report was sent before
it, so published(k) − stored up to k − rejected up to k is never positive unless acknowledged
data was lost. That quantity, U(k), is kept cumulative from the stream's first batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cloud_ingest.evidence.schema import DeviceReconciliation, GatewayReconciliation, Instant


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    read: int = 0
    published: int = 0
    read_errors: int = 0
    skipped_polls: int = 0
    dropped: Mapping[str, int] = field(default_factory=dict)

    @property
    def held(self) -> int:
        """At the gateway still: read, not yet acknowledged, not dropped."""
        return self.read - self.published - sum(self.dropped.values())


ZERO = Snapshot()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStretch:
    """One device on one stream over the window."""

    device: str
    a: Snapshot
    b: Snapshot
    stored: int
    rejected: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStretch:
    devices: Sequence[DeviceStretch]
    # U at the two reports, summed over the stream's devices (None: no report at that end)
    u_a: int | None
    u_b: int | None


def _dropped_delta(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    return {k: b.get(k, 0) - a.get(k, 0) for k in sorted(set(a) | set(b)) if b.get(k, 0) - a.get(k, 0)}


def unexplained(u_a: int | None, u_b: int | None) -> int:
    """What became unexplained during the window (a loss before it does not count again)."""
    return max(0, max(0, u_b or 0) - max(0, u_a or 0))


def _row(d: DeviceStretch) -> dict[str, object]:
    return {
        "read": d.b.read - d.a.read,
        "published": d.b.published - d.a.published,
        "dropped": _dropped_delta(d.a.dropped, d.b.dropped),
        "stored": d.stored,
        "rejected": d.rejected,
        "read_errors": d.b.read_errors - d.a.read_errors,
        "skipped_polls": d.b.skipped_polls - d.a.skipped_polls,
        "at_gateway_start": d.a.held,
        "at_gateway_end": d.b.held,
    }


def _add(into: dict[str, object], row: Mapping[str, object]) -> None:
    for k, v in row.items():
        if k == "dropped":
            acc: dict[str, int] = into.setdefault("dropped", {})  # type: ignore[assignment]
            for reason, n in v.items():  # type: ignore[attr-defined]
                acc[reason] = acc.get(reason, 0) + n
        else:
            into[k] = int(into.get(k, 0)) + int(v)  # type: ignore[call-overload]


def reconcile_gateway(
    gateway: str,
    streams: Iterable[StreamStretch],
    *,
    device_unexplained: Mapping[str, int] | None = None,
    reports_from: Instant | None,
    reports_to: Instant | None,
) -> GatewayReconciliation:
    """Sum a gateway's streams. ``device_unexplained`` is given when the gateway shows
    unexplained samples, to say which devices they belong to (computed per device then)."""
    per_device: dict[str, dict[str, object]] = {}
    gw_unexplained = 0
    for st in streams:
        gw_unexplained += unexplained(st.u_a, st.u_b)
        for d in st.devices:
            _add(per_device.setdefault(d.device, {"dropped": {}}), _row(d))
    totals: dict[str, object] = {"dropped": {}}
    devices = []
    for dev in sorted(per_device):
        row = per_device[dev]
        row["unexplained"] = (device_unexplained or {}).get(dev, 0) if gw_unexplained else 0
        row["dropped"] = dict(sorted(row["dropped"].items()))  # type: ignore[attr-defined]
        devices.append(DeviceReconciliation(device=dev, **row))
        _add(totals, {k: v for k, v in row.items() if k != "unexplained"})
    totals["unexplained"] = gw_unexplained
    if not per_device:
        totals.update(
            read=0,
            published=0,
            stored=0,
            rejected=0,
            read_errors=0,
            skipped_polls=0,
            at_gateway_start=0,
            at_gateway_end=0,
        )
    totals["dropped"] = dict(sorted(totals["dropped"].items()))  # type: ignore[attr-defined]
    return GatewayReconciliation(
        gateway=gateway, reports_from=reports_from, reports_to=reports_to, devices=devices,
        **totals,
    )
