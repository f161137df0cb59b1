"""Jinja2 for the HTML, WeasyPrint for the PDF; both deterministic for the same figures (the
PDF's metadata dates are pinned to the package's creation time)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from cloud_ingest.report import view
from cloud_ingest.report.fonts import FontMissing, require_cjk_font

__all__ = ["FontMissing", "render", "render_html", "render_pdf"]


def _duration(seconds: Any) -> str:
    s = int(float(seconds or 0))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cloud_ingest.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=view.pct, ms=view.ms, yesno=view.yes_no, duration=_duration)
    return env


def _css() -> str:
    return (
        resources.files("cloud_ingest.report").joinpath("templates", "report.css").read_text(encoding="utf-8")
    )


def render_html(figures: dict[str, Any], cover: dict[str, Any]) -> str:
    return _env().get_template("report.html.j2").render(css=_css(), **view.context(figures, cover))


def render_pdf(html: str, *, created_at: str | None = None) -> bytes:
    """A4 PDF of ``html``; refuses to render without the CJK font (it would print boxes)."""
    import weasyprint

    require_cjk_font()
    doc = weasyprint.HTML(string=html).render()
    if created_at:
        when = datetime.fromisoformat(created_at.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc.metadata.created = doc.metadata.modified = when
    doc.metadata.generator = "shopfloor-gateway"
    pdf: bytes = doc.write_pdf(uncompressed_pdf=False)
    return pdf


def render(figures: dict[str, Any], cover: dict[str, Any]) -> tuple[bytes, bytes]:
    """(HTML bytes, PDF bytes): the package builder's ``render`` hook."""
    html = render_html(figures, cover)
    return html.encode("utf-8"), render_pdf(html, created_at=cover.get("created_at"))
