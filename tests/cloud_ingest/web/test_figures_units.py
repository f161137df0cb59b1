"""The pure parts of the evidence on the pages: the figures kept per (enterprise, window), the
charts given the figures JSON (and a chart that fails), windows that round-trip to the second."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from cloud_ingest.web import figures, warm
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


def test_stale_figures_are_served_until_kept_no_longer_and_today_is_keyed_by_its_day() -> None:
    clock = [0.0]
    cache = figures.FiguresCache(30.0, keep_s=300.0, clock=lambda: clock[0])
    week = cache.key("ent-a", parse("7d", None, None, now=NOW))
    cache.put(week, {"kept": "week"})
    clock[0] = 31.0
    assert cache.get(week) is None, "not fresh"
    assert cache.lookup(week) == ({"kept": "week"}, 31.0), "still served, saying how old"
    clock[0] = 301.0
    assert cache.lookup(week) == (None, 0.0) and cache.age(week) is None
    today = cache.key("ent-a", parse("today", None, None, now=NOW))
    tomorrow = cache.key("ent-a", parse("today", None, None, now=NOW.replace(day=2)))
    assert today != tomorrow, "yesterday's figures are never today's"


def test_one_window_is_computed_once_however_many_ask_at_the_same_time() -> None:
    cache = figures.FiguresCache()
    key = cache.key("ent-a", parse("30d", None, None, now=NOW))
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> tuple[dict[str, Any] | None, str | None]:
        calls.append(1)
        started.set()
        release.wait(10)
        return {"n": len(calls)}, None

    got: list[Any] = []
    first = threading.Thread(target=lambda: got.append(cache.once(key, slow)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: got.append(cache.once(key, slow)))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert calls == [1] and got == [({"n": 1}, None)] * 2
    assert cache.get(key) == {"n": 1}


def test_a_failed_computation_is_not_kept_and_the_next_request_computes_again() -> None:
    cache = figures.FiguresCache()
    key = cache.key("ent-a", parse("7d", None, None, now=NOW))
    assert cache.once(key, lambda: (None, "no schema")) == (None, "no schema")
    assert cache.lookup(key) == (None, 0.0)
    assert cache.once(key, lambda: ({"ok": True}, None)) == ({"ok": True}, None)


def test_the_warmer_keeps_today_of_every_enterprise_and_the_windows_watched_lately() -> None:
    clock = [1000.0]
    cache = figures.FiguresCache(clock=lambda: clock[0])
    warmer = warm.Warmer(lambda: None, cache=cache, clock=lambda: clock[0])  # type: ignore[arg-type,return-value]
    warmer._start = lambda: None  # type: ignore[method-assign]  # the thread is not what is tested here
    month = parse("30d", None, None)
    custom = parse("custom", "2026-03-01T08:00", "2026-03-01T09:00", now=NOW)
    warmer.watch("ent-a", month)
    warmer.watch("ent-b", custom)

    def due() -> set[tuple[str, str]]:
        return {(code, win.preset) for code, win in warmer.due(["ent-a", "ent-b"])}

    assert due() == {("ent-a", "today"), ("ent-b", "today"), ("ent-a", "30d"), ("ent-b", "custom")}
    for code, win in warmer.due(["ent-a", "ent-b"]):
        cache.put(cache.key(code, win), {"code": code})
    assert due() == set(), "all fresh"
    clock[0] += warm.REFRESH_S
    assert due() == {("ent-a", "30d"), ("ent-b", "custom")}, "watched: before the cache calls them stale"
    clock[0] += warm.UNWATCHED_TODAY_S
    assert len(due()) == 4, "today of every enterprise, though nobody looks, within the cache's keeping"
    assert warm.UNWATCHED_TODAY_S < figures.KEEP_S
    assert warm.REFRESH_S < figures.FRESH_S
    clock[0] += warm.WATCH_S
    warmer.watch("ent-a", month)
    assert due() == {("ent-a", "today"), ("ent-b", "today"), ("ent-a", "30d")}, \
        "a window nobody looked at lately is no longer kept fresh"


def test_the_warmer_does_not_retry_a_failing_window_every_round() -> None:
    clock = [1000.0]
    cache = figures.FiguresCache(clock=lambda: clock[0])
    warmer = warm.Warmer(lambda: None, cache=cache, clock=lambda: clock[0])  # type: ignore[arg-type,return-value]
    failing = "cloud_ingest.web.warm.compute_now"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(failing, lambda db, code, win: (None, "schema too old"))
        for code, win in warmer.due(["ent-a"]):
            warmer._compute(None, code, win)  # type: ignore[arg-type]
        assert warmer.due(["ent-a"]) == []
        clock[0] += warm.REFRESH_S
        assert [code for code, _ in warmer.due(["ent-a"])] == ["ent-a"]
