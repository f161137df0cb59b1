"""The definitions the report's methodology section prints and the limits of what a signature
proves: data (``templates/methodology.yaml``), one row per figure, Chinese then English, so a
definition changes in one place; they follow the figures' definitions in docs/evidence.md."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True, kw_only=True)
class Definition:
    zh: str
    en: str
    formula: str
    weighting: str
    zh_text: str
    en_text: str


@dataclass(frozen=True, kw_only=True)
class Methodology:
    definitions: tuple[Definition, ...]
    limits: tuple[tuple[str, str], ...]
    note: str


@cache
def methodology() -> Methodology:
    text = resources.files("cloud_ingest.report").joinpath("templates", "methodology.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return Methodology(
        definitions=tuple(Definition(**d) for d in data["definitions"]),
        limits=tuple((x["zh"], x["en"]) for x in data["limits"]),
        note=data["note"],
    )
