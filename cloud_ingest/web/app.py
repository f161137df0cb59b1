"""The dashboard as a sub-application mounted on the API's app: same process, same port.

``mount(app)`` is the one line ``cloud_ingest/api/app.py`` calls. The pages reuse the API's
connection pool, its token lookup and its limit on failed authentications, get its security
headers, and answer every failure a person meets with a page:
a sign-in redirect (or ``HX-Redirect`` for a partial), the database-down page (or, for the live
grid, a notice swapped into the grid while the grid keeps its last state), a 404 page. Paths
under ``/api/`` that no API route took keep the API's JSON 404.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from cloud_ingest.config import CloudConfig
from cloud_ingest.web import session
from cloud_ingest.web.builds import Builds
from cloud_ingest.web.deps import DatabaseDown, SignInNeeded, TokenLookup, WebState
from cloud_ingest.web.render import is_https, page
from cloud_ingest.web.views import city, dead_letters, device, enterprise, evidence, gateway, signin
from cloud_ingest.web.warm import Warmer

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
HTMX = "htmx-2.0.11.min.js"
VIEWS = (signin, city, enterprise, device, gateway, dead_letters, evidence)

def _is_partial(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _signin_needed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if _is_partial(request):  # the page that polls moves to sign-in, coming back afterwards
        target = request.headers.get("hx-current-url") or target
    url = f"/signin?next={quote(target, safe='')}" + (f"&why={exc.why}" if exc.why else "")
    response: Response
    if _is_partial(request):
        response = Response(status_code=401, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if exc.why is not None:
        response.delete_cookie(session.COOKIE, path="/", httponly=True, samesite="strict",
                               secure=is_https(request))
    return response


def _database_down(request: Request, exc: Exception) -> Response:
    log.warning("web: database unreachable for %s: %s", request.url.path, exc)
    if _is_partial(request):
        return page(request, "partials/db_down.html", status=503,
                    headers={"HX-Retarget": "#live-alert", "HX-Reswap": "innerHTML"})
    return page(request, "db_down.html", status=503, headers={"Retry-After": "10"})


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    titles = {404: "页面不存在 Not found", 403: "无权访问 Forbidden", 405: "不支持的请求 Method not allowed"}
    detail = exc.detail if exc.status_code != 404 or exc.detail != "Not Found" else \
        f"没有这个页面 There is no page at {request.url.path}"
    template = "partials/error.html" if _is_partial(request) else "error.html"
    title = titles.get(exc.status_code, str(exc.status_code))
    return page(request, template, status=exc.status_code, title=title, detail=detail)


def _bad_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
                       for e in exc.errors())
    return page(request, "error.html", status=400, title="请求参数有误 Bad request", detail=fields)


def _crashed(request: Request, exc: Exception) -> Response:
    log.exception("web: %s failed", request.url.path, exc_info=exc)
    return page(request, "error.html", status=500, title="服务内部错误 Internal error",
                detail="页面生成失败，已记录日志。 The page failed; the service logged why.")


def create_web_app(state: WebState) -> FastAPI:
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    web.state.web = state
    web.state.builds = Builds()
    web.state.warmer = Warmer(state.pool)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    for view in VIEWS:
        web.include_router(view.router)
    web.add_exception_handler(SignInNeeded, _signin_needed)
    web.add_exception_handler(DatabaseDown, _database_down)
    web.add_exception_handler(StarletteHTTPException, _http_error)
    web.add_exception_handler(RequestValidationError, _bad_input)
    web.add_exception_handler(Exception, _crashed)

    # the security headers (CSP with script-src 'self', no framing, no sniffing) are the API's
    # (cloud_ingest/api/headers.py), set on every response of the app this one is mounted in
    return web


def mount(app: FastAPI, cfg: CloudConfig, *, lookup: TokenLookup | None = None) -> None:
    """Serve the dashboard from ``app`` (the API's), behind every route the API defines."""
    state = WebState(
        keys=session.load_keys(),
        lookup=lookup or (lambda token: app.state.tokens.find(token)),
        pool=lambda: app.state.pool,
        signing_key_file=cfg.signing.key_path(),
        log_name=cfg.signing.log_name,
        limiter=lambda: getattr(app.state, "auth_limiter", None),
    )
    app.mount("/", create_web_app(state), name="web")
