"""Normalization between collector and buffer: scaling, units, deadband, report by exception.

In ``change`` mode a tag is reported when its value moves beyond the deadband (absolute, or a
percentage of the last reported value), when its quality changes, and at least every
``heartbeat_ms`` even when nothing changed — so the cloud can tell "no change" (heartbeats
keep coming) from "no data" (they stop).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from device_profiles.device import DeviceConfig, TagReport
from device_profiles.models import DeviceProfile
from wire.sample import Quality, Reading, Sample, expand

DEFAULT_HEARTBEAT_MS = 60_000


@dataclass(frozen=True, slots=True)
class Rule:
    mode: str
    deadband_abs: float | None
    deadband_pct: float | None
    heartbeat_ms: int
    scale: float | None
    offset: float | None
    unit: str | None


@dataclass(slots=True)
class _Last:
    value: object
    quality: Quality
    ts: int


def make_rule(base: TagReport, override: TagReport | None, *, unit: str | None) -> Rule:
    merged = base.model_dump()
    if override is not None:
        merged.update(override.model_dump(exclude_none=True))
    deadband = merged["deadband_abs"] is not None or merged["deadband_pct"] is not None
    mode = merged["mode"] or ("change" if deadband else "all")
    return Rule(
        mode=mode,
        deadband_abs=merged["deadband_abs"],
        deadband_pct=merged["deadband_pct"],
        heartbeat_ms=merged["heartbeat_ms"] or DEFAULT_HEARTBEAT_MS,
        scale=merged["scale"],
        offset=merged["offset"],
        unit=merged["unit"] or unit,
    )


def rules_for(device: DeviceConfig, profile: DeviceProfile) -> dict[str, Rule]:
    known = {t.name for t in profile.tags}
    unknown = set(device.report.tags) - known
    if unknown:
        raise ValueError(
            f"device {device.id}: report.tags names {sorted(unknown)}, which profile "
            f"{profile.profile} does not have; known tags: {sorted(known)}"
        )
    # most tags of a device share one rule: keep one object per distinct rule, not one per tag
    shared: dict[Rule, Rule] = {}
    return {t.name: shared.setdefault(r, r) for t in profile.tags
            for r in [make_rule(device.report, device.report.tags.get(t.name), unit=t.unit)]}


def _numeric(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class Normalizer:
    """Stateful per device; the state is the last *reported* value of each tag."""

    def __init__(self, device: DeviceConfig, profile: DeviceProfile) -> None:
        self.rules = rules_for(device, profile)
        self._last: dict[str, _Last] = {}
        self.suppressed = 0
        # Most devices report every reading unchanged: then there is nothing to do per sample.
        self.passthrough = all(r.mode == "all" and r.scale is None and r.offset is None
                               for r in self.rules.values())

    def apply(self, samples: Reading) -> Reading:
        """What is reported of a poll; blocks pass through unless a rule applies to them."""
        if self.passthrough:
            return samples
        out: list[Sample] = []
        for s in expand(samples):
            rule = self.rules.get(s.tag)
            if rule is None:
                out.append(s)
                continue
            if (rule.scale is not None or rule.offset is not None) and _numeric(s.value):
                v = float(s.value) * (1.0 if rule.scale is None else rule.scale)  # type: ignore[arg-type]
                s = replace(s, value=v + (rule.offset or 0.0))
            if rule.mode == "change" and not self._changed(s, rule):
                self.suppressed += 1
                continue
            self._last[s.tag] = _Last(s.value, s.quality, s.ts)
            out.append(s)
        return out

    def _changed(self, s: Sample, rule: Rule) -> bool:
        last = self._last.get(s.tag)
        if last is None or last.quality != s.quality or s.ts - last.ts >= rule.heartbeat_ms:
            return True
        if _numeric(s.value) and _numeric(last.value):
            delta = abs(float(s.value) - float(last.value))  # type: ignore[arg-type]
            if rule.deadband_abs is not None and delta > rule.deadband_abs:
                return True
            if rule.deadband_pct is not None and delta > abs(float(last.value)) * rule.deadband_pct / 100:  # type: ignore[arg-type]
                return True
            if rule.deadband_abs is None and rule.deadband_pct is None:
                return delta != 0
            return False
        return s.value != last.value
