"""The evidence on the pages against a real database, the real figures computation, a real
signing key, the real package builder and report renderer: the figures and tables for a window
are the API's JSON for that window, the city overview's evidence columns too; packages are
listed, downloaded, and built in the background by admins only; another enterprise's evidence,
packages and builds do not exist for an enterprise user."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from cloud_ingest.attest import keys, source
from cloud_ingest.attest.build import BuildError
from cloud_ingest.evidence import compute_figures
from cloud_ingest.web import builds, figures, session
from cloud_ingest.web.views import city as city_view
from tests.cloud_ingest.web.evidence_checks import collect_soup, mismatches
from tests.cloud_ingest.web.pages import TOKENS, client_for, fill, one, sign_in, soup
from tests.support import eventually

pytestmark = pytest.mark.integration

SECRET = "a-session-key-for-the-evidence-page-tests-0123456789"
WINDOW = "window=custom&start=2026-01-01T08:00&end=2026-01-01T10:00"  # 00:00-02:00 UTC
START, END = "2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z"
INVENTORY = ("设备编码 device_code,设备名称 name,设备类型 type,车间 workshop,产线 line,关键工序 key_process,"
             "已联网 networked,具备数字化能力 digital,业务环节 business_links,生产设备 production\n"
             "dev0,灌装线电表,电能表,Filling,line-1,是,是,是,energy,是\n"
             "press-9,老式冲床,冲床,Stamping,,是,否,否,设备管理,是\n")


def api(client: TestClient, path: str, who: str = "admin", **params: str) -> Any:
    return client.get(f"/api/v1{path}", params=params, headers={"Authorization": f"Bearer {TOKENS[who]}"})


@pytest.fixture
def client(pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(session.KEY_ENV, SECRET)
    figures.CACHE.clear()
    fill(pg_dsn)
    key_file = tmp_path / "keys" / "signing.key"
    keys.init_key(key_file)
    with client_for(pg_dsn, key_file=key_file) as c:
        r = c.post("/api/v1/enterprises/ent-a/inventory", params={"filename": "台账.csv"},
                   content=INVENTORY.encode(), headers={"Authorization": f"Bearer {TOKENS['admin']}"})
        assert r.status_code == 200, r.text
        yield c
    figures.CACHE.clear()


def test_every_figure_and_table_on_the_page_is_the_apis_json(client: TestClient) -> None:
    sign_in(client, "reviewer")
    page = soup(client.get(f"/enterprises/ent-a?{WINDOW}").text)
    lazy = one(page, "#evidence-figures")
    assert lazy["hx-get"] == f"/enterprises/ent-a/evidence?{WINDOW}" and lazy["hx-trigger"] == "load"
    part = soup(client.get(f"/enterprises/ent-a/evidence?{WINDOW}", headers={"HX-Request": "true"}).text)
    expected = api(client, "/enterprises/ent-a/evidence", start=START, end=END).json()
    assert expected["inventory"]["present"] and expected["networking_rate"] == 0.5, "dev0 of dev0, press-9"
    assert mismatches(collect_soup(part), expected) == []
    assert one(part, "#figures-window")["data-start"] == expected["window"]["start"]
    notes = {li["data-note"] for li in part.select("#figure-notes li")}
    assert notes == {n["code"] for n in expected["notes"]}
    assert expected["inventory"]["unlisted_devices"] == ["dev1"], "announced, not in the inventory"
    assert "dev1" in one(part, "#inventory-findings [data-list=unlisted_devices]").text
    flags = {tr["data-device"]: one(tr, "[data-field=networked_declared]").text
             for tr in part.select("#inventory tr[data-device]")}
    assert flags == {"dev0": "是 yes", "dev1": "—", "press-9": "否 no"}
    for chart in ("timeline", "completeness", "latency", "gaps"):
        assert part.select_one(f"#chart-{chart} svg") is not None, chart


def test_device_gaps_come_from_the_figures(client: TestClient, pg_dsn: str) -> None:
    sign_in(client, "admin")
    with psycopg.connect(pg_dsn) as conn:
        gaps_of = {d["device"]: d["gaps"] for d in compute_figures(
            conn, enterprise="ent-a", start=datetime(2026, 1, 1, tzinfo=UTC),
            end=datetime(2026, 1, 1, 2, tzinfo=UTC))["devices"]}
    part = soup(client.get(f"/enterprises/ent-a/devices/dev0/gaps?{WINDOW}").text)
    rows = part.select("table.gaps tbody tr")
    assert gaps_of["dev0"] and [r.select("td")[3].text for r in rows] == [g["cause"] for g in gaps_of["dev0"]]
    assert client.get(f"/enterprises/ent-a/devices/nope/gaps?{WINDOW}").status_code == 404


def city_when_computed(client: TestClient, query: str) -> Any:
    """The city overview once no row's figures are pending (the warmer computes them)."""
    def done() -> Any:
        page = soup(client.get(f"/city?{query}").text)
        return page if page.select_one("#figures-pending") is None else None
    return eventually(done, timeout=30, what="every row of the city overview computed", every=0.2)


def test_the_city_overview_shows_each_enterprises_figures_and_last_package(client: TestClient) -> None:
    sign_in(client, "admin")
    page = city_when_computed(client, f"{WINDOW}&sort=networking_rate&order=desc")
    expected = {code: api(client, f"/enterprises/{code}/evidence", start=START, end=END).json()
                for code in ("ent-a", "ent-b")}
    assert [r["data-enterprise"] for r in page.select("#enterprises tbody tr[data-enterprise]")] == \
        ["ent-a", "ent-b"], "known rates first, an enterprise without inventory last"
    a = one(page, "tr[data-enterprise='ent-a']")
    inv = expected["ent-a"]["inventory"]
    assert one(a, "[data-field=inventory_rows]").text == str(inv["rows"]) == "2"
    assert one(a, "[data-field=in_inventory]").text == str(inv["production_devices"])
    assert one(a, "[data-field=networking_rate]").text == "50.0%"
    rate = one(a, "[data-field=networking_rate]")
    assert rate["data-value"] == str(expected["ent-a"]["networking_rate"])
    band = expected["ent-a"]["networking_band"]
    assert one(a, "[data-field=band]").text == f"{band['range']} · {band['points']} 分 points"
    assert one(a, "[data-field=last_package]").text == "—"
    b = one(page, "tr[data-enterprise='ent-b']")
    assert one(b, "[data-field=inventory_rows]").text == "—" and "无台账" in b.text
    district = soup(client.get("/city?district=Saihan").text)
    rows = district.select("#enterprises tbody tr[data-enterprise]")
    assert [r["data-enterprise"] for r in rows] == ["ent-a"]


def test_the_city_overview_waits_for_no_computation_and_the_warmer_fills_it_in(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request that may compute nothing shows its rows pending, with the table reloading
    itself; the background warmer computes them, and the rows then show the API's figures."""
    monkeypatch.setattr(city_view, "COMPUTE_BUDGET_S", 0.0)
    sign_in(client, "admin")
    first = soup(client.get(f"/city?{WINDOW}").text)
    pending = first.select("#enterprises [data-field=figures_pending]")
    assert len(pending) == 2 and "2 家企业" in one(first, "#figures-pending").text
    table = one(first, "#city-table")
    assert table["hx-get"] == f"/city?{WINDOW}" and table["hx-select"] == "#city-table"
    assert str(table["hx-trigger"]).startswith("load delay:")
    page = city_when_computed(client, WINDOW)
    assert one(page, "#city-table").get("hx-get") is None, "no more reloading once complete"
    expected = api(client, "/enterprises/ent-a/evidence", start=START, end=END).json()
    rate = one(page, "tr[data-enterprise='ent-a'] [data-field=networking_rate]")
    assert rate["data-value"] == str(expected["networking_rate"])


def test_the_pages_say_so_when_the_computation_is_missing(client: TestClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "COMPUTATION", "cloud_ingest.no_such_computation")
    sign_in(client, "admin")
    part = soup(client.get(f"/enterprises/ent-a/evidence?{WINDOW}").text)
    assert part.select_one("#evidence-pending") is not None and part.select_one("[data-figure]") is None
    assert "no_such_computation" in one(part, "#evidence-pending").text
    gaps = soup(client.get(f"/enterprises/ent-a/devices/dev0/gaps?{WINDOW}").text)
    assert gaps.select_one("#gaps-pending") is not None


def csrf_on(client: TestClient, path: str) -> str:
    return str(one(soup(client.get(path).text), "form.who input[name=csrf_token]")["value"])


def start_build(client: TestClient) -> str:
    """Submit the page's own build form; the job's progress URL."""
    page = soup(client.get(f"/enterprises/ent-a?{WINDOW}").text)
    fields = {i["name"]: i["value"] for i in page.select("form.build input[type=hidden]")}
    assert fields["window"] == "custom" and fields["start"] == "2026-01-01T08:00"
    r = client.post("/enterprises/ent-a/packages", data=fields, follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith(f"/enterprises/ent-a?{WINDOW}&build=") and location.endswith("#packages")
    job = location.split("&build=")[1].split("#")[0]
    shown = soup(client.get(location).text).select_one("#build-status")
    assert shown is not None, "the page follows the build it started"
    return f"/enterprises/ent-a/packages/builds/{job}"


def finished(client: TestClient, progress: str) -> Any:
    def state() -> Any:
        part = soup(client.get(progress, headers={"HX-Request": "true"}).text)
        status = one(part, "#build-status")
        if status["data-state"] == "running":
            assert status["hx-get"] == progress and status["hx-trigger"] == "every 1s"
            return None
        return part
    return eventually(state, timeout=120, what="the background build finished", every=0.3)


def test_an_admin_builds_a_package_in_the_background_and_everyone_entitled_downloads_it(
        client: TestClient, pg_dsn: str) -> None:
    sign_in(client, "admin")
    part = finished(client, start_build(client))
    status = part.select_one("#build-status")
    assert status["data-state"] == "done", status.text
    assert status["data-sequence"] == "1" and "已生成第 1 号证据包" in status.text
    row = part.select_one("#package-list tr[data-sequence='1']")
    assert row is not None and "2026-01-01 08:00 — 2026-01-01 10:00" in row.text
    z = client.get("/enterprises/ent-a/packages/1.zip")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert "ent-a-0001/evidence.dsse.json" in names and "ent-a-0001/report/report.pdf" in names
    city = one(soup(client.get("/city").text), "tr[data-enterprise='ent-a'] [data-field=last_package]")
    assert one(city, "a")["href"] == "/enterprises/ent-a/packages/1.zip"
    sign_in(client, "ent-a")
    assert client.get("/enterprises/ent-a/packages/1.zip").status_code == 200
    assert soup(client.get("/enterprises/ent-a").text).select_one("form.build") is None
    sign_in(client, "ent-b")
    assert client.get("/enterprises/ent-a/packages/1.zip").status_code == 404


def test_a_failed_build_is_shown_with_its_reason(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever fails in the builder — today the real builder reading the figures JSON, or a
    refusal of ours — the packages section says no package was built, and why."""
    sign_in(client, "admin")

    def refusing(*args: Any, **kw: Any) -> Any:
        raise BuildError("日志损坏 the log of ent-a is damaged: restore it from the backup")

    part = finished(client, start_build(client))  # the real builder: done today or failing clearly
    status = part.select_one("#build-status")
    assert status["data-state"] in ("done", "failed")
    if status["data-state"] == "failed":
        assert "No package was built" in status.text and "the package builder failed" in status.text
    monkeypatch.setattr(builds, "build_package", refusing)
    part = finished(client, start_build(client))
    status = part.select_one("#build-status")
    assert status["data-state"] == "failed" and status.get("role") == "alert"
    assert "证据包未生成 No package was built" in status.text
    assert "the log of ent-a is damaged: restore it from the backup" in one(status, ".detail").text
    assert not one(part, "form.build button").has_attr("disabled"), "another try is offered"


def test_only_admins_build_only_with_the_form_token_and_never_for_another(client: TestClient) -> None:
    sign_in(client, "reviewer")
    assert client.post("/enterprises/ent-a/packages", data={"csrf_token": csrf_on(client, "/city"),
                                                            "window": "today"}).status_code == 403
    sign_in(client, "admin")
    refused = client.post("/enterprises/ent-a/packages", data={"window": "today"})
    assert refused.status_code == 403 and "No package was built" in refused.text
    backwards = {"csrf_token": csrf_on(client, "/city"), "window": "custom",
                 "start": "2026-01-02T00:00", "end": "2026-01-01T00:00"}
    bad = client.post("/enterprises/ent-a/packages", data=backwards)
    assert bad.status_code == 400 and "不晚于开始时间" in bad.text
    assert soup(client.get("/enterprises/ent-a").text).select("#package-list tr[data-sequence]") == []
    progress = start_build(client)
    sign_in(client, "ent-b")
    token = csrf_on(client, "/enterprises/ent-b")
    foreign = client.post("/enterprises/ent-a/packages", data={"csrf_token": token, "window": "today"})
    assert foreign.status_code == 403
    assert client.get(progress).status_code == 403, "a build's progress is for admins"
    for path in (f"/enterprises/ent-a/evidence?{WINDOW}", "/enterprises/ent-a/packages/1.zip",
                 f"/enterprises/ent-a/devices/dev0/gaps?{WINDOW}"):
        assert client.get(path).status_code == 404, path
    assert api(client, "/enterprises/ent-a/evidence", who="ent-b", start=START, end=END).status_code == 404
    assert api(client, "/enterprises/ent-a/evidence/packages", who="ent-b").status_code == 404
    sign_in(client, "admin")
    finished(client, progress)
    other = progress.replace("/enterprises/ent-a/", "/enterprises/ent-b/")
    assert client.get(other).status_code == 404, "a build is found under its own enterprise only"


def test_a_missing_signing_key_is_said_at_once(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "keys" / "signing.key").unlink()
    sign_in(client, "admin")
    form = {"csrf_token": csrf_on(client, "/city"), "window": "today"}
    r = client.post("/enterprises/ent-a/packages", data=form)
    assert r.status_code == 503 and "No package was built" in r.text
    assert "keys init" in one(soup(r.text), ".detail").text
