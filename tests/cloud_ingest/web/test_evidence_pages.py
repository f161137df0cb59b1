"""The evidence on the pages: figures and charts for a window from the one computation, the
packages list and download, and an admin building a package — against a real database, with a
real signing key, the real package builder and report renderer.

The figures computation (cloud_ingest.evidence) has not landed yet: these tests put the
packages' documented stand-in (tests/cloud_ingest/attest/figures_fixture.py) behind the one door
the pages use, ``cloud_ingest.attest.source.figures_from_database``, and check the pages show
exactly what that JSON says; one test checks the page when the computation is missing.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from cloud_ingest.attest import keys, source
from cloud_ingest.web import session
from tests.cloud_ingest.attest.figures_fixture import make_figures
from tests.cloud_ingest.web.pages import client_for, fill, sign_in, soup

pytestmark = pytest.mark.integration

SECRET = "a-session-key-for-the-evidence-page-tests-0123456789"
WINDOW = "window=custom&start=2026-01-01T08:00&end=2026-01-01T10:00"


def figures(conn: psycopg.Connection[Any], enterprise: str, start: datetime, end: datetime) -> dict[str, Any]:
    return make_figures(enterprise=enterprise, devices=4, tags=2, start=start,
                        days=(end - start).total_seconds() / 86400)


@pytest.fixture
def client(pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(session.KEY_ENV, SECRET)
    monkeypatch.setattr(source, "figures_from_database", figures)
    fill(pg_dsn)
    key_file = tmp_path / "keys" / "signing.key"
    keys.init_key(key_file)
    with client_for(pg_dsn, key_file=key_file) as c:
        yield c


def test_figures_and_charts_are_those_of_the_computation(client: TestClient) -> None:
    sign_in(client, "reviewer")
    page = soup(client.get(f"/enterprises/ent-a?{WINDOW}").text)
    lazy = page.select_one("#evidence-figures")
    assert lazy["hx-get"] == f"/enterprises/ent-a/evidence?{WINDOW}" and lazy["hx-trigger"] == "load"
    part = soup(client.get(f"/enterprises/ent-a/evidence?{WINDOW}", headers={"HX-Request": "true"}).text)
    expected = figures(None, "ent-a", datetime.fromisoformat("2026-01-01T00:00:00+00:00"),  # type: ignore[arg-type]
                       datetime.fromisoformat("2026-01-01T02:00:00+00:00"))
    shown = part.select_one("[data-figure=networking_rate]").text
    assert shown.startswith(f"{expected['networking_rate'] * 100:.1f}%")
    assert f"{expected['networking_band']['points']} 分" in shown
    inv = expected["inventory"]
    assert f"{inv['delivering_devices']} / {inv['production_devices']}" in shown
    key_rate = part.select_one("[data-figure=key_process_rate]").text
    assert key_rate == f"{expected['key_process_rate'] * 100:.1f}%"
    lat = expected["latency_ms"]
    assert part.select_one("[data-figure=latency_ms]").text == \
        " / ".join(f"{lat[k]:,.0f}" for k in ("p50", "p95", "p99", "max")) + " ms"
    for chart in ("timeline", "completeness", "latency", "gaps"):
        assert part.select_one(f"#chart-{chart} svg") is not None, chart


def test_device_gaps_come_from_the_figures(client: TestClient) -> None:
    sign_in(client, "admin")
    gaps_of = {d["device"]: d["gaps"] for d in figures(
        None, "ent-a", datetime.fromisoformat("2026-01-01T00:00:00+00:00"),  # type: ignore[arg-type]
        datetime.fromisoformat("2026-01-01T02:00:00+00:00"))["devices"]}
    part = soup(client.get(f"/enterprises/ent-a/devices/D001/gaps?{WINDOW}").text)
    rows = part.select("table.gaps tbody tr")
    assert [r.select("td")[3].text for r in rows] == [g["cause"] for g in gaps_of["D001"]]
    assert client.get(f"/enterprises/ent-a/devices/nope/gaps?{WINDOW}").status_code == 404


def test_the_pages_say_so_when_the_computation_is_missing(client: TestClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real door again ...
    monkeypatch.setenv(session.KEY_ENV, SECRET)
    monkeypatch.setattr(source, "COMPUTATION", "cloud_ingest.no_such_computation")  # ... with nothing behind
    sign_in(client, "admin")
    part = soup(client.get(f"/enterprises/ent-a/evidence?{WINDOW}").text)
    assert part.select_one("#evidence-pending") is not None and part.select_one("[data-figure]") is None
    gaps = soup(client.get(f"/enterprises/ent-a/devices/dev0/gaps?{WINDOW}").text)
    assert gaps.select_one("#gaps-pending") is not None
    r = client.post("/enterprises/ent-a/packages", data={"csrf_token": csrf_on(client, "/enterprises/ent-a"),
                                                         "window": "today"})
    assert r.status_code == 503 and "no_such_computation" in soup(r.text).select_one(".detail").text


def csrf_on(client: TestClient, path: str) -> str:
    return str(soup(client.get(path).text).select_one("form.who input[name=csrf_token]")["value"])


def test_an_admin_builds_a_package_and_everyone_entitled_downloads_it(client: TestClient) -> None:
    sign_in(client, "admin")
    page = soup(client.get(f"/enterprises/ent-a?{WINDOW}").text)
    form = page.select_one("form.build")
    fields = {i["name"]: i["value"] for i in form.select("input[type=hidden]")}
    assert fields["window"] == "custom" and fields["start"] == "2026-01-01T08:00"
    r = client.post("/enterprises/ent-a/packages", data=fields, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/enterprises/ent-a?{WINDOW}&built=1#packages"
    listed = soup(client.get(r.headers["location"]).text)
    assert "已生成第 1 号证据包" in listed.select_one("#packages .alert").text
    row = listed.select_one("#package-list tr[data-sequence='1']")
    assert row is not None and "2026-01-01 08:00 — 2026-01-01 10:00" in row.text
    z = client.get("/enterprises/ent-a/packages/1.zip")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert "ent-a-0001/evidence.dsse.json" in names and "ent-a-0001/report/report.pdf" in names
    assert client.get("/enterprises/ent-a/packages/2.zip").status_code == 404

    sign_in(client, "ent-a")
    assert client.get("/enterprises/ent-a/packages/1.zip").status_code == 200
    assert soup(client.get("/enterprises/ent-a").text).select_one("form.build") is None
    sign_in(client, "ent-b")
    assert client.get("/enterprises/ent-a/packages/1.zip").status_code == 404


def test_only_admins_build_and_only_with_the_form_token(client: TestClient) -> None:
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
    listed = soup(client.get("/enterprises/ent-a").text)
    assert listed.select("#package-list tr[data-sequence]") == [], "nothing was built"
    sign_in(client, "ent-b")
    token = csrf_on(client, "/enterprises/ent-b")
    foreign = client.post("/enterprises/ent-a/packages", data={"csrf_token": token, "window": "today"})
    assert foreign.status_code == 403
