"""Rendering: one Jinja2 environment, the filters pages share, and the response every page gets.

Times are shown in one display zone (China Standard Time unless ``SFG_WEB_TIMEZONE`` names
another IANA zone) with the zone written beside them, so a reviewer never guesses whether a
time is UTC. Every page is ``Cache-Control: no-store``: what it shows depends on who signed in.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from cloud_ingest.web import csrf

TEMPLATES = Path(__file__).parent / "templates"
DISPLAY_TZ = ZoneInfo(os.environ.get("SFG_WEB_TIMEZONE") or "Asia/Shanghai")


def zone_label(dt: datetime | None = None) -> str:
    offset = (dt or datetime.now(UTC)).astimezone(DISPLAY_TZ).utcoffset() or timedelta(0)
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    return f"UTC{hours:+d}" + (f":{rest // 60:02d}" if rest else "")


def local(dt: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time in the display zone; ``dt`` may be an ISO 8601 text as in the figures JSON."""
    if dt is None:
        return "—"
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt.replace("Z", "+00:00"))
    return dt.astimezone(DISPLAY_TZ).strftime(fmt)


def ago(dt: datetime | None, now: datetime | None = None) -> str:
    """'12 秒前 12 s ago', in the largest unit that fits."""
    if dt is None:
        return "从未 never"
    secs = int(((now or datetime.now(UTC)) - dt).total_seconds())
    if secs < 0:
        return f"{-secs} 秒后 in {-secs} s"
    for unit_s, zh, en in ((86400, "天", "d"), (3600, "小时", "h"), (60, "分钟", "min")):
        if secs >= unit_s:
            n = secs // unit_s
            return f"{n} {zh}前 {n} {en} ago"
    return f"{secs} 秒前 {secs} s ago"


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def span(width: timedelta) -> str:
    """A bin width in words: '6 分钟 6 min', '3 小时 3 h'."""
    minutes = int(width.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} 天 {minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} 小时 {minutes // 60} h"
    return f"{minutes} 分钟 {minutes} min"


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(local=local, ago=ago, pct=pct, num=num, duration=duration, span=span)
    env.globals.update(zone_label=zone_label)
    return env


ENV = _env()


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def page(request: Request, template: str, *, status: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> HTMLResponse:
    """Render ``template`` for this request: the signed-in viewer (if any), the CSRF token of
    this browser (setting its cookie the first time) and ``context``."""
    key: bytes = request.app.state.web.keys.csrf
    token, fresh = csrf.token_for(request, key)
    context.setdefault("viewer", getattr(request.state, "viewer", None))
    html = ENV.get_template(template).render(
        request=request, csrf_field=csrf.FIELD, csrf_token=token, now=datetime.now(UTC), **context)
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    if fresh is not None:
        csrf.set_cookie(response, fresh, secure=is_https(request))
    return response
