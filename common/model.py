"""The one base model for configuration and wire records: unknown fields are errors (a typo in a
YAML key must not be silently ignored) and instances are frozen (normalization and decoding make
new ones instead of editing shared ones)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
