"""The evidence on the pages: the figures for a window (a partial the enterprise page loads after
itself, since a month's figures take seconds), a device's gaps, the enterprise's packages with
their downloads, and "build a package for this window" for admins.

Nothing is computed here. The figures come from the one computation through
``cloud_ingest.attest.source.figures_from_database`` (the report and the packages call the same),
the charts from ``cloud_ingest.charts``, the packages from ``cloud_ingest.attest``; while the
figures computation is not part of the build, the partials say so and show no figure.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Form, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from cloud_ingest import charts
from cloud_ingest.attest import source, store
from cloud_ingest.attest.build import BuildError, BuildRequest, build_package
from cloud_ingest.attest.keys import SigningKeyError
from cloud_ingest.web import csrf
from cloud_ingest.web.deps import Admin, Db, Viewer, enterprise_row, not_found, plain_rows, web_state
from cloud_ingest.web.render import page
from cloud_ingest.web.windows import Window, WindowError, parse

router = APIRouter()


def figures_for(db: Db, code: str, win: Window) -> tuple[dict[str, Any] | None, str | None]:
    """The figures JSON, or None and why it is not there (the computation missing)."""
    try:
        with plain_rows(db) as conn:
            return source.figures_from_database(conn, code, win.start, win.end), None
    except source.FiguresUnavailable as err:
        return None, str(err)


def chart_set(figures: dict[str, Any]) -> dict[str, Markup]:
    """The report's four charts, drawn by the report's functions (our own SVG, escaped there)."""
    return {
        "timeline": Markup(charts.state_timeline(figures)),
        "completeness": Markup(charts.completeness_grid(figures)),
        "latency": Markup(charts.latency_distribution(figures)),
        "gaps": Markup(charts.gap_causes(figures)),
    }


@router.get("/enterprises/{code}/evidence")
def evidence_partial(request: Request, code: str, who: Viewer, db: Db, window: str | None = None,
                     start: str | None = None, end: str | None = None) -> Response:
    ent = enterprise_row(db, who, code)
    try:
        win = parse(window, start, end)
    except WindowError as err:
        return page(request, "partials/error.html", status=400, title="时间窗口有误 Bad window",
                    detail=str(err))
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
    """Build, sign and log a package for the window shown; then back to the packages list."""
    ent = enterprise_row(db, who, code)
    web = web_state(request)
    back = f"/enterprises/{ent['code']}"
    try:
        csrf.check(request, web.keys.csrf, csrf_token)
        win = parse(window or None, start or None, end or None)
    except csrf.CsrfRejected as err:
        return page(request, "error.html", status=403, title="表单已失效 Form expired",
                    detail=f"证据包未生成。 No package was built: {err.why}.")
    except WindowError as err:
        return page(request, "error.html", status=400, title="时间窗口有误 Bad window", detail=str(err))
    from cloud_ingest.report import render
    from cloud_ingest.report.fonts import FontMissing

    out = Path(tempfile.mkdtemp(prefix="sfg-web-package-")) / "package"
    req = BuildRequest(enterprise=ent["code"], start=win.start, end=win.end, out=out,
                       key_file=web.signing_key_file, log_name=web.log_name)
    try:
        with plain_rows(db) as conn:
            built = build_package(conn, req, figures_source=source.figures_from_database, render=render)
    except (BuildError, SigningKeyError, FontMissing, source.FiguresUnavailable) as err:
        return page(request, "error.html", status=400 if isinstance(err, BuildError) else 503,
                    title="证据包未生成 No package was built", detail=str(err))
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    return RedirectResponse(f"{back}?{win.query()}&built={built.sequence}#packages", status_code=303)
