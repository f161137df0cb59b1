"""Runs the API with uvicorn in a thread of the ``serve`` process, stoppable from the main thread."""

from __future__ import annotations

import errno
import socket
import threading

import uvicorn

from cloud_ingest.api.app import create_app
from cloud_ingest.config import CloudConfig
from cloud_ingest.ingestor import StatsView


class ApiPortUnavailable(Exception):
    """The API's address cannot be listened on; the message says why and what to do."""


def bind(host: str, port: int) -> socket.socket:
    """The API's socket, bound here so that a port in use stops ``serve`` at start with a clear
    message, instead of a service running without its API."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))  # bound only: uvicorn listens when it serves, so an open port
        return sock              # still means the API answers
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ApiPortUnavailable(
                f"API 端口已被占用 port {port} on {host} is in use by another program: 换一个端口 "
                f"choose another api.port in the config, or stop that program (`ss -ltnp 'sport = :{port}'` "
                "shows which)") from err
        raise ApiPortUnavailable(f"API 无法监听 cannot listen on {host}:{port}: {err.strerror or err}; "
                                 "检查 check api.host in the config") from err


class ApiServer:
    def __init__(self, cfg: CloudConfig, *, stats: StatsView | None = None) -> None:
        self.sock = bind(cfg.api.host, cfg.api.port)
        app = create_app(cfg, stats=stats)
        config = uvicorn.Config(app, host=cfg.api.host, port=cfg.api.port, log_level="warning",
                                lifespan="on", server_header=False,
                                # asyncio's own loop, as before uvloop came with the edge agent:
                                # uvicorn's "auto" would take it and set it process-wide
                                loop="asyncio",
                                # the client address (rate limits) and https (HSTS) from these only
                                proxy_headers=bool(cfg.api.trusted_proxies),
                                forwarded_allow_ips=cfg.api.trusted_proxies or None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, name="api",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
