"""The pure parts of the evidence on the pages: the figures kept per (enterprise, window), the
charts given the figures JSON (and a chart that fails), windows that round-trip to the second."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cloud_ingest.web import figures
from cloud_ingest.web.windows import parse
from tests.support import ROOT

NOW = datetime(2026, 3, 1, 4, 0, 30, tzinfo=UTC)


def example() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ROOT / "docs" / "evidence.example.json").read_text(encoding="utf-8"))
    return doc


def test_figures_are_kept_per_enterprise_and_window_for_a_short_while() -> None:
    clock = [0.0]
    cache = figures.FiguresCache(30.0, clock=lambda: clock[0])
    today, week = parse("today", None, None, now=NOW), parse("7d", None, None, now=NOW)
    later_today = parse("today", None, None, now=NOW.replace(minute=5))
    custom = parse("custom", "2026-03-01T08:00:05", "2026-03-01T09:00", now=NOW)
    cache.put(cache.key("ent-a", today), {"kept": "today"})
    cache.put(cache.key("ent-a", custom), {"kept": "custom"})
    assert cache.get(cache.key("ent-a", later_today)) == {"kept": "today"}, "a preset is kept by its name"
    assert cache.get(cache.key("ent-a", week)) is None and cache.get(cache.key("ent-b", today)) is None
    assert cache.get(cache.key("ent-a", parse("custom", "2026-03-01T08:00", "2026-03-01T09:00", now=NOW))) \
        is None, "a custom window is kept by its bounds, to the second"
    clock[0] = 31.0
    assert cache.get(cache.key("ent-a", today)) is None, "gone after the TTL"


def test_custom_windows_round_trip_to_the_second() -> None:
    win = parse("custom", "2026-03-01T08:00:05", "2026-03-01T09:10", now=NOW)
    assert win.inputs() == ("2026-03-01T08:00:05", "2026-03-01T09:10")
    assert parse("custom", *win.inputs(), now=NOW) == win
    assert win.query() == "window=custom&start=2026-03-01T08:00:05&end=2026-03-01T09:10"


def test_the_four_charts_draw_the_figures_json() -> None:
    drawn = figures.chart_set(example())
    assert set(drawn) == {"timeline", "completeness", "latency", "gaps"}
    for name, svg in drawn.items():
        assert svg.startswith("<svg") and "chart-failed" not in svg, name
    assert "p95" in drawn["latency"], "the latency chart marks the percentiles of the JSON"


def test_a_chart_that_fails_is_a_note_in_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: dict[str, Any]) -> str:
        raise KeyError("histogram")

    monkeypatch.setitem(figures.CHARTS, "gaps", (broken, "缺口原因 Gap causes"))
    drawn = figures.chart_set(example())
    assert "chart-failed" in drawn["gaps"]
    assert "缺口原因 Gap causes 无法绘制 could not be drawn" in drawn["gaps"]
    assert "KeyError" in drawn["gaps"] and drawn["timeline"].startswith("<svg")
