"""The evidence figures as the pages get them: from the one computation, kept and kept fresh.

Every figure a page shows comes from ``cloud_ingest.attest.source.figures_from_database`` (the
door the packages use too, which calls ``cloud_ingest.evidence.compute_figures``): the JSON the
API's ``/api/v1/enterprises/{code}/evidence`` returns for the same window. The pages never
compute a figure of their own.

A month's figures take a few hundred milliseconds, and the enterprise page, its gaps partial and
the city overview ask for the same windows again and again, so the JSON is kept per
(enterprise, window). A preset window ("7d", "30d") is keyed by its name: its end moves with the
clock, and what is shown is the window the kept JSON names (``figures.window``, with the moment
it was computed), never a recomputed one; "today" is keyed by its start as well, so yesterday's
figures are never shown as today's. A custom window is keyed by its bounds.

Kept figures are *fresh* for ``FRESH_S`` seconds and then *stale* until ``KEEP_S``: a stale entry
is still served at once (it says when it was computed), and the background warmer (``warm.py``)
computes it again; the warmer refreshes the windows people look at before they go stale, so a
page waits for the computation only the first time anyone asks for a window. Two requests for
the same window while it is being computed share that one computation.
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

FRESH_S = 30.0
KEEP_S = 300.0
MAX_ENTRIES = 256

Key = tuple[str, str, str]
Result = tuple[dict[str, Any] | None, str | None]


class FiguresCache:
    """(enterprise, window) → (time kept, figures JSON); thread-safe, bounded. Fresh for
    ``ttl_s`` seconds, served stale (``lookup``) until ``keep_s``."""

    def __init__(self, ttl_s: float = FRESH_S, *, keep_s: float = KEEP_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.keep_s = max(keep_s, ttl_s)
        self._clock = clock
        self._kept: dict[Key, tuple[float, dict[str, Any]]] = {}
        self._running: dict[Key, threading.Event] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(code: str, win: Window) -> Key:
        if win.preset == "custom":
            return (code, win.start.isoformat(), win.end.isoformat())
        if win.preset == "today":  # a new day is a new window
            return (code, "today", win.start.isoformat())
        return (code, win.preset, "")

    def get(self, key: Key) -> dict[str, Any] | None:
        """The figures kept for ``key`` if fresh."""
        figures, age = self.lookup(key)
        return figures if figures is not None and age <= self.ttl_s else None

    def lookup(self, key: Key) -> tuple[dict[str, Any] | None, float]:
        """The figures kept for ``key`` (fresh or stale) and their age in seconds."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None, 0.0
            age = self._clock() - kept[0]
            if age > self.keep_s:
                del self._kept[key]
                return None, 0.0
            return kept[1], age

    def age(self, key: Key) -> float | None:
        """Seconds since ``key`` was computed (None: not kept)."""
        figures, age = self.lookup(key)
        return None if figures is None else age

    def put(self, key: Key, figures: dict[str, Any]) -> None:
        with self._lock:
            if len(self._kept) >= MAX_ENTRIES:  # the oldest go first
                for old in sorted(self._kept, key=lambda k: self._kept[k][0])[: MAX_ENTRIES // 4]:
                    del self._kept[old]
            self._kept[key] = (self._clock(), figures)

    def touch(self, key: Key) -> bool:
        """Call the figures kept for ``key`` fresh again (nothing they read has changed)."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return False
            self._kept[key] = (self._clock(), kept[1])
            return True

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def once(self, key: Key, compute: Callable[[], Result]) -> Result:
        """``compute`` for ``key`` unless another thread is computing it: then wait for that
        one and take what it kept (single flight; a page and the warmer never both compute)."""
        while True:
            with self._lock:
                running = self._running.get(key)
                if running is None:
                    mine = self._running[key] = threading.Event()
                    break
            running.wait(60)
            kept = self.get(key)
            if kept is not None:
                return kept, None
        try:
            result = compute()
            if result[0] is not None:
                self.put(key, result[0])
            return result
        finally:
            with self._lock:
                del self._running[key]
            mine.set()


CACHE = FiguresCache()


def compute_now(db: psycopg.Connection[Any], code: str, win: Window) -> Result:
    """The figures JSON of ``code`` for ``win`` from the one computation, or None and why it
    is not there: the computation missing from this installation, a database schema older than
    it needs, or a window it refuses (its own message, Chinese and English)."""
    try:
        with plain_rows(db) as conn:
            return source.figures_from_database(conn, code, win.start, win.end), None
    except (source.FiguresUnavailable, EvidenceError, SchemaTooOld) as err:
        return None, str(err)


def figures_for(db: psycopg.Connection[Any], code: str, win: Window, *,
                cache: FiguresCache = CACHE) -> Result:
    """The figures JSON of ``code`` for ``win``: kept (fresh or stale), else computed now (see
    ``compute_now`` for the None case)."""
    key = cache.key(code, win)
    kept, _ = cache.lookup(key)
    if kept is not None:
        return kept, None
    return cache.once(key, lambda: compute_now(db, code, win))


def kept_figures(code: str, win: Window, *, cache: FiguresCache = CACHE) -> dict[str, Any] | None:
    """The figures kept for ``code`` and ``win`` (fresh or stale), never computing them."""
    return cache.lookup(cache.key(code, win))[0]


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
