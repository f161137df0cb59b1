"""The evidence on the pages: the figures for a window (a partial the enterprise page loads after
itself; the figures kept by web/figures.py and kept fresh by web/warm.py), a device's gaps, the
enterprise's packages with their downloads, and "build a package for this window" for admins
(a background job whose progress the packages section polls).

Nothing is computed here. The figures come from the one computation (``web/figures.py``: the
JSON the API returns for the same window), the charts from ``cloud_ingest.charts``, the packages
from ``cloud_ingest.attest``.
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from cloud_ingest.attest import store
from cloud_ingest.attest.keys import SigningKeyError, load_signer
from cloud_ingest.web import csrf
from cloud_ingest.web.builds import Builds, Job
from cloud_ingest.web.deps import Admin, Db, Viewer, enterprise_row, not_found, warmer, web_state
from cloud_ingest.web.figures import chart_set, figures_for
from cloud_ingest.web.render import page
from cloud_ingest.web.windows import WindowError, parse

router = APIRouter()
BUILD_POLL_S = 1


def builds(request: Request) -> Builds:
    jobs: Builds = request.app.state.builds
    return jobs


@router.get("/enterprises/{code}/evidence")
def evidence_partial(request: Request, code: str, who: Viewer, db: Db, window: str | None = None,
                     start: str | None = None, end: str | None = None) -> Response:
    ent = enterprise_row(db, who, code)
    try:
        win = parse(window, start, end)
    except WindowError as err:
        return page(request, "partials/error.html", status=400, title="时间窗口有误 Bad window",
                    detail=str(err))
    warmer(request).watch(ent["code"], win)
    figures, missing = figures_for(db, ent["code"], win)
    return page(request, "partials/evidence_figures.html", ent=ent, win=win, figures=figures, missing=missing,
                charts=chart_set(figures) if figures else {})


@router.get("/enterprises/{code}/devices/{device}/gaps")
def device_gaps(request: Request, code: str, device: str, who: Viewer, db: Db, window: str | None = None,
                start: str | None = None, end: str | None = None) -> Response:
    ent = enterprise_row(db, who, code)
    try:
        win = parse(window, start, end)
    except WindowError as err:
        return page(request, "partials/error.html", status=400, title="时间窗口有误 Bad window",
                    detail=str(err))
    warmer(request).watch(ent["code"], win)
    figures, missing = figures_for(db, ent["code"], win)
    row = next((d for d in (figures or {}).get("devices") or [] if d.get("device") == device), None)
    if figures is not None and row is None:
        raise not_found(f"设备 {device} 不在此窗口的指标中 device {device} is not in this window's figures")
    return page(request, "partials/device_gaps.html", gaps=row["gaps"] if row else None, missing=missing)


def packages_of(db: psycopg.Connection[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    """The enterprise's packages, oldest first (the chain's order)."""
    ent = store.enterprise(db, code)
    return store.packages(db, ent) if ent else []


@router.get("/enterprises/{code}/packages/{sequence}.zip")
def download(code: str, sequence: int, who: Viewer, db: Db) -> Response:
    ent = enterprise_row(db, who, code)
    stored = store.enterprise(db, ent["code"])
    data = store.archive(db, stored, sequence) if stored else None
    if data is None:
        raise not_found(f"企业 {code} 没有第 {sequence} 号证据包 "
                        f"enterprise {code} has no package {sequence}")
    name = f"{ent['code']}-{sequence:04d}.zip"
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@router.post("/enterprises/{code}/packages")
def build(request: Request, code: str, who: Admin, db: Db, csrf_token: Annotated[str, Form()] = "",
          window: Annotated[str, Form()] = "", start: Annotated[str, Form()] = "",
          end: Annotated[str, Form()] = "") -> Response:
    """Start building, signing and logging a package for the window shown; back to the page,
    whose packages section follows the build."""
    ent = enterprise_row(db, who, code)
    web = web_state(request)
    try:
        csrf.check(request, web.keys.csrf, csrf_token)
        win = parse(window or None, start or None, end or None)
    except csrf.CsrfRejected as err:
        return page(request, "error.html", status=403, title="表单已失效 Form expired",
                    detail=f"证据包未生成。 No package was built: {err.why}.")
    except WindowError as err:
        return page(request, "error.html", status=400, title="时间窗口有误 Bad window", detail=str(err))
    try:  # a missing key is the operator's to fix: say so now, not after a background wait
        load_signer(web.signing_key_file)
    except SigningKeyError as err:
        return page(request, "error.html", status=503, title="证据包未生成 No package was built",
                    detail=str(err))
    pool = web.pool()
    job = builds(request).start(enterprise=ent["code"], win=win, by=who.name, key_file=web.signing_key_file,
                                log_name=web.log_name, connect=lambda: pool.connection(timeout=30))
    return RedirectResponse(f"/enterprises/{ent['code']}?{job.win.query()}&build={job.id}#packages",
                            status_code=303)


def job_of(request: Request, code: str, job_id: str | None) -> Job | None:
    """The build job ``job_id`` of enterprise ``code`` (None when unknown or another's)."""
    job = builds(request).get(job_id) if job_id else None
    return job if job is not None and job.enterprise == code else None


@router.get("/enterprises/{code}/packages/builds/{job_id}")
def build_progress(request: Request, code: str, job_id: str, who: Admin, db: Db) -> Response:
    """The packages section while a build runs (polled) and once it is done or failed."""
    ent = enterprise_row(db, who, code)
    job = job_of(request, ent["code"], job_id)
    if job is None:
        raise not_found(f"没有这个生成任务 no such build {job_id} (builds are forgotten when the service "
                        "restarts; the packages list is the record)")
    return page(request, "partials/packages.html", ent=ent, win=job.win, job=job, poll_s=BUILD_POLL_S,
                packages=packages_of(db, ent["code"]))
