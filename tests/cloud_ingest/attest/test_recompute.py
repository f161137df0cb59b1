"""The verifier's recomputation over the real schema (docs/evidence.md's formulas, from the CSVs
alone): an untouched package recomputes to its figures.json exactly, and a CSV edited to disagree
with the others (as someone who holds the key and re-signs would) is named with the figure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloud_ingest.attest import tables
from cloud_ingest.attest import verify_package as v
from tests.cloud_ingest.attest.figures_fixture import make_figures


def _files(figures: dict[str, Any]) -> dict[str, bytes]:
    files = {f"data/{name}.csv": tables.to_csv(name, rows) for name, rows in tables.tables(figures).items()}
    files["data/figures.json"] = v.canonical_json(figures)
    return files


def _edit(files: dict[str, bytes], name: str, old: str, new: str) -> dict[str, bytes]:
    text = files[name].decode("utf-8-sig")
    assert old in text, (name, old)
    return {**files, name: text.replace(old, new, 1).encode("utf-8-sig")}


@pytest.mark.parametrize("devices", [0, 3, 8])
def test_untouched_figures_recompute_to_figures_json(devices: int) -> None:
    f = make_figures(devices=devices, tags=3)
    recomputed, bad = v.recompute(_files(f), f)
    assert bad == [] and v.compare(recomputed, f, "") == []
    assert recomputed["networking_rate"] == f["networking_rate"]
    assert recomputed["networking_band"] == f["networking_band"]
    assert recomputed["key_process_rate"] == f["key_process_rate"]
    assert recomputed["inventory"]["production_devices"] == f["inventory"]["production_devices"]
    assert recomputed["rollups"]["enterprise"]["completeness"] == pytest.approx(
        f["rollups"]["enterprise"]["completeness"], abs=2e-6
    )
    assert recomputed["latency_ms"]["samples"] == f["latency_ms"]["samples"]


def test_a_good_count_lowered_in_tags_csv_is_named() -> None:
    f = make_figures(devices=4, tags=2)
    t = f["tags"][0]
    row = f"{t['device']},{t['tag']},"
    files = _files(f)
    line = next(x for x in files["data/tags.csv"].decode("utf-8-sig").splitlines() if x.startswith(row))
    lowered = line.rsplit(",", 2)[0] + f",{t['good'] - 50}," + line.rsplit(",", 1)[1]
    bad = v.recompute_figures(_edit(files, "data/tags.csv", line, lowered), f)
    assert any(f"data/tags.csv: {t['device']}/{t['tag']} 完整性重算不符" in b for b in bad), bad
    assert any(f"devices[{t['device']}].samples_good is" in b for b in bad), bad


def test_a_row_taken_out_of_the_inventory_in_inventory_csv_moves_the_rate() -> None:
    """N001 (production, never networked) marked as not in the inventory: one production device
    fewer, so the networking rate recomputes higher than figures.json says."""
    f = make_figures(devices=4, tags=2)
    files = _files(f)
    edited = _edit(
        files, "data/inventory.csv", ",车间1,L1,是,是,是,否,否,否,否,", ",车间1,L1,否,是,是,否,否,否,否,"
    )
    bad = v.recompute_figures(edited, f)
    assert any("inventory.production_devices is" in b and "data/inventory.csv" in b for b in bad), bad
    assert any(b.startswith("data/figures.json: 指标与 CSV 不符 networking_rate") for b in bad), bad


def test_unbalanced_reconciliation_and_a_wrong_gap_duration_are_named() -> None:
    f = make_figures(devices=4, tags=2)
    files = _files(f)
    gw = f["reconciliation"][0]
    total = tables.reconciliation_rows(f)[0]
    line = f"{gw['gateway']},*,{total['read']},"
    bad = v.recompute_figures(
        _edit(files, "data/reconciliation.csv", line, f"{gw['gateway']},*,{total['read'] + 7},"), f
    )
    assert any("网关计数不平衡" in b for b in bad) and any("网关合计不符 read" in b for b in bad), bad
    g = f["devices"][0]["gaps"][0]
    dur = tables.fmt(g["duration_s"])
    bad = v.recompute_figures(_edit(files, "data/gaps.csv", f"{g['end']},{dur},", f"{g['end']},{dur}1,"), f)
    assert any("缺口时长不符" in b for b in bad) and any(
        ".gap_seconds" in b or "gap_seconds" in b for b in bad
    ), bad


def test_link_coverage_recomputes_from_the_tags() -> None:
    f = make_figures(devices=4, tags=2)
    files = _files(f)
    claimed = json.loads(files["data/figures.json"])
    claimed["business_links"]["covered"] += 1
    bad = v.compare(v.recompute(files, claimed)[0], claimed, "")
    assert bad == [
        "data/figures.json: 指标与 CSV 不符 business_links.covered is "
        f"{claimed['business_links']['covered']}, "
        f"data/tags.csv recompute(s) to {f['business_links']['covered']}"
    ]
