"""What every device profile shares, whatever its protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from common.model import Frozen as Model
from wire.business_links import BusinessLink

Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
TagName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class SimSpec(Model):
    """How a simulator animates a tag (in engineering units, after scale/offset); ignored by
    the gateway."""

    kind: Literal[
        "constant", "sine", "ramp", "random_walk", "counter", "toggle", "choice",
        "state_machine", "alarm_bits",
    ] = "constant"
    value: int | float | str | bool = 0.0  # int first: int64 counters beyond 2**53 stay exact
    amplitude: float = 0.0
    period_s: float = Field(60.0, gt=0)
    min: float | None = None
    max: float | None = None
    step: float = 1.0
    rate_per_s: float = 0.0
    choices: list[float | str] = Field(default_factory=list)
    noise: float = Field(0.0, ge=0)


class TagBase(Model):
    name: TagName
    unit: str | None = None
    description: str | None = None
    interval_ms: int | None = Field(None, ge=10, description="expected sampling interval")
    links: list[BusinessLink] = Field(
        default_factory=list,
        description="business links (业务环节) this tag serves; empty: the profile's links")
    sim: SimSpec = Field(default_factory=SimSpec)


class ProfileBase(Model):
    """A device model. ``sources`` names the vendor documents the tag map follows.

    Every protocol's model declares ``protocol: Literal["<name>"]`` and ``tags`` (a list of
    its own TagBase subclass); declared here for type checkers only, so that code handling a
    profile of any protocol can read them, while each model keeps its own field order."""

    if TYPE_CHECKING:
        protocol: str
        tags: Sequence[TagBase]

    profile: Ident
    manufacturer: str | None = None
    model: str | None = None
    description: str | None = None
    industry: str | None = None
    sources: list[str] = Field(default_factory=list)
    default_interval_ms: int = Field(1000, ge=10)
    links: list[BusinessLink] = Field(
        default_factory=list, description="business links (业务环节) the device's tags serve")

    @model_validator(mode="after")
    def _unique_names(self) -> ProfileBase:
        seen: set[str] = set()
        for tag in self.tags:
            if tag.name in seen:
                raise ValueError(f"tag name {tag.name!r} appears twice; tag names must be unique")
            seen.add(tag.name)
        return self

    def interval_of(self, tag: TagBase) -> int:
        return tag.interval_ms or self.default_interval_ms

    def links_of(self, tag: TagBase) -> list[str]:
        return list(tag.links or self.links)
