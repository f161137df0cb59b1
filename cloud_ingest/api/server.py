"""Runs the API with uvicorn in a thread of the ``serve`` process, stoppable from the main thread."""

from __future__ import annotations

import threading

import uvicorn

from cloud_ingest.api.app import create_app
from cloud_ingest.config import CloudConfig
from cloud_ingest.ingestor import StatsView


class ApiServer:
    def __init__(self, cfg: CloudConfig, *, stats: StatsView | None = None) -> None:
        app = create_app(cfg, stats=stats)
        config = uvicorn.Config(app, host=cfg.api.host, port=cfg.api.port, log_level="warning",
                                lifespan="on", server_header=False,
                                # the client address (rate limits) and https (HSTS) from these only
                                proxy_headers=bool(cfg.api.trusted_proxies),
                                forwarded_allow_ips=cfg.api.trusted_proxies or None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
