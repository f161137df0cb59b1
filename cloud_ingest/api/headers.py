"""Security headers on every response of the API (and of any page served beside it), and CORS
only for the origins named in ``api.cors_allow_origins`` (none by default: browsers then keep
other sites' scripts from reading our answers).

The headers are our policy, not a library's: a strict Content-Security-Policy (only our own
scripts, no frames, no plugins, forms only to us), no content sniffing, no referrer, no framing
(``frame-ancestors`` and ``X-Frame-Options`` for older browsers), no caching of answers that
carry enterprise data, HSTS when the request came over HTTPS. FastAPI's /docs page loads Swagger
UI from its CDN with an inline script, so it alone gets a policy that allows those. A route that
sets its own Content-Security-Policy keeps it.

The middleware is the outermost layer, so errors get the headers too: an exception that escapes
the app is logged here and answered with a plain 500 that shows nothing of it.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "img-src 'self' data: https://fastapi.tiangolo.com; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), usb=(), serial=()"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_INTERNAL_ERROR = b'{"detail":"internal server error"}'


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = (DOCS_CSP if path in DOCS_PATHS else CSP).encode()
        https = scope.get("scheme") == "https"
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [h for h in HEADERS if h[0] not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", csp))
                if b"cache-control" not in present and path.startswith("/api/"):
                    extra.append((b"cache-control", b"no-store"))
                if https:
                    extra.append(HSTS)
                message = {**message, "headers": headers + extra}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            log.exception("unhandled error answering %s %s", scope.get("method"), path)
            if started:
                raise
            await with_headers({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(_INTERNAL_ERROR)).encode())]})
            await send({"type": "http.response.body", "body": _INTERNAL_ERROR})


def install(app: FastAPI, *, cors_allow_origins: list[str]) -> None:
    """CORS (only when origins are configured) inside, the headers outermost."""
    if cors_allow_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=cors_allow_origins, allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"], max_age=600,
        )
    app.add_middleware(SecurityHeaders)
