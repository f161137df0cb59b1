"""Charts of the evidence figures as deterministic SVG text: pure functions from the figures
JSON (docs/evidence.md) to a string, the same bytes for the same figures, so the report (HTML and
PDF) and the dashboard show one drawing and golden files can pin it down. No script, no fonts
fetched: text uses the reader's CJK font (the PDF embeds one).

The visual grammar is the one operators already read: Grafana's state timeline and status
history (one row per device, colour per state), a status grid, stacked bars of gap causes, and a
latency histogram with its percentiles marked.
"""

from cloud_ingest.charts.completeness import completeness_grid
from cloud_ingest.charts.gaps import gap_causes
from cloud_ingest.charts.latency import latency_distribution
from cloud_ingest.charts.timeline import state_timeline

__all__ = ["completeness_grid", "gap_causes", "latency_distribution", "state_timeline"]
