"""The evidence figures as the pages get them: from the one computation, kept briefly.

Every figure a page shows comes from ``cloud_ingest.attest.source.figures_from_database`` (the
door the packages use too, which calls ``cloud_ingest.evidence.compute_figures``): the JSON the
API's ``/api/v1/enterprises/{code}/evidence`` returns for the same window. The pages never
compute a figure of their own.

A month's figures take about a second, and the enterprise page, its gaps partial and the city
overview may ask for the same window within moments, so the JSON is kept per (enterprise,
window) for ``TTL_S`` seconds. A preset window ("today", "7d", "30d") is keyed by its name: its
end moves with the clock, and what is shown is the window the kept JSON names
(``figures.window``), never a recomputed one. A custom window is keyed by its bounds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from markupsafe import Markup

from cloud_ingest import charts
from cloud_ingest.attest import source
from cloud_ingest.evidence import EvidenceError, SchemaTooOld
from cloud_ingest.web.deps import plain_rows
from cloud_ingest.web.windows import Window

log = logging.getLogger(__name__)

TTL_S = 30.0
MAX_ENTRIES = 256

Key = tuple[str, str, str]


class FiguresCache:
    """(enterprise, window) → (time kept, figures JSON); thread-safe, bounded, short-lived."""

    def __init__(self, ttl_s: float = TTL_S, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._kept: dict[Key, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(code: str, win: Window) -> Key:
        if win.preset == "custom":
            return (code, win.start.isoformat(), win.end.isoformat())
        return (code, win.preset, "")

    def get(self, key: Key) -> dict[str, Any] | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or self._clock() - kept[0] > self.ttl_s:
                self._kept.pop(key, None)
                return None
            return kept[1]

    def put(self, key: Key, figures: dict[str, Any]) -> None:
        with self._lock:
            if len(self._kept) >= MAX_ENTRIES:  # the oldest go first
                for old in sorted(self._kept, key=lambda k: self._kept[k][0])[: MAX_ENTRIES // 4]:
                    del self._kept[old]
            self._kept[key] = (self._clock(), figures)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


CACHE = FiguresCache()


def figures_for(db: psycopg.Connection[Any], code: str, win: Window, *,
                cache: FiguresCache = CACHE) -> tuple[dict[str, Any] | None, str | None]:
    """The figures JSON of ``code`` for ``win``, or None and why it is not there: the
    computation missing from this installation, a database schema older than it needs, or a
    window it refuses (its own message, Chinese and English)."""
    key = cache.key(code, win)
    kept = cache.get(key)
    if kept is not None:
        return kept, None
    try:
        with plain_rows(db) as conn:
            figures = source.figures_from_database(conn, code, win.start, win.end)
    except (source.FiguresUnavailable, EvidenceError, SchemaTooOld) as err:
        return None, str(err)
    cache.put(key, figures)
    return figures, None


CHARTS: dict[str, tuple[Callable[[dict[str, Any]], str], str]] = {
    "timeline": (charts.state_timeline, "状态时间线 State timeline"),
    "completeness": (charts.completeness_grid, "数据完整性网格 Completeness grid"),
    "latency": (charts.latency_distribution, "时延分布 Latency distribution"),
    "gaps": (charts.gap_causes, "缺口原因 Gap causes"),
}


def chart_set(figures: dict[str, Any]) -> dict[str, Markup]:
    """The report's four charts, drawn by the report's functions (our own SVG, escaped there).
    A chart that cannot be drawn from these figures is a note in its place, not a broken page."""
    out: dict[str, Markup] = {}
    for name, (draw, title) in CHARTS.items():
        try:
            out[name] = Markup(draw(figures))
        except Exception as err:  # a chart's bug must not hide the figures beside it
            log.exception("web: chart %s failed", name)
            out[name] = Markup('<p class="note chart-failed">{} 无法绘制 could not be drawn: {}</p>').format(
                title, f"{type(err).__name__}: {err}")
    return out
