"""Evidence packages built for the pages in the background.

A build (figures, report PDF, signature, log entry) takes seconds to a minute, longer than a
person should stare at a form submission, so the admin's "build a package for this window"
starts a job on a thread of its own and the packages section polls it (an htmx partial) until
it is done or failed. The build is ``cloud_ingest.attest.build.build_package``, exactly as
``cloud-ingest evidence build`` runs it, on a connection of the service's pool.

Jobs live in the serving process only: after a restart the packages list (the database) is the
record. One build per enterprise at a time; asking again while one runs shows that one.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg

from cloud_ingest.attest import source
from cloud_ingest.attest.build import BuildError, BuildRequest, build_package
from cloud_ingest.attest.keys import SigningKeyError
from cloud_ingest.web.deps import plain_rows
from cloud_ingest.web.windows import Window

log = logging.getLogger(__name__)

KEEP_S = 3600.0
"""Finished jobs are forgotten after an hour (the package itself stays in the list)."""

JobState = Literal["running", "done", "failed"]
Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


@dataclass
class Job:
    id: str
    enterprise: str
    win: Window
    by: str
    started: float = field(default_factory=time.time)
    finished: float | None = None
    state: JobState = "running"
    sequence: int | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        return round((self.finished or time.time()) - self.started, 1)


def _explain(err: BaseException) -> str:
    """What the person reads when a build fails: our errors say what to do; anything else is
    named by its type, since it is a fault of the build (logged with its traceback)."""
    from cloud_ingest.report.fonts import FontMissing

    if isinstance(err, (BuildError, SigningKeyError, FontMissing, source.FiguresUnavailable)):
        return str(err)
    return (f"证据包生成程序出错 the package builder failed ({type(err).__name__}: {err}); "
            "服务日志中有详细信息 the service log has the details")


class Builds:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def running_for(self, enterprise: str) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs.values()
                         if j.enterprise == enterprise and j.state == "running"), None)

    def start(self, *, enterprise: str, win: Window, by: str, connect: Connect, key_file: Path,
              log_name: str) -> Job:
        """Start building (or return the build of this enterprise already running)."""
        with self._lock:
            self._forget_old()
            running = next((j for j in self._jobs.values()
                            if j.enterprise == enterprise and j.state == "running"), None)
            if running is not None:
                return running
            job = Job(id=secrets.token_urlsafe(12), enterprise=enterprise, win=win, by=by)
            self._jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(job, connect, key_file, log_name),
                                  name=f"web-build-{enterprise}", daemon=True)
        thread.start()
        return job

    def _run(self, job: Job, connect: Connect, key_file: Path, log_name: str) -> None:
        from cloud_ingest.report import render

        out = Path(tempfile.mkdtemp(prefix="sfg-web-package-")) / "package"
        req = BuildRequest(enterprise=job.enterprise, start=job.win.start, end=job.win.end, out=out,
                           key_file=key_file, log_name=log_name)
        try:
            with connect() as db, plain_rows(db) as conn:
                built = build_package(conn, req, figures_source=source.figures_from_database, render=render)
        except Exception as err:
            if not isinstance(err, (BuildError, SigningKeyError, source.FiguresUnavailable)):
                log.exception("web: building a package for %s failed", job.enterprise)
            job.error, job.state = _explain(err), "failed"
        else:
            job.sequence, job.state = built.sequence, "done"
            log.info("web: %s built package %s of %s", job.by, built.sequence, job.enterprise)
        finally:
            job.finished = time.time()
            shutil.rmtree(out.parent, ignore_errors=True)

    def _forget_old(self) -> None:
        now = time.time()
        for job_id in [j.id for j in self._jobs.values() if j.finished and now - j.finished > KEEP_S]:
            del self._jobs[job_id]
