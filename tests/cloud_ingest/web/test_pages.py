"""The pages over HTTP against a real database, parsed as HTML: sign-in and sessions, CSRF,
roles (another enterprise is a 404 on every page and partial), bad input, the database down."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from cloud_ingest.api import tokens
from cloud_ingest.api.auth import TokenStore
from cloud_ingest.config import ApiConfig
from cloud_ingest.web import session
from tests.cloud_ingest.helpers import cloud_config, running
from tests.cloud_ingest.web.pages import (
    TOKENS,
    attr,
    client_for,
    csrf_of,
    fill,
    one,
    sign_in,
    soup,
    token_store,
)
from tests.support import free_port, wait_port

pytestmark = pytest.mark.integration

SECRET = "a-session-key-for-the-page-tests-only-0123456789"


@pytest.fixture
def client(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(session.KEY_ENV, SECRET)
    fill(pg_dsn)
    with client_for(pg_dsn) as c:
        yield c


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    r = client.get("/enterprises/ent-a?window=7d", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Fenterprises%2Fent-a%3Fwindow%3D7d"
    partial = client.get("/enterprises/ent-a/live", headers={"HX-Request": "true",
                                                              "HX-Current-URL": "http://testserver/enterprises/ent-a"})
    assert partial.status_code == 401
    assert partial.headers["HX-Redirect"].startswith("/signin?next=")


def test_sign_in_sets_a_strict_http_only_cookie_and_returns_to_the_page(client: TestClient) -> None:
    r = client.post("/signin", data={"token": TOKENS["admin"], "csrf_token": csrf_of(client),
                                     "next": "/enterprises/ent-a"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/enterprises/ent-a"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(session.COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    assert TOKENS["admin"] not in cookie, "the token is sealed, not readable, in the cookie"
    page = client.get("/enterprises/ent-a")
    assert page.status_code == 200
    assert one(soup(page.text), "form.who .name").text == "ops"


def test_sign_in_never_redirects_to_another_site(client: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        form = {"token": TOKENS["admin"], "csrf_token": csrf_of(client), "next": target}
        r = client.post("/signin", data=form,
                        follow_redirects=False)
        assert r.headers["location"] == "/", target


def test_a_wrong_or_empty_token_stays_on_sign_in_with_a_message(client: TestClient) -> None:
    for token, words in (("not-a-token-at-all-0000", "令牌无效"), ("", "请输入令牌")):
        r = client.post("/signin", data={"token": token, "csrf_token": csrf_of(client)},
                        follow_redirects=False)
        assert r.status_code == 401
        alert = soup(r.text).select_one(".alert.error")
        assert alert is not None and words in alert.text
        assert "Traceback" not in r.text
        assert not any(c.startswith(session.COOKIE) for c in r.headers.get_list("set-cookie"))


def test_forms_without_the_csrf_token_or_from_another_site_are_refused(client: TestClient) -> None:
    good = csrf_of(client)
    no_token = client.post("/signin", data={"token": TOKENS["admin"]}, follow_redirects=False)
    wrong = client.post("/signin", data={"token": TOKENS["admin"], "csrf_token": "0" * 64},
                        follow_redirects=False)
    foreign = client.post("/signin", data={"token": TOKENS["admin"], "csrf_token": good},
                          headers={"Origin": "https://evil.example"}, follow_redirects=False)
    for r in (no_token, wrong, foreign):
        assert r.status_code == 403
        assert "表单已失效" in one(soup(r.text), ".alert.error").text
    assert "another site" in foreign.text
    fresh = TestClient(client.app, raise_server_exceptions=False)
    no_cookie = fresh.post("/signin", data={"token": TOKENS["admin"], "csrf_token": good},
                           follow_redirects=False)
    assert no_cookie.status_code == 403, "the token of another browser's cookie does not pass"


def test_sign_out_needs_the_form_token_and_ends_the_session(client: TestClient) -> None:
    sign_in(client, "reviewer")
    refused = client.post("/signout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/city", follow_redirects=False).status_code == 200, "still signed in"
    token = one(soup(client.get("/city").text), "form.who input[name=csrf_token]")["value"]
    out = client.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin?why=signed_out"
    assert client.get("/city", follow_redirects=False).status_code == 303
    assert "已退出登录" in client.get("/signin?why=signed_out").text


def test_an_expired_or_edited_session_goes_back_to_sign_in_saying_why(client: TestClient) -> None:
    keys = session.keys_from(SECRET.encode())
    old = keys.fernet.encrypt_at_time(json.dumps({"t": TOKENS["admin"]}).encode(),
                                      int(time.time()) - session.MAX_AGE_S - 60).decode()
    client.cookies.set(session.COOKIE, old)
    r = client.get("/city", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("&why=expired")
    assert "会话已过期" in one(soup(client.get(r.headers["location"]).text), ".alert.info").text
    client.cookies.set(session.COOKIE, session.seal(keys, TOKENS["admin"])[:-4] + "AAAA")
    assert client.get("/city", follow_redirects=False).headers["location"].endswith("&why=invalid")
    other_key = session.keys_from(b"another-service-key-that-is-long-enough-000")
    client.cookies.set(session.COOKIE, session.seal(other_key, TOKENS["admin"]))
    assert client.get("/city", follow_redirects=False).headers["location"].endswith("&why=invalid")


def test_a_revoked_token_ends_its_sessions_at_once(client: TestClient) -> None:
    sign_in(client, "ent-a")
    assert client.get("/enterprises/ent-a", follow_redirects=False).status_code == 200
    remaining = [e for e in token_store()._by_digest.values() if e.name != "dairy"]
    client.app.state.tokens = TokenStore(remaining)  # type: ignore[attr-defined]
    r = client.get("/enterprises/ent-a", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("&why=revoked")


OTHER_ENTERPRISE = ["/enterprises/ent-b", "/enterprises/ent-b/live", "/enterprises/ent-b/devices/dev0",
                    "/enterprises/ent-b/gateways/gwb", "/enterprises/ent-b?window=7d"]


def test_an_enterprise_user_gets_404_for_every_page_and_partial_of_another(client: TestClient) -> None:
    sign_in(client, "ent-a")
    for path in OTHER_ENTERPRISE:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 404, path
        assert "ent-b" not in one(soup(r.text), "title").text
    partial = client.get("/enterprises/ent-b/live", headers={"HX-Request": "true"})
    assert partial.status_code == 404 and "<html" not in partial.text
    # the 404 for another's enterprise reads exactly as for one that does not exist
    unknown = client.get("/enterprises/ent-zzz")
    other = client.get("/enterprises/ent-b")
    assert one(soup(unknown.text), ".detail").text.replace("ent-zzz", "X") == \
        one(soup(other.text), ".detail").text.replace("ent-b", "X")
    assert client.get("/enterprises/ent-a").status_code == 200
    assert client.get("/city", follow_redirects=False).headers["location"] == "/enterprises/ent-a"
    assert client.get("/", follow_redirects=False).headers["location"] == "/enterprises/ent-a"
    assert client.get("/dead-letters").status_code == 403


def test_reviewers_read_every_enterprise_but_not_dead_letters(client: TestClient) -> None:
    sign_in(client, "reviewer")
    rows = soup(client.get("/city").text).select("#enterprises tbody tr[data-enterprise]")
    assert [r["data-enterprise"] for r in rows] == ["ent-a", "ent-b"]
    for path in OTHER_ENTERPRISE:
        assert client.get(path).status_code == 200, path
    assert client.get("/dead-letters").status_code == 403
    nav = soup(client.get("/city").text).select_one("header nav")
    assert "/dead-letters" not in str(nav)


def test_admins_see_dead_letters_escaped(client: TestClient) -> None:
    sign_in(client, "admin")
    page = soup(client.get("/dead-letters").text)
    row = page.select_one("#dead-letters tr[data-reason='bad_json']")
    assert row is not None and "shopfloor/v1/ent-a/gw1/data" in row.text
    assert one(row, "code.payload").text == "{broken <script>"
    assert page.find("script", string=True) is None, "a payload never becomes markup"
    filtered = soup(client.get("/dead-letters?reason=oversized").text)
    assert len(filtered.select("#dead-letters tr[data-reason]")) == 0


def test_city_overview_filters_and_sorts(client: TestClient) -> None:
    sign_in(client, "admin")
    page = soup(client.get("/city?industry=food").text)
    assert [r["data-enterprise"] for r in page.select("#enterprises tbody tr[data-enterprise]")] == ["ent-a"]
    assert [o.text for o in page.select("select[name=industry] option")] == ["全部 all", "food"]
    def order(query: str) -> list[str]:
        return [attr(r, "data-enterprise") for r in soup(client.get(f"/city?{query}").text)
                .select("#enterprises tbody tr[data-enterprise]")]

    assert order("sort=code&order=desc") == ["ent-b", "ent-a"]
    assert order("sort=gateways_online&order=asc") == ["ent-b", "ent-a"]
    assert order("sort=devices&order=desc") == ["ent-a", "ent-b"], "ties in code order"
    assert order("sort=industry&order=desc") == ["ent-a", "ent-b"], "no industry sorts last"
    page = soup(client.get("/city?sort=devices&order=desc").text)
    row = one(page, "tr[data-enterprise='ent-a']")
    assert one(row, "[data-field=devices]").text == "2"
    assert one(row, "[data-field=gateways_online]").text.strip() == "1 / 1"
    assert one(page, "tr[data-enterprise='ent-b'] [data-field=gateways_online]").text.strip() == "0 / 1"
    assert one(soup(client.get("/city?sort=bogus").text), "th[aria-sort]").text.startswith("企业编码")


def test_enterprise_page_live_grid_and_its_partial(client: TestClient) -> None:
    sign_in(client, "admin")
    page = soup(client.get("/enterprises/ent-a").text)
    cells = {c["data-device"]: c["data-state"] for c in page.select("#live li.cell")}
    # data stored on 2026-01-01: long stale by the cloud's clock; ent-a's gateway never died
    assert cells == {"dev0": "no_data", "dev1": "no_data"}
    other = soup(client.get("/enterprises/ent-b").text)
    assert {c["data-state"] for c in other.select("#live li.cell")} == {"gateway_offline"}
    live = one(page, "#live")
    assert live["hx-get"] == "/enterprises/ent-a/live?refresh=5" and live["hx-trigger"] == "every 5s"
    assert page.select_one("#gateways tr[data-gateway='gw1']") is not None
    partial = client.get("/enterprises/ent-a/live?refresh=2", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    fragment = soup(partial.text)
    assert fragment.find("html") is None and fragment.select_one("section#live.refresh-2") is not None
    odd = soup(client.get("/enterprises/ent-a?refresh=7").text)
    assert one(odd, "#live")["hx-trigger"] == "every 5s", "a refresh not offered falls back to 5 s"


def test_device_page_shows_tags_latest_values_and_series(client: TestClient) -> None:
    sign_in(client, "admin")
    page = soup(client.get("/enterprises/ent-a/devices/dev0?window=custom&start=2026-01-01T07:59"
                           "&end=2026-01-01T08:10").text)
    rows = {r["data-tag"]: r for r in page.select("#tags tbody tr[data-tag]")}
    assert set(rows) == {"power", "state"}
    # sample k of the helpers' batches goes to dev(k % 2), tag power when (k // 2) is even:
    # dev0's newest power is k = 356, its newest state k = 358 (6 batches of 60: k < 360)
    assert one(rows["power"], "[data-field=value]").text.split() == ["356", "kW"]
    assert one(rows["state"], "[data-field=value]").text.split() == ["s358"]
    assert one(rows["power"], ".q").text.startswith("良好")
    assert rows["power"].select_one("svg.series polyline.avg") is not None, "a numeric series is drawn"
    assert "文本值" in one(rows["state"], "svg.series").text


def test_gateway_page_shows_counters_backlog_sessions(client: TestClient) -> None:
    sign_in(client, "admin")
    page = soup(client.get("/enterprises/ent-a/gateways/gw1").text)
    counters = {r["data-device"]: [td.text for td in r.select("td")]
                for r in page.select("#counters tbody tr")}
    # the newest counters (seq 6): read 360, buffered 0, published 180, read_errors 1, buffer_full 2
    assert counters["dev0"][1:7] == ["360", "0", "180", "0", "1", "buffer_full 2"]
    assert one(page, "[data-field=batches]").text.startswith("6 (360")
    assert len(page.select("#sessions tbody tr")) == 1
    assert "ms" in one(page, "[data-field=clock]").text


def test_bad_windows_say_what_is_wrong_on_the_page(client: TestClient) -> None:
    sign_in(client, "admin")
    cases = {
        "window=custom&start=2026-01-02T00:00&end=2026-01-01T00:00": "不晚于开始时间",
        "window=custom&start=2099-01-01T00:00&end=2099-01-02T00:00": "在将来",
        "window=custom&start=yesterday&end=2026-01-01T00:00": "时间格式不对",
        "window=custom&start=2026-01-01T00:00": "需要开始和结束",
        "window=fortnight": "未知的时间窗口",
    }
    for query, words in cases.items():
        for path in ("/enterprises/ent-a", "/enterprises/ent-a/devices/dev0"):
            r = client.get(f"{path}?{query}")
            assert r.status_code == 400, (path, query)
            alert = soup(r.text).select_one(".alert.error")
            assert alert is not None and words in alert.text, (path, query, alert)
            assert "Traceback" not in r.text


def test_unknown_enterprise_device_gateway_and_path_are_404_pages(client: TestClient) -> None:
    sign_in(client, "admin")
    for path, words in (("/enterprises/nope", "企业 nope 不存在"),
                        ("/enterprises/ent-a/devices/nope", "设备 nope"),
                        ("/enterprises/ent-a/gateways/nope", "网关 nope"), ("/no/such/page", "没有这个页面")):
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert words in one(soup(r.text), ".detail").text, path
    api = client.get("/api/v1/no-such-route")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    assert client.get("/api/v1/health").json() == {"ok": True}


def test_the_database_down_page_and_the_grid_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(session.KEY_ENV, SECRET)
    with client_for(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing") as c:
        assert c.get("/signin").status_code == 200, "signing in needs no database"
        sign_in(c, "admin")
        r = c.get("/city")
        assert r.status_code == 503 and r.headers["Retry-After"] == "10"
        page = soup(r.text)
        assert "数据库暂时无法连接" in one(page, "h1").text
        assert one(page, "meta[http-equiv=refresh]")["content"] == "10"
        grid = c.get("/enterprises/ent-a/live", headers={"HX-Request": "true"})
        assert grid.status_code == 503
        assert grid.headers["HX-Retarget"] == "#live-alert" and grid.headers["HX-Reswap"] == "innerHTML"
        assert soup(grid.text).select_one("[data-db-down]") is not None


def test_pages_are_private_framed_nowhere_and_load_only_local_files(client: TestClient) -> None:
    sign_in(client, "admin")
    for path in ("/signin", "/city", "/enterprises/ent-a", "/enterprises/ent-a/devices/dev0",
                 "/enterprises/ent-a/gateways/gw1", "/dead-letters"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["Cache-Control"] == "no-store"
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY"
        page = soup(r.text)
        refs = [attr(t, "src" if t.has_attr("src") else "href")
                for t in page.select("script[src], link[href]")]
        assert refs and all(ref.startswith("/static/") for ref in refs), (path, refs)
        assert one(page, "html")["lang"] == "zh-CN"


def test_htmx_is_served_locally_as_the_pinned_file(client: TestClient) -> None:
    r = client.get("/static/htmx-2.0.11.min.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    header, _, body = r.content.partition(b"*/\n")
    assert b"htmx 2.0.11" in header
    pinned = re.search(r"sha256 of that file: ([0-9a-f]{64})", header.decode())
    assert pinned is not None
    assert hashlib.sha256(body).hexdigest() == pinned.group(1), "the file is htmx as published, unchanged"


def test_serve_mounts_the_pages_beside_the_api_and_no_api_turns_both_off(
        pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    fill(pg_dsn)
    for api in (True, False):
        port = free_port()
        cfg = cloud_config(pg_dsn, broker, f"ent-{uid}").model_copy(update={"api": ApiConfig(port=port)})
        with running(cfg, api=api):
            if api:
                wait_port("127.0.0.1", port, timeout=20)
                base = f"http://127.0.0.1:{port}"
                assert httpx.get(f"{base}/api/v1/health").json() == {"ok": True}
                page = httpx.get(f"{base}/signin")
                assert page.status_code == 200 and "登录" in one(soup(page.text), "title").text
                assert httpx.get(f"{base}/city").status_code == 303
            else:
                with pytest.raises(httpx.ConnectError):
                    httpx.get(f"http://127.0.0.1:{port}/signin", timeout=2)


def test_tokens_kept_in_the_database_sign_in_and_their_revocation_ends_the_session(client: TestClient,
                                                                                   pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        row, token = tokens.issue(conn, name="inspector", role="reviewer", enterprise=None, expires_at=None,
                                  created_by="test")
    r = client.post("/signin", data={"token": token, "csrf_token": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert one(soup(client.get("/city").text), "form.who .name").text == "inspector"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        tokens.revoke(conn, row.id)
    r = client.get("/city", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("&why=revoked")
    again = client.post("/signin", data={"token": token, "csrf_token": csrf_of(client)},
                        follow_redirects=False)
    assert again.status_code == 401 and "此令牌已失效" in one(soup(again.text), ".alert.error").text


def test_failed_sign_ins_are_limited_per_address(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(session.KEY_ENV, SECRET)
    fill(pg_dsn)
    with client_for(pg_dsn, api=ApiConfig(auth_failures_max=3, auth_failure_window_s=60)) as c:
        for _ in range(3):
            wrong = c.post("/signin", data={"token": "wrong-token-000000000", "csrf_token": csrf_of(c)})
            assert wrong.status_code == 401
        blocked = c.post("/signin", data={"token": TOKENS["admin"], "csrf_token": csrf_of(c)},
                         follow_redirects=False)
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
        assert "登录失败次数过多" in one(soup(blocked.text), ".alert.error").text
        assert c.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {TOKENS['admin']}"}
                     ).status_code == 429, "one limit for the pages and the API"
