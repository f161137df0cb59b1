"""The MIIT-facing figures (docs/evidence.md §3–5, §14, §15): networking and digitalization rates
with their bands, the key-process rate, business-link coverage and the roll-ups per workshop,
line and enterprise. Pure functions over per-device results and the inventory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cloud_ingest.evidence.schema import Band, BusinessLinks, GroupFigures, LinkCoverage
from wire.business_links import LABELS

# MIIT 2024 (secondary copies of the questionnaire): rate ≤ upper → points, out of 6
BANDS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.10, 0.0),
    (0.10, 0.20, 1.5),
    (0.20, 0.40, 3.0),
    (0.40, 0.60, 4.5),
    (0.60, 1.0, 6.0),
)
MAX_POINTS = 6.0


def band(rate: float | None) -> Band | None:
    if rate is None:
        return None
    for lower, upper, points in BANDS:
        if rate <= upper + 1e-12:
            left = "[" if lower == 0 else "("
            return Band(
                range=f"{left}{lower:.0%}, {upper:.0%}]",
                lower=lower,
                upper=upper,
                points=points,
                max_points=MAX_POINTS,
            )
    raise ValueError(f"rate {rate} is above 1")


def ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 6)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceResult:
    """What the roll-ups need of one device."""

    device: str
    workshop: str | None
    line: str | None
    delivering: bool
    credited: float
    expected: int
    good: int
    online_ms: int  # expected time not in a gap (late counts as online)
    expected_ms: int


def group(
    devices: Sequence[DeviceResult], *, workshop: str | None = None, line: str | None = None
) -> GroupFigures:
    expected = sum(d.expected for d in devices)
    span = sum(d.expected_ms for d in devices)
    return GroupFigures(
        workshop=workshop,
        line=line,
        devices=len(devices),
        delivering=sum(d.delivering for d in devices),
        completeness=None
        if not expected
        else round(min(1.0, sum(d.credited for d in devices) / expected), 6),
        online_ratio=None if not span else round(sum(d.online_ms for d in devices) / span, 6),
        samples_expected=expected,
        samples_good=sum(d.good for d in devices),
    )


def rollups(devices: Sequence[DeviceResult]) -> tuple[GroupFigures, list[GroupFigures], list[GroupFigures]]:
    def key(v: str | None) -> tuple[bool, str]:
        return (v is None, v or "")

    workshops = sorted({d.workshop for d in devices}, key=key)
    lines = sorted({(d.workshop, d.line) for d in devices}, key=lambda wl: (key(wl[0]), key(wl[1])))
    return (
        group(devices),
        [group([d for d in devices if d.workshop == w], workshop=w) for w in workshops],
        [
            group([d for d in devices if (d.workshop, d.line) == wl], workshop=wl[0], line=wl[1])
            for wl in lines
        ],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TagLinks:
    device: str
    links: tuple[str, ...]
    delivering: bool


def business_links(tags: Iterable[TagLinks], *, declared: Iterable[str]) -> BusinessLinks:
    """A link is collected when a tag serving it delivered good data; declared when the
    inventory names it."""
    declared_set = set(declared)
    devices: dict[str, set[str]] = {k: set() for k in LABELS}
    counts = dict.fromkeys(LABELS, 0)
    for t in tags:
        if not t.delivering:
            continue
        for link in t.links:
            if link in devices:
                devices[link].add(t.device)
                counts[link] += 1
    links = [
        LinkCoverage(
            key=k,
            label_zh=zh,
            label_en=en,
            collected=counts[k] > 0,
            declared=k in declared_set,
            devices=sorted(devices[k]),
            tags=counts[k],
        )
        for k, (zh, en) in LABELS.items()
    ]
    return BusinessLinks(
        covered=sum(li.collected for li in links),
        total=len(LABELS),
        declared=sum(li.declared for li in links),
        links=links,
    )
