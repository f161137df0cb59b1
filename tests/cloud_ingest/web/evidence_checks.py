"""Holding an evidence partial against the figures JSON: every value the page shows (text, and
raw in ``data-value``) must be the one the JSON has. Used by the page tests (parsed HTML) and
the browser test (the DOM Chromium built), so both check the same things."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloud_ingest.web.render import num, pct

# data-figure name -> how the page writes the JSON value
FIGURES: dict[str, Callable[[Any], str]] = {
    "networking_rate": pct, "digitalization_rate": pct, "key_process_rate": pct,
    "inventory.delivering_devices": str, "inventory.production_devices": str,
    "inventory.key_process_complete": str, "inventory.key_process_devices": str,
    "business_links.covered": str, "business_links.total": str, "business_links.declared": str,
    "latency_ms.p50": num, "latency_ms.p95": num, "latency_ms.p99": num, "latency_ms.max": num,
    "latency_ms.samples": num, "rollups.enterprise.completeness": pct,
    "rollups.enterprise.online_ratio": pct, "rejected.messages": str,
}
REC_FIELDS = ("read", "published", "stored", "rejected", "unexplained", "read_errors", "skipped_polls",
              "dropped")


def at(doc: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        doc = doc[part]
    return doc


def yes_no(v: bool | None) -> str:
    return "—" if v is None else ("是 yes" if v else "否 no")


def mismatches(shown: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    """What differs between the page (``shown``, as ``collect`` returns it) and the JSON."""
    out: list[str] = []

    def same(what: str, cell: tuple[str, str], want: Any, want_text: str) -> None:
        """``cell`` is what the page shows: (its ``data-value``, its text)."""
        value, text = cell
        if json.loads(value) != want:
            out.append(f"{what}: data-value {value} != JSON {want!r}")
        if " ".join(text.split()) != want_text:
            out.append(f"{what}: shown {text!r} != {want_text!r}")

    for name, fmt in FIGURES.items():
        if name not in shown["figures"]:
            out.append(f"{name}: not on the page")
            continue
        same(name, shown["figures"][name], at(figures, name), fmt(at(figures, name)))
    band = figures.get("networking_band")
    if band is not None:
        same("networking_band", shown["figures"]["networking_band"], band,
             f"{band['range']} · {band['points']} / {band['max_points']} 分 points")
    rec = {(r["gateway"], None): r for r in figures["reconciliation"]}
    rec |= {(r["gateway"], d["device"]): d for r in figures["reconciliation"] for d in r["devices"]}
    if set(shown["reconciliation"]) != set(rec):
        out.append(f"reconciliation rows {sorted(shown['reconciliation'], key=str)} != "
                   f"{sorted(rec, key=str)}")
    for key, row in rec.items():
        for f in REC_FIELDS:
            cell = shown["reconciliation"].get(key, {}).get(f, ("null", ""))
            want_text = ", ".join(f"{k} {num(v)}" for k, v in sorted(row[f].items())) or "0" \
                if f == "dropped" else num(row[f])
            same(f"reconciliation {key} {f}", cell, row[f], want_text)
    devices = {d["device"]: d for d in figures["devices"]}
    if set(shown["devices"]) != set(devices):
        out.append(f"inventory rows {sorted(shown['devices'])} != {sorted(devices)}")
    for code, d in devices.items():
        cells = shown["devices"].get(code, {})
        for f in ("in_inventory", "production", "networked_declared", "key_process", "delivering"):
            same(f"device {code} {f}", cells.get(f, ("null", "")), d[f], yes_no(d[f]))
        for f in ("completeness", "online_ratio"):
            same(f"device {code} {f}", cells.get(f, ("null", "")), d[f], pct(d[f]))
        same(f"device {code} gaps", cells.get("gaps", ("null", "")), len(d["gaps"]), str(len(d["gaps"])))
    links = {link["key"]: link for link in figures["business_links"]["links"]}
    if set(shown["links"]) != set(links):
        out.append(f"business links {sorted(shown['links'])} != {sorted(links)}")
    for key, link in links.items():
        cells = shown["links"].get(key, {})
        for f in ("collected", "declared"):
            same(f"link {key} {f}", cells.get(f, ("null", "")), link[f], yes_no(link[f]))
        same(f"link {key} tags", cells.get("tags", ("null", "")), link["tags"], str(link["tags"]))
    return out


def collect_soup(part: Any) -> dict[str, Any]:
    """``collect`` over BeautifulSoup."""
    def pair(el: Any) -> tuple[str, str]:
        return str(el.get("data-value")), el.get_text()

    def cells(tr: Any) -> dict[str, tuple[str, str]]:
        return {td["data-field"]: pair(td) for td in tr.select("td[data-field]")}

    return {
        "figures": {el["data-figure"]: pair(el) for el in part.select("[data-figure][data-value]")},
        "reconciliation": {(tr["data-gateway"], tr.get("data-device")): cells(tr)
                           for tr in part.select("#reconciliation tr[data-gateway]")},
        "devices": {tr["data-device"]: cells(tr) for tr in part.select("#inventory tr[data-device]")},
        "links": {tr["data-link"]: cells(tr) for tr in part.select("#business-links tr[data-link]")},
    }


COLLECT_JS = """() => {
  const all = sel => [...document.querySelectorAll(sel)];
  const pair = e => [e.dataset.value, e.innerText];
  const cells = tr => Object.fromEntries(
    [...tr.querySelectorAll('td[data-field]')].map(td => [td.dataset.field, pair(td)]));
  const rows = (sel, key) => Object.fromEntries(all(sel).map(tr => [tr.dataset[key], cells(tr)]));
  return {
    figures: Object.fromEntries(
      all('#evidence-figures [data-figure][data-value]').map(e => [e.dataset.figure, pair(e)])),
    reconciliation: all('#reconciliation tr[data-gateway]').map(
      tr => [tr.dataset.gateway, tr.dataset.device || null, cells(tr)]),
    devices: rows('#inventory tr[data-device]', 'device'),
    links: rows('#business-links tr[data-link]', 'link'),
  };
}"""


def collect_dom(page: Any) -> dict[str, Any]:
    """``collect`` over the browser's DOM (text as the browser renders it)."""
    raw = page.evaluate(COLLECT_JS)
    raw["reconciliation"] = {(g, d): c for g, d, c in raw["reconciliation"]}
    return dict(raw)
