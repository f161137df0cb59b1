"""Packages of one enterprise built in a row with the real builder and the real report (no
database): the material the tamper tests edit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_ingest.attest import keys, package, tables
from cloud_ingest.attest.package import Built, LogState
from cloud_ingest.report import render
from tests.cloud_ingest.attest.figures_fixture import make_figures

ORIGIN = "sfg.test/evidence/ent-demo"
ENTERPRISE = {
    "code": "ent-demo",
    "name": "示例精密制造有限公司",
    "industry": "结构性金属制品",
    "district": "赛罕区",
}


@dataclass
class Chain:
    key_file: Path
    log: LogState = field(default_factory=LogState)
    built: list[Built] = field(default_factory=list)

    def add(
        self, *, figures: dict[str, Any] | None = None, day: int | None = None, log: LogState | None = None
    ) -> Built:
        """Build the next package on ``log`` (default: this chain's log) and append it."""
        key, ring = keys.load_signer(self.key_file)
        f = figures or make_figures(devices=6, tags=3)
        n = len(self.built)
        inp = package.PackageInput(
            figures=f,
            rows=tables.tables(f),
            enterprise=ENTERPRISE,
            created_at=f"2026-02-{(day or n + 1):02d}T01:00:00Z",
            log_origin=ORIGIN,
            generator_version="0.1.0",
        )
        base = self.log if log is None else log
        b = package.build(inp, log=base, key=key, keyring=ring, render=render)
        if log is None:
            self.log = LogState(entries=(*self.log.entries, b.entry), checkpoint=b.checkpoint)
            self.built.append(b)
        return b


def write(files: dict[str, bytes], folder: Path) -> Path:
    for name, data in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return folder
