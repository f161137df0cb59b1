"""The evidence report: one self-contained HTML file (inline CSS and SVG, no script, nothing
fetched) and the PDF of the same page through WeasyPrint with an embedded CJK font, A4, page
numbers, tables that continue across pages with their header repeated.

    html = render_html(figures, cover)      # str
    pdf = render_pdf(html)                  # bytes
"""

from cloud_ingest.report.render import render, render_html, render_pdf

__all__ = ["render", "render_html", "render_pdf"]
