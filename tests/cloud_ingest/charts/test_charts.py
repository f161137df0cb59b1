"""Charts are pure and deterministic: golden files pin their bytes (regenerate with
SFG_UPDATE_GOLDEN=1 after a deliberate change and look at the result), and they aggregate so an
enterprise of 300 devices still gives a readable drawing."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cloud_ingest import charts
from tests.cloud_ingest.attest.figures_fixture import make_figures

GOLDEN = Path(__file__).parent / "golden"
CHARTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "timeline": charts.state_timeline,
    "completeness": charts.completeness_grid,
    "gaps": charts.gap_causes,
    "latency": charts.latency_distribution,
}
NS = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_golden(name: str) -> None:
    svg = CHARTS[name](make_figures(devices=8, tags=3))
    path = GOLDEN / f"{name}.svg"
    if os.environ.get("SFG_UPDATE_GOLDEN"):
        path.write_text(svg, encoding="utf-8")
    assert svg == path.read_text(encoding="utf-8"), f"{name} changed: look at it, then SFG_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_valid_svg_and_deterministic(name: str) -> None:
    f = make_figures(devices=8, tags=3)
    svg = CHARTS[name](f)
    assert svg == CHARTS[name](make_figures(devices=8, tags=3))
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg" and root.find(f"{NS}title") is not None
    assert "<script" not in svg and "href" not in svg


def test_timeline_colours_each_gap_by_cause() -> None:
    f = make_figures(devices=6, tags=2)
    root = ET.fromstring(charts.state_timeline(f))
    classes = [r.get("class") for r in root.iter(f"{NS}rect")]
    causes = {g["cause"] for d in f["devices"] for g in d["gaps"]}
    for cause in causes:
        assert f"state-{cause}" in classes
    assert classes.count("state-delivering") == 6


def test_300_devices_aggregate() -> None:
    f = make_figures(devices=300, tags=1, days=30)
    timeline = ET.fromstring(charts.state_timeline(f))
    rows = [r for r in timeline.iter(f"{NS}rect") if r.get("class") == "state-delivering"]
    assert len(rows) == 40
    drawn = charts.state_timeline(f)
    assert "40 of 300 devices drawn" in drawn
    # the gap table lists only the longest gaps: the note points to the table that has every device
    assert "全部设备及其缺口数见设备表" in drawn and "gap table" not in drawn
    grid = charts.completeness_grid(f)
    cells = [r for r in ET.fromstring(grid).iter(f"{NS}rect") if r.get("class") == "cell"]
    groups = {(d["workshop"], d["line"]) for d in f["devices"]}
    assert len(cells) == len(groups) * 30
    assert float(ET.fromstring(grid).get("height") or 0) < 600


def test_empty_figures_say_so() -> None:
    f = make_figures(devices=0, not_networked=0)
    for fn in CHARTS.values():
        svg = fn(f)
        assert re.search("no data in this window|no gaps in this window", svg)
