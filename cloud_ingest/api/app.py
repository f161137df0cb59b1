"""The FastAPI application: versioned under /api/v1, OpenAPI docs at /docs.

Everything but /api/v1/health needs a bearer token: the /api/v1 router depends on
``auth.enterprise_scope``, so a router added to it below is authenticated and scoped to the
token's enterprise without a line of its own. Every response carries the security headers of
``headers.py``; CORS is off unless ``api.cors_allow_origins`` names origins. The dashboard's
pages (``cloud_ingest/web``) are mounted on the same app, after the API's routes. The app owns a
small connection pool, opened and closed with the app's lifespan, separate from the writers'
connections so queries never queue behind ingest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from cloud_ingest.api import (
    admin_routes,
    evidence_routes,
    headers,
    inventory_routes,
    package_routes,
    registry_routes,
    series_routes,
    status_routes,
)
from cloud_ingest.api.auth import Credentials, TokenStore, enterprise_scope
from cloud_ingest.api.db import make_pool
from cloud_ingest.api.ratelimit import FailedAuthLimiter
from cloud_ingest.config import CloudConfig
from cloud_ingest.ingestor import StatsView
from cloud_ingest.web.app import mount as mount_web

API_PREFIX = "/api/v1"


def create_app(
    cfg: CloudConfig, *, stats: StatsView | None = None, tokens: TokenStore | None = None
) -> FastAPI:
    pool = make_pool(cfg.dsn(), timeout_s=cfg.database.connect_timeout_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="Shopfloor gateway cloud API", version="1", docs_url="/docs", lifespan=lifespan,
        description="Registry, series, latest values and status of what the gateways delivered.",
    )
    app.state.pool = pool
    app.state.stats = stats
    app.state.signing_key_file = cfg.signing.key_path()
    _secure(app, cfg, pool=pool, tokens=tokens)

    public = APIRouter(prefix=API_PREFIX)

    @public.get("/health", tags=["operations"])
    def health() -> dict[str, Any]:
        return {"ok": True}

    app.include_router(public)
    v1 = APIRouter(prefix=API_PREFIX, dependencies=[Depends(enterprise_scope)])

    for module in (registry_routes, series_routes, status_routes, admin_routes, package_routes,
                   evidence_routes, inventory_routes):
        v1.include_router(module.router)
    app.include_router(v1)
    mount_web(app, cfg)  # the dashboard: last, so every API route above is matched first
    return app


def _secure(app: FastAPI, cfg: CloudConfig, *, pool: Any, tokens: TokenStore | None) -> None:
    """Token sources, the failed-authentication limit, security headers and CORS."""
    app.state.tokens = Credentials(pool=pool, file=cfg.api.tokens_path(), static=tokens,
                                   cache_s=cfg.api.token_cache_s)
    app.state.auth_limiter = FailedAuthLimiter(max_failures=cfg.api.auth_failures_max,
                                               window_s=cfg.api.auth_failure_window_s)
    headers.install(app, cors_allow_origins=cfg.api.cors_allow_origins)
