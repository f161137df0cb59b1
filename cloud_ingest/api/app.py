"""The FastAPI application: versioned under /api/v1, OpenAPI at /docs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from cloud_ingest.config import CloudConfig
from cloud_ingest.ingestor import StatsView


def create_app(cfg: CloudConfig, *, stats: StatsView | None = None) -> FastAPI:
    app = FastAPI(title="Shopfloor cloud ingest", version="1", docs_url="/docs")

    @app.get("/api/v1/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "ingest": vars(stats.total()) if stats else None}

    return app
