"""Keeping the figures the pages show computed ahead, on a thread of the serving process.

The city overview shows every enterprise's figures for today, and a person on an enterprise
page may switch between today, 7 and 30 days: computing those when the page is asked for would
make the city overview as slow as all its enterprises together, and the first look at a month
as slow as the month's computation. So the warmer, one thread per web app:

- keeps **today of every enterprise** computed (what the city overview shows by default), every
  ``UNWATCHED_TODAY_S`` while nobody looks, every ``REFRESH_S`` once the overview shows it;
- keeps **every window someone asked for** in the last ``WATCH_S`` seconds fresh, recomputing
  it ``REFRESH_S`` seconds after its last computation, before the cache calls it stale;
- is told of the **presets of an enterprise page** when it is opened, so switching to 7 or 30
  days finds them computed;
- does not compute a **closed window** again (a custom window that ended over ``CLOSED_AFTER``
  ago: closed days change only by late data) unless something it reads has arrived since
  (``queries/changes.py``); it then just calls the kept figures fresh again. After
  ``RECHECK_UP_TO`` without a computation it computes anyway.

It computes through the same cache door as the pages (``FiguresCache.once``), so a page asking
for a window the warmer is computing waits for that computation instead of starting another.
Windows are computed one at a time, each on a connection taken from the pool and given back
after it: the warmer never holds more than one of the pool's connections. It starts with the
first page that needs it and ends when the pool is closed (the service stopping) or ``stop()``
is called; each serving process warms its own cache (several workers compute the same figures
each; the database is read, never written, so they never disagree beyond the moment each
computed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed

from cloud_ingest.web.deps import DB_WAIT_S
from cloud_ingest.web.figures import CACHE, FiguresCache, compute_now
from cloud_ingest.web.queries.changes import changed_since
from cloud_ingest.web.windows import Window, parse

log = logging.getLogger(__name__)

REFRESH_S = 20.0
"""A watched window is computed again this long after its last computation (under the
cache's ``FRESH_S``, so a page in use is never shown stale figures)."""
UNWATCHED_TODAY_S = 120.0
"""Today of an enterprise nobody looked at lately is computed again this often (inside the
cache's ``KEEP_S``, so the city overview always finds every row kept): a city of a hundred
enterprises then costs the warmer about a tenth of a core, not half of one."""
WATCH_S = 600.0
"""A window nobody asked for in this long is no longer kept fresh (it stays in the cache until
it expires)."""
ROUND_S = 1.0
CLOSED_AFTER = timedelta(days=1)
RECHECK_UP_TO = timedelta(hours=1)
STORED_SLACK = timedelta(seconds=60)
"""A writer stamps ``stored_at`` just before its commit, which may become visible only after the
figures' snapshot: what was stored this long before they were computed counts as new too."""
ENTERPRISES_EVERY_S = 60.0
"""How often the list of enterprises (for today's city overview) is read again."""


class Warmer:
    def __init__(self, pool: Callable[[], ConnectionPool], *, cache: FiguresCache = CACHE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pool = pool
        self._cache = cache
        self._clock = clock
        self._watched: dict[tuple[str, str, str, str], float] = {}  # (code, preset, start, end) -> asked
        self._codes: list[str] = []
        self._codes_read = -ENTERPRISES_EVERY_S
        self._failed: dict[tuple[str, str, str], float] = {}  # cache key -> when it last failed
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, code: str, win: Window) -> None:
        """Keep ``code``'s figures for ``win`` fresh for the next ``WATCH_S`` seconds."""
        custom = win.preset == "custom"
        bounds = (win.start.isoformat(), win.end.isoformat()) if custom else ("", "")
        key = (code, win.preset, *bounds)
        with self._lock:
            new = key not in self._watched
            self._watched[key] = self._clock()
        self._start()
        if new:
            self._wake.set()

    def ensure_started(self) -> None:
        self._start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self) -> None:
        with self._lock:
            if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._loop, name="web-figures-warmer", daemon=True)
            self._thread.start()

    def due(self, codes: list[str]) -> list[tuple[str, Window]]:
        """What to compute this round: today of every enterprise in ``codes`` and every window
        watched lately, each whose kept figures are missing or older than ``REFRESH_S``."""
        now = self._clock()
        with self._lock:
            for key in [k for k, asked in self._watched.items() if now - asked > WATCH_S]:
                del self._watched[key]
            watched = list(self._watched)
        wanted: dict[tuple[str, str, str, str], tuple[str, Window, float]] = {}
        today = parse("today", None, None)
        for code in codes:  # nobody may be looking: the city's next visit finds them, unhurried
            wanted[(code, "today", "", "")] = (code, today, UNWATCHED_TODAY_S)
        for code, preset, start, end in watched:
            if preset == "custom":
                win = Window("custom", datetime.fromisoformat(start), datetime.fromisoformat(end))
            else:
                win = today if preset == "today" else parse(preset, None, None)
            wanted[(code, preset, start, end)] = (code, win, REFRESH_S)
        out = []
        for code, win, every in wanted.values():
            kept = self._cache.key(code, win)
            age = self._cache.age(kept)
            if age is None and now - self._failed.get(kept, -REFRESH_S) < REFRESH_S:
                continue  # not computable a moment ago: not again every round
            if age is None or age >= every:
                out.append((code, win))
        return out

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._round()
            except PoolClosed:
                return  # the service is stopping; a new pool starts a new warmer
            except psycopg.OperationalError as err:  # the database away: the pages say so
                log.warning("web: figures warmer: database unreachable: %s", str(err).strip()[:200])
                self._stop.wait(10)
            except Exception:
                log.exception("web: figures warmer round failed")
                self._stop.wait(10)
            self._wake.wait(ROUND_S)
            self._wake.clear()

    def _round(self) -> None:
        pool = self._pool()
        if pool.closed:
            raise PoolClosed("closed")
        if self._clock() - self._codes_read >= ENTERPRISES_EVERY_S:
            with pool.connection(timeout=DB_WAIT_S) as db:
                self._codes = [r["code"] if isinstance(r, dict) else r[0]
                               for r in db.execute("SELECT code FROM enterprises ORDER BY code")]
            self._codes_read = self._clock()
        for code, win in self.due(self._codes):
            if self._stop.is_set():
                return
            # a connection per window, given back in between: the pages share the pool
            with pool.connection(timeout=DB_WAIT_S) as db:
                if not self._unchanged(db, code, win):
                    self._compute(db, code, win)

    def _unchanged(self, db: Any, code: str, win: Window) -> bool:
        """A closed window whose kept figures nothing new would change: kept fresh as they are."""
        key = self._cache.key(code, win)
        kept = self._cache.lookup(key)[0]
        now = datetime.now(UTC)
        if kept is None or win.preset != "custom" or win.end > now - CLOSED_AFTER:
            return False
        try:
            computed = datetime.fromisoformat(str(kept["generated_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return False
        if now - computed > RECHECK_UP_TO:
            return False
        if changed_since(db, code, since=computed - STORED_SLACK, window_end=win.end):
            return False
        return self._cache.touch(key)

    def _compute(self, db: psycopg.Connection[Any], code: str, win: Window) -> None:
        key = self._cache.key(code, win)
        _, missing = self._cache.once(key, lambda: compute_now(db, code, win))
        if missing is None:
            self._failed.pop(key, None)
        else:
            self._failed[key] = self._clock()
            log.debug("web: figures of %s for %s not computable: %s", code, win.preset, missing)


