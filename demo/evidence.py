"""The demo's end: everything the gateways read is stored, then each enterprise's evidence
package is built and verified with the product's own commands, and summed up on one screen.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from demo.city import Enterprise
from demo.services import ServiceError
from demo.stack import BIN, Site, Stack, parallel


def reviewer_token(stack: Stack) -> str:
    """A reviewer token for this demo only (shown once, kept only as a digest by the cloud)."""
    out = stack.cloud("tokens create", "--role", "reviewer", "--name", "demo-reviewer", "--expires", "7d",
                      "--quiet")
    if out.returncode != 0:
        raise ServiceError(f"cloud-ingest tokens create failed: {out.stderr.strip()}")
    return out.stdout.strip()


def ensure_signing_key(stack: Stack) -> None:
    """The evidence signing key, made once (`cloud-ingest keys init`) and kept between demos."""
    if (stack.var / "keys" / "signing.key").exists():
        return
    out = stack.cloud("keys init")
    if out.returncode != 0:
        raise ServiceError(f"cloud-ingest keys init failed: {out.stderr.strip()}")


TEMPLATE = Path(__file__).resolve().parent.parent / "examples" / "inventory-template.csv"


def _import_inventory(stack: Stack, ent: Enterprise) -> None:
    """The enterprise's equipment inventory (台账), networked devices and the others, as the CSV
    template in examples/ has it."""
    path = stack.var / "inventories" / f"{ent.id}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    yes = {True: "是", False: "否"}
    lines = [TEMPLATE.read_text(encoding="utf-8-sig").splitlines()[0]]
    for d in ent.devices:
        lines.append(f"{d.id},{d.name},{d.profile},{d.workshop},{d.line},{yes[d.key_process]},是,是,,是,")
    for u in ent.unnetworked:
        lines.append(f"{u.code},{u.name},{u.type},{u.workshop},{u.line},{yes[u.key_process]},否,"
                     f"{yes[u.digital]},,是,未联网 not networked")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = stack.cloud("inventory import", "--enterprise", ent.id, str(path))
    if out.returncode != 0:
        raise ServiceError(f"inventory import of {ent.id} failed: {out.stderr.strip() or out.stdout.strip()}")


def import_inventories(stack: Stack, city: Sequence[Enterprise]) -> None:
    """Every enterprise's inventory, one import per core at a time."""
    with ThreadPoolExecutor(max_workers=parallel(len(city))) as pool:
        list(pool.map(lambda ent: _import_inventory(stack, ent), city))


def wait_registered(stack: Stack, city: Sequence[Enterprise], *, timeout_s: float = 60) -> None:
    """Until every enterprise's gateway has sent its birth (the cloud then knows the enterprise)."""
    want = {e.id for e in city}
    deadline = time.monotonic() + timeout_s
    while True:
        with psycopg.connect(stack.services.database_url) as conn:
            have = {r[0] for r in conn.execute("SELECT code FROM enterprises").fetchall()}
        if want <= have:
            return
        if time.monotonic() > deadline:
            raise ServiceError(f"网关未上线 no birth within {timeout_s:.0f} s from the gateways of "
                               f"{sorted(want - have)}: see var/demo/*/edge-agent.log")
        time.sleep(0.5)


def _published(site: Site) -> int:
    out = subprocess.run([str(BIN / "edge-agent"), "status", "--config", str(site.gateway_config), "--json"],
                         capture_output=True, text=True, timeout=60, cwd=site.dir)
    if out.returncode != 0:
        return -1
    devices = json.loads(out.stdout)["counters"]["devices"]
    return sum(int(c["published"]) for c in devices.values())


def wait_stored(stack: Stack, sites: list[Site], *, console: Console, timeout_s: float = 120) -> None:
    """Until the cloud holds every sample each gateway had published (its own counter)."""
    want = {s.enterprise.gateway: _published(s) for s in sites}
    deadline = time.monotonic() + timeout_s
    while True:
        with psycopg.connect(stack.services.database_url) as conn:
            have: dict[str, int] = dict(conn.execute(
                "SELECT g.code, coalesce(sum(b.n_samples), 0) FROM gateways g"
                " LEFT JOIN batches b ON b.gateway_id = g.id GROUP BY 1").fetchall())
        missing = {gw: n - int(have.get(gw, 0)) for gw, n in want.items() if int(have.get(gw, 0)) < n}
        if not missing:
            return
        if time.monotonic() > deadline:
            console.print(f"[red]demo[/]: still not stored after {timeout_s:.0f} s: {missing}")
            return
        time.sleep(1.0)


@dataclass(frozen=True, kw_only=True)
class Result:
    enterprise: Enterprise
    package: Path
    verified: bool
    verify_output: str
    networking_rate: float | None
    networking_band: str
    completeness: float | None
    unexplained: int


def _figures(package: Path) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads((package / "data" / "figures.json").read_text(encoding="utf-8"))
    return figures


def _band(band: object) -> str:
    """A MIIT band as the summary shows it: its range and the points it scores."""
    if not isinstance(band, dict) or not band:
        return "—"
    return f"{band.get('range', '—')} {band.get('points', 0):g}/{band.get('max_points', 0):g} 分"


def _build_and_verify(stack: Stack, site: Site, *, start: datetime, end: datetime) -> Result:
    ent = site.enterprise
    out_dir = stack.var / "packages" / ent.id
    built = stack.cloud("evidence build", "--enterprise", ent.id, "--from", start.isoformat(),
                        "--to", end.isoformat(), "--out", str(out_dir), "--force", timeout_s=600)
    if built.returncode != 0:
        raise ServiceError(f"evidence build for {ent.id} failed: {built.stderr.strip()}")
    # the reviewer's way: the verifier shipped inside the package, with plain Python
    verify = subprocess.run([sys.executable, str(out_dir / "verify_package.py"), str(out_dir)],
                            capture_output=True, text=True, timeout=300)
    fig = _figures(out_dir)
    unexplained = sum(int(r.get("unexplained", 0)) for r in fig.get("reconciliation") or [])
    completeness = ((fig.get("rollups") or {}).get("enterprise") or {}).get("completeness")
    rate = fig.get("networking_rate")
    band = fig.get("networking_band") or {}
    return Result(
        enterprise=ent, package=out_dir, verified=verify.returncode == 0,
        verify_output=(verify.stdout + verify.stderr).strip(),
        networking_rate=rate if isinstance(rate, float | int) else None,
        networking_band=_band(band),
        completeness=completeness if isinstance(completeness, float | int) else None,
        unexplained=unexplained)


def build_and_verify(stack: Stack, sites: list[Site], *, start: datetime, end: datetime) -> list[Result]:
    """Each enterprise's package, as many at a time as there are cores (a build is mostly the
    PDF's layout, one core each; the cloud serialises builds of one enterprise itself)."""
    with ThreadPoolExecutor(max_workers=parallel(len(sites))) as pool:
        return list(pool.map(lambda site: _build_and_verify(stack, site, start=start, end=end), sites))


def print_summary(results: list[Result], *, console: Console) -> None:
    table = Table(title="数据贯通证据 Data-connectivity evidence — 示范城市 sample city")
    for col in ("企业 Enterprise", "设备联网率 Networking rate", "档次 Band", "平均完整率 Completeness",
                "未解释丢失 Unexplained loss", "签名校验 Verified", "证据包 Package"):
        table.add_column(col)
    for r in results:
        table.add_row(
            f"{r.enterprise.name} ({r.enterprise.industry_zh})",
            "—" if r.networking_rate is None else f"{r.networking_rate:.0%}",
            r.networking_band,
            "—" if r.completeness is None else f"{r.completeness:.1%}",
            str(r.unexplained),
            "通过 ok" if r.verified else "失败 FAILED",
            str(r.package))
    console.print(table)
    for r in results:
        if not r.verified:
            console.print(f"[red]{r.enterprise.id}[/]: {r.verify_output[-1500:]}")
