"""The live table while the city runs: per enterprise, its gateway, devices delivering against the
inventory, samples per second, the buffer backlog and the fault under way.

Figures come from where an operator would look: each agent's own ``/metrics`` endpoint and the
cloud database. On a terminal the table redraws in place (rich); otherwise one plain line per
enterprise every refresh, so a CI log stays readable.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass

import psycopg
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from demo.faults import active
from demo.stack import Site


@dataclass(frozen=True, kw_only=True)
class Row:
    name: str
    online: bool | None
    delivering: int
    inventory: int
    samples_per_s: float
    backlog: int | None
    fault: str


def _metrics(port: int) -> dict[str, float]:
    """The agent's gauges and counters without labels (name -> value); {} if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.labels:
                out[sample.name] = float(sample.value)
    return out


class Progress:
    def __init__(self, *, dsn: str, sites: list[Site], console: Console) -> None:
        self.dsn = dsn
        self.sites = sites
        self.console = console
        self._last: dict[str, tuple[float, float]] = {}  # enterprise -> (time, published samples)

    def _delivering(self) -> dict[str, int]:
        """Devices per enterprise with a good sample stored in the last 15 s (source time)."""
        try:
            with psycopg.connect(self.dsn, connect_timeout=3) as conn:
                rows = conn.execute(
                    "SELECT e.code, count(DISTINCT d.id) FROM samples s JOIN tags t ON t.id = s.tag_id"
                    " JOIN devices d ON d.id = t.device_id JOIN enterprises e ON e.id = d.enterprise_id"
                    " WHERE s.ts > now() - interval '15 seconds' AND s.quality = 0 GROUP BY 1").fetchall()
        except psycopg.Error:
            return {}
        return {str(code): int(n) for code, n in rows}

    def rows(self, progress: float) -> list[Row]:
        delivering = self._delivering()
        out = []
        now = time.monotonic()
        for site in self.sites:
            ent = site.enterprise
            m = _metrics(site.metrics_port)
            published = m.get("edge_published_samples_total", m.get("edge_published_samples"))
            rate = 0.0
            if published is not None:
                t0, p0 = self._last.get(ent.id, (now, published))
                rate = (published - p0) / (now - t0) if now > t0 else 0.0
                self._last[ent.id] = (now, published)
            online = None if not m else m.get("edge_broker_connected", 0) == 1
            backlog = m.get("edge_buffer_backlog_samples")
            out.append(Row(name=f"{ent.name} ({ent.industry_zh})", online=online,
                           delivering=delivering.get(ent.id, 0), inventory=ent.inventory_size,
                           samples_per_s=rate, backlog=None if backlog is None else int(backlog),
                           fault=active(ent.id, progress)))
        return out

    def table(self, progress: float, *, elapsed_s: float, total_s: float) -> Table:
        table = Table(title=f"示范城市 Sample city — {elapsed_s:.0f}/{total_s:.0f} s", expand=False)
        for col in ("企业 Enterprise", "网关 Gateway", "设备在线/台账 Delivering/inventory",
                    "样本/秒 Samples/s", "缓存积压 Backlog", "当前故障 Fault"):
            table.add_column(col)
        for r in self.rows(progress):
            gw = "—" if r.online is None else ("在线 online" if r.online else "离线 offline")
            table.add_row(r.name, gw, f"{r.delivering}/{r.inventory}", f"{r.samples_per_s:.0f}",
                          "—" if r.backlog is None else str(r.backlog), r.fault or "—")
        return table

    def lines(self, progress: float, *, elapsed_s: float) -> list[str]:
        out = []
        for r in self.rows(progress):
            gw = "?" if r.online is None else ("online" if r.online else "OFFLINE")
            out.append(f"[{elapsed_s:5.0f}s] {r.name}: gateway {gw}, devices {r.delivering}/{r.inventory}, "
                       f"{r.samples_per_s:.0f} samples/s, backlog {r.backlog}, {r.fault or 'no fault'}")
        return out
