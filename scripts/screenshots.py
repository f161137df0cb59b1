"""Render each dashboard page of a running stack into PNG files (docs/images/ by default).

    make demo        # or any running `cloud-ingest serve`
    python scripts/screenshots.py --url http://127.0.0.1:8080 --token "$ADMIN_TOKEN"

It signs in through the sign-in page with the token (an admin's shows every page; a
reviewer's all but the dead letters), asks the API which enterprise, device and gateway to show
(the enterprise with the most devices unless ``--enterprise``; its first key-process device),
and saves ``dashboard-<page>.png`` for the sign-in, city, enterprise, device, gateway and
dead-letter pages, and ``dashboard-evidence.png``: the enterprise page's evidence section alone
(figures, charts, reconciliation, inventory, business links), once its figures have loaded.
The browser is Debian's chromium, driven by Playwright (the project never downloads a browser).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


def api(url: str, token: str, path: str) -> Any:
    r = httpx.get(f"{url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if r.status_code == 401:
        raise SystemExit("screenshots: the API refused the token (401): give an admin or reviewer token")
    r.raise_for_status()
    return r.json()


def pick(url: str, token: str, enterprise: str | None) -> tuple[str, str | None, str | None]:
    enterprises = api(url, token, "/enterprises")
    if not enterprises:
        raise SystemExit("screenshots: the stack has no enterprise yet; run an agent first")
    if enterprise is None:
        enterprise = max(enterprises, key=lambda e: (e["devices"], e["code"]))["code"]
    devices = api(url, token, f"/enterprises/{enterprise}/devices")
    with_tags = [d for d in devices if d["tags"]]
    device = next((d for d in with_tags if d["key_process"]), with_tags[0] if with_tags else None)
    gateways = api(url, token, f"/enterprises/{enterprise}/gateways")
    return enterprise, device["code"] if device else None, gateways[0]["code"] if gateways else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="where cloud-ingest serve answers")
    parser.add_argument("--token", default=os.environ.get("SFG_SCREENSHOT_TOKEN"),
                        help="an admin (or reviewer) API token; or SFG_SCREENSHOT_TOKEN")
    parser.add_argument("--enterprise", default=None, help="enterprise to show (default: most devices)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--last-minutes", type=int, default=None,
                        help="show the last N minutes on the enterprise and device pages (default: today)")
    args = parser.parse_args()
    if not args.token:
        parser.error("give --token (or set SFG_SCREENSHOT_TOKEN)")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"screenshots: {CHROMIUM} is missing: bash scripts/services.sh installs it")
    from playwright.sync_api import sync_playwright

    url = args.url.rstrip("/")
    window = "window=today"
    if args.last_minutes:
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo

        now = datetime.now(ZoneInfo("Asia/Shanghai"))
        start = now - timedelta(minutes=args.last_minutes)
        window = (f"window=custom&start={start:%Y-%m-%dT%H:%M}"
                  f"&end={(now + timedelta(minutes=1)):%Y-%m-%dT%H:%M}")
    enterprise, device, gateway = pick(url, args.token, args.enterprise)
    args.out.mkdir(parents=True, exist_ok=True)
    shots: list[tuple[str, str, str]] = [
        ("city", "/city", "#city-table:not([hx-get]) #enterprises"),  # every row's figures computed
        ("enterprise", f"/enterprises/{enterprise}?{window}",
         "#live li.cell|#evidence-figures [data-figure], #evidence-pending"),
    ]
    if device:
        shots.append(("device", f"/enterprises/{enterprise}/devices/{device}?{window}", "#tags"))
    if gateway:
        shots.append(("gateway", f"/enterprises/{enterprise}/gateways/{gateway}", "#sessions"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_context(viewport={"width": args.width, "height": 900}, locale="zh-CN",
                                   timezone_id="Asia/Shanghai").new_page()
        page.goto(f"{url}/signin")
        page.screenshot(path=str(args.out / "dashboard-signin.png"))
        page.fill("input[name=token]", args.token)
        page.click("form[action='/signin'] button[type=submit]")
        page.wait_for_selector("form.who")
        if page.locator("a[href='/dead-letters']").count():
            shots.append(("dead-letters", "/dead-letters", "#dead-letters"))
        for name, path, ready in shots:
            response = page.goto(f"{url}{path}")
            if response is None or response.status != 200:
                print(f"screenshots: {path} answered {response.status if response else 'nothing'}; skipped",
                      file=sys.stderr)
                continue
            for selector in ready.split("|"):
                page.wait_for_selector(selector)
            target = args.out / f"dashboard-{name}.png"
            page.screenshot(path=str(target), full_page=True)
            shown = [target]
            if name == "enterprise":
                shown.append(args.out / "dashboard-evidence.png")
                page.locator("#evidence").screenshot(path=str(shown[-1]))
            for t in shown:
                print(f"screenshots: {t.relative_to(ROOT) if t.is_relative_to(ROOT) else t}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
