"""The dashboard in a real browser (Debian's headless chromium, driven by Playwright) against a
real ``cloud-ingest serve`` whose database a real agent run fills: Modbus simulators →
edge-agent → Mosquitto → cloud-ingest → PostgreSQL.

Few tests over one stack (started once for the module): every page opened by an admin and
checked against the database and the API; the evidence figures and tables of a window, with an
inventory imported through the API, equal to the API's evidence JSON for that window; a device
going offline on the live grid without a reload when its simulator stops; an enterprise user
refused another enterprise's pages, evidence and packages (404) and any build (403), then
signing out; the database going down (the page says so, the grid says it is stale)
and coming back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud_ingest.web.render import DISPLAY_TZ
from tests.cloud_ingest.web.conftest import browser_missing
from tests.cloud_ingest.web.evidence_checks import collect_dom, mismatches
from tests.cloud_ingest.web.stack import TOKENS, WebStack, chromium_path, set_connections, web_stack
from tests.support import BROKER_HOST, BROKER_PORT, PG_ADMIN_DSN, eventually, fresh_database

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebStack, str]]:
    with fresh_database() as dsn, web_stack(tmp_path_factory.mktemp("web"), uid=uuid.uuid4().hex[:10],
                                            dsn=dsn) as stack:
        yield stack, dsn


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = browser_missing()
    if why is not None:
        pytest.fail(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Playwright gives every launch a fresh profile directory of its own (--user-data-dir)
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def signed_in(browser: Any, stack: WebStack, role: str) -> Any:
    page = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{stack.url}/")
    assert "/signin" in page.url, "a person who has not signed in is sent to the sign-in page"
    page.fill("input[name=token]", TOKENS[role])
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_selector("form.who")
    return page


def cells(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        "#live li.cell", "els => Object.fromEntries(els.map(e => [e.dataset.device, e.dataset.state]))")


def test_admin_opens_every_page(browser: Any, web: tuple[WebStack, str]) -> None:
    stack, _ = web
    bad = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bad-{uuid.uuid4().hex[:8]}")
    bad.connect(BROKER_HOST, BROKER_PORT)
    bad.loop_start()
    topic = f"shopfloor/v1/{stack.enterprise}/{stack.gateway}/data"
    bad.publish(topic, b"{not json", qos=1).wait_for_publish(10)
    bad.loop_stop()
    bad.disconnect()

    page = signed_in(browser, stack, "admin")
    assert page.url.endswith("/city")
    # rows whose figures the warmer is still computing fill in by htmx, without a reload
    page.wait_for_selector("#city-table:not([hx-get])", timeout=30_000)
    assert page.locator("#enterprises [data-field=figures_pending]").count() == 0
    assert page.locator("#enterprises td.band").count() == 2
    rows = page.eval_on_selector_all("#enterprises tbody tr", "els => els.map(e => e.dataset.enterprise)")
    assert sorted(rows) == sorted([stack.enterprise, stack.other])
    api = {e["code"]: e for e in stack.api("/enterprises")}  # type: ignore[attr-defined]
    for code in rows:
        shown = page.inner_text(f"tr[data-enterprise='{code}'] td[data-field='devices']")
        assert int(shown) == api[code]["devices"]
    assert page.inner_text(f"tr[data-enterprise='{stack.enterprise}'] [data-field='delivering']") == "3"
    assert page.inner_text(f"tr[data-enterprise='{stack.other}'] [data-field='delivering']") == "0"

    page.click(f"#enterprises tr[data-enterprise='{stack.enterprise}'] td:first-child a")
    page.wait_for_selector("#live li.cell")
    assert cells(page) == dict.fromkeys(stack.devices, "delivering")
    assert page.inner_text(f"#gateways tr[data-gateway='{stack.gateway}'] td:nth-child(2)").startswith("在线")

    page.click("#live [data-device='press-01'] a")
    page.wait_for_selector("#tags tbody tr[data-tag]")
    registry = next(d for d in stack.api(f"/enterprises/{stack.enterprise}/devices")  # type: ignore[attr-defined]
                    if d["code"] == "press-01")
    tags = page.eval_on_selector_all("#tags tbody tr[data-tag]", "els => els.map(e => e.dataset.tag)")
    assert sorted(tags) == sorted(t["name"] for t in registry["tags"])
    qualities = page.eval_on_selector_all("#tags tbody tr[data-tag] .q", "els => els.map(e => e.className)")
    assert qualities and set(qualities) == {"q q0"}, "every tag's newest sample is good"
    assert page.locator("#tags svg.series").count() == len(tags)

    page.click(f"a[href='/enterprises/{stack.enterprise}/gateways/{stack.gateway}']")
    page.wait_for_selector("#counters")
    counted = page.eval_on_selector_all("#counters tbody tr", "els => els.map(e => e.dataset.device)")
    assert sorted(counted) == sorted(stack.devices)
    assert page.locator("#sessions tbody tr").count() >= 1

    page.click("a[href='/dead-letters']")
    page.wait_for_selector("#dead-letters")
    def listed() -> bool:
        page.reload()
        return page.locator("#dead-letters tr[data-reason='bad_json']").count() == 1

    eventually(listed, timeout=20, what="the malformed message listed as a dead letter", every=0.5)
    assert stack.enterprise in page.inner_text("#dead-letters tr[data-reason='bad_json']")


INVENTORY = ("设备编码 device_code,设备名称 name,车间 workshop,产线 line,关键工序 key_process,"
             "已联网 networked,具备数字化能力 digital,业务环节 business_links\n"
             "press-01,1 号冲床电表,冲压车间 Stamping,L1,否,是,是,energy\n"
             "press-02,2 号冲床电表,冲压车间 Stamping,L1,否,是,是,energy\n"
             "oven-01,烘烤炉电表,烘烤车间 Baking,L2,是,是,是,energy\n"
             "lathe-09,老式车床,机加车间 Machining,,是,否,否,设备管理\n")


def test_evidence_figures_on_the_page_equal_the_apis_json(browser: Any, web: tuple[WebStack, str]) -> None:
    stack, _ = web
    imported = httpx.post(f"{stack.url}/api/v1/enterprises/{stack.enterprise}/inventory",
                          params={"filename": "设备台账.csv"}, content=INVENTORY.encode(),
                          headers={"Authorization": f"Bearer {TOKENS['admin']}"}, timeout=10)
    assert imported.status_code == 200, imported.text
    # a window that has ended (everything in it is stored), to the second, typed in local time
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=3)
    start = end - timedelta(minutes=10)
    def typed(t: datetime) -> str:
        return t.astimezone(DISPLAY_TZ).strftime("%Y-%m-%dT%H:%M:%S")

    page = signed_in(browser, stack, "reviewer")
    page.goto(f"{stack.url}/enterprises/{stack.enterprise}?window=custom&start={typed(start)}&end={typed(end)}")
    page.wait_for_selector("#evidence-figures [data-figure=networking_rate]")
    shown = collect_dom(page)
    expected = stack.api(f"/enterprises/{stack.enterprise}/evidence?start={start.isoformat()}"
                         f"&end={end.isoformat()}".replace("+00:00", "Z"), role="reviewer")
    assert isinstance(expected, dict)
    assert expected["inventory"]["production_devices"] == 4 and expected["networking_rate"] == 0.75
    assert page.get_attribute("#figures-window", "data-end") == expected["window"]["end"]
    assert mismatches(shown, expected) == []
    for chart in ("timeline", "completeness", "latency", "gaps"):
        assert page.locator(f"#chart-{chart} svg").count() == 1, chart
    assert page.inner_text("#inventory tr[data-device='lathe-09'] [data-field=networked_declared]") == "否 no"


def test_live_grid_shows_a_device_going_offline_without_reload(browser: Any,
                                                               web: tuple[WebStack, str]) -> None:
    stack, _ = web
    page = signed_in(browser, stack, "enterprise")
    assert page.url.endswith(f"/enterprises/{stack.enterprise}"), "an enterprise user starts on its own page"
    page.goto(f"{stack.url}/enterprises/{stack.enterprise}?refresh=2")
    page.wait_for_selector("#live li.cell")
    assert cells(page)[stack.flaky_device] == "delivering"
    page.evaluate("window.sfgMarker = 'same page'")
    first = page.get_attribute("#live", "data-read-at")

    stack.flaky.terminate()
    page.wait_for_selector(f"#live [data-device='{stack.flaky_device}'][data-state='device_offline']",
                           timeout=WAIT_MS)
    assert page.evaluate("window.sfgMarker") == "same page", "the grid changed without a reload"
    assert page.get_attribute("#live", "data-read-at") != first
    states = cells(page)
    assert states.pop(stack.flaky_device) == "device_offline"
    assert set(states.values()) == {"delivering"}, "the other devices go on delivering"
    assert "设备离线" in page.inner_text(f"#live [data-device='{stack.flaky_device}']")


def test_enterprise_user_is_refused_other_enterprises_then_signs_out(browser: Any,
                                                                     web: tuple[WebStack, str]) -> None:
    stack, _ = web
    page = signed_in(browser, stack, "enterprise")
    for path in (f"/enterprises/{stack.other}", f"/enterprises/{stack.other}/live",
                 f"/enterprises/{stack.other}/devices/dev0", f"/enterprises/{stack.other}/gateways/gw-other",
                 f"/enterprises/{stack.enterprise}/devices/dev0",
                 f"/enterprises/{stack.other}/evidence?window=7d",
                 f"/enterprises/{stack.other}/packages/1.zip",
                 f"/enterprises/{stack.other}/devices/dev0/gaps?window=7d"):
        response = page.goto(f"{stack.url}{path}")
        assert response.status == 404, path
        assert "不存在" in page.inner_text("body") or "Not found" in page.inner_text("body"), path
    own_page = page.goto(f"{stack.url}/enterprises/{stack.enterprise}")
    assert own_page.status == 200 and page.locator("form.build").count() == 0, "no build form but for admins"
    token = page.get_attribute("form.who input[name=csrf_token]", "value")
    build = page.request.post(f"{stack.url}/enterprises/{stack.other}/packages",
                              form={"csrf_token": token, "window": "today"})
    assert build.status == 403, "an enterprise user builds no package, its own or another's"
    assert page.request.get(f"{stack.url}/enterprises/{stack.other}/packages/builds/x").status == 403
    assert page.request.get(f"{stack.url}/api/v1/enterprises/{stack.other}/evidence/packages",
                            headers={"Authorization": f"Bearer {TOKENS['enterprise']}"}).status == 404
    assert page.goto(f"{stack.url}/dead-letters").status == 403
    page.goto(f"{stack.url}/city")
    assert page.url.endswith(f"/enterprises/{stack.enterprise}"), "no city overview for an enterprise user"

    page.click("form.who button[type=submit]")
    page.wait_for_url("**/signin?why=signed_out")
    assert "已退出登录" in page.inner_text(".alert.info")
    page.goto(f"{stack.url}/enterprises/{stack.enterprise}")
    assert "/signin" in page.url, "after signing out the pages need a sign-in again"


def test_database_down_is_shown_and_the_grid_goes_stale(browser: Any, web: tuple[WebStack, str]) -> None:
    stack, dsn = web
    page = signed_in(browser, stack, "admin")
    page.goto(f"{stack.url}/enterprises/{stack.enterprise}?refresh=2")
    page.wait_for_selector("#live li.cell")
    assert not page.is_visible("#live .stale-note"), "a grid answered just now is not stale"
    before = cells(page)
    set_connections(PG_ADMIN_DSN, dsn, allowed=False)
    try:
        page.wait_for_selector("#live-alert [data-db-down]", timeout=WAIT_MS)
        assert cells(page) == before, "the grid keeps its last state while the database is away"
        page.wait_for_selector("#live .stale-note", state="visible", timeout=WAIT_MS)
        other = page.context.new_page()
        response = other.goto(f"{stack.url}/city")
        assert response.status == 503
        assert "数据库暂时无法连接" in other.inner_text("h1")
        other.close()
    finally:
        set_connections(PG_ADMIN_DSN, dsn, allowed=True)
    page.wait_for_selector("#live-alert [data-db-down]", state="detached", timeout=WAIT_MS)
    assert not page.is_visible("#live .stale-note"), "a fresh answer clears the stale notice"
