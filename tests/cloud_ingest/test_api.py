"""The query API against a real database: roles, registry, series, latest values, status."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from cloud_ingest import migrate, rollups, writer
from cloud_ingest.api.app import create_app
from cloud_ingest.api.auth import TokenEntry, TokenStore
from cloud_ingest.batch import DataBatch
from cloud_ingest.config import ApiConfig, CloudConfig, ConfigError, DatabaseConfig
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from tests.cloud_ingest.helpers import T0, birth, cloud_config, data, running
from tests.support import free_port, wait_port
from wire.json_v1 import DeathMessage

pytestmark = pytest.mark.integration

ADMIN, REVIEWER = "admin-token-0123456789", "reviewer-token-012345"
ENT_A, ENT_B = "ent-a-token-0123456", "ent-b-tok-0123456789"


def _store(dsn: str) -> None:
    """Two enterprises: ent-a announced by a birth, 6 batches; ent-b known only from data."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)  # the plain or TimescaleDB layout, whichever migrate chose
        reg, parts = Registry(), Partitions(flavor=flavor)
        reg.apply_birth(conn, birth("ent-a", "gw1"), received_ms=T0)
        items = [writer.Inbound(DataBatch.of(data("ent-a", "gw1", s, n=60)), T0) for s in range(1, 7)]
        items.append(writer.Inbound(DataBatch.of(data("ent-b", "gwb", 1, n=10)), T0))
        writer.write(conn, items, registry=reg, partitions=parts)
        reg.apply_death(conn, DeathMessage(enterprise="ent-b", gateway="gwb", session="s1", ts=T0),
                        received_ms=T0)
        while rollups.roll_up_pending(conn, flavor=flavor):
            pass


@pytest.fixture
def client(pg_dsn: str) -> Iterator[TestClient]:
    migrate.migrate(pg_dsn)
    _store(pg_dsn)
    tokens = TokenStore([
        TokenEntry(name="ops", role="admin", token=ADMIN),
        TokenEntry(name="acceptance", role="reviewer",
                   token_sha256=hashlib.sha256(REVIEWER.encode()).hexdigest()),
        TokenEntry(name="dairy", role="enterprise", enterprise="ent-a", token=ENT_A),
        TokenEntry(name="other", role="enterprise", enterprise="ent-b", token=ENT_B),
    ])
    app = create_app(CloudConfig(database=DatabaseConfig(dsn=pg_dsn)), tokens=tokens)
    with TestClient(app) as c:
        yield c


def _get(c: TestClient, path: str, token: str, **params: object) -> httpx.Response:
    return c.get(f"/api/v1{path}", params=params, headers={"Authorization": f"Bearer {token}"})


def test_tokens_and_roles(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"ok": True}
    assert client.get("/api/v1/enterprises").status_code == 401
    assert _get(client, "/enterprises", "wrong-token-000000000").status_code == 401
    assert [e["code"] for e in _get(client, "/enterprises", ADMIN).json()] == ["ent-a", "ent-b"]
    assert [e["code"] for e in _get(client, "/enterprises", REVIEWER).json()] == ["ent-a", "ent-b"]
    assert [e["code"] for e in _get(client, "/enterprises", ENT_A).json()] == ["ent-a"]
    # an enterprise user cannot see another enterprise, not even that it exists
    for path in ("/enterprises/ent-b", "/enterprises/ent-b/devices", "/enterprises/ent-b/latest",
                 "/enterprises/ent-b/gateways/status", "/enterprises/ent-b/devices/dev0/tags/power/series"):
        r = _get(client, path, ENT_A)
        assert (r.status_code, r.json()) == (404, {"detail": "enterprise 'ent-b' not found"}), path
    assert _get(client, "/enterprises/no-such", ADMIN).json() == {"detail": "enterprise 'no-such' not found"}
    assert _get(client, "/enterprises/ent-b", ENT_B).status_code == 200
    assert _get(client, "/ingest/stats", ENT_A).status_code == 403
    assert _get(client, "/dead-letters", REVIEWER).status_code == 403
    assert _get(client, "/dead-letters", ADMIN).json() == []


def test_registry(client: TestClient) -> None:
    ent = _get(client, "/enterprises/ent-a", ENT_A).json()
    assert (ent["name"], ent["industry"], ent["district"], ent["gateways"], ent["devices"]) == (
        "Test Dairy", "food", "Saihan", 1, 2)
    devices = _get(client, "/enterprises/ent-a/devices", ENT_A).json()
    dev0 = devices[0]
    assert (dev0["code"], dev0["gateway"], dev0["workshop"], dev0["line"], dev0["key_process"]) == (
        "dev0", "gw1", "Filling", "line-1", True)
    assert [(t["name"], t["unit"], t["interval_ms"], t["report_mode"], t["heartbeat_ms"])
            for t in dev0["tags"]] == [
        ("power", "kW", 1000, "all", None), ("state", None, 5000, "change", 60_000)]
    assert _get(client, "/enterprises/ent-b", ADMIN).json()["registered_by"] == "data"


def test_series_raw_and_aggregated(client: TestClient) -> None:
    start, end = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"
    raw = _get(client, "/enterprises/ent-a/devices/dev0/tags/power/series", REVIEWER, start=start, end=end,
               resolution="raw").json()
    assert raw["resolution"] == "raw" and raw["unit"] == "kW" and not raw["truncated"]
    assert len(raw["points"]) == 90  # 360 samples, a quarter are dev0/power
    p0 = raw["points"][0]
    assert (p0["ts"], p0["read_ts"], p0["value"], p0["quality"]) == (
        "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.005000Z", 0.0, 0)
    assert p0["stored_ts"] > "2026"
    cut = _get(client, "/enterprises/ent-a/devices/dev0/tags/power/series", REVIEWER, start=start, end=end,
               resolution="raw", limit=10).json()
    assert cut["truncated"] and len(cut["points"]) == 10
    minutes = _get(client, "/enterprises/ent-a/devices/dev0/tags/power/series", ENT_A, start=start, end=end,
                   resolution="1m").json()
    assert sum(p["n"] for p in minutes["points"]) == 90 and len(minutes["points"]) == 6
    first = minutes["points"][0]
    assert (first["n"], first["min"], first["max"], first["avg"]) == (15, 0.0, 56.0, 28.0)
    # a long range picks the hourly aggregate by itself
    week = _get(client, "/enterprises/ent-a/devices/dev0/series", ENT_A, start="2025-12-01T00:00:00Z",
                end="2026-01-31T00:00:00Z").json()
    assert [(s["tag"], s["resolution"]) for s in week] == [("power", "1h"), ("state", "1h")]
    assert week[0]["points"][0]["n"] == 90 and week[1]["points"][0]["avg"] is None
    assert _get(client, "/enterprises/ent-a/devices/dev0/tags/nope/series", ENT_A).status_code == 404
    bad = _get(client, "/enterprises/ent-a/devices/dev0/series", ENT_A, start=end, end=start)
    assert bad.status_code == 422


def test_latest_and_status(client: TestClient) -> None:
    latest = _get(client, "/enterprises/ent-a/latest", ENT_A, device="dev1").json()
    assert [(x["tag"], x["ts"], x["value"], x["value_text"]) for x in latest] == [
        ("power", "2026-01-01T00:05:57Z", 357.0, None), ("state", "2026-01-01T00:05:59Z", None, "s359")]
    gws = _get(client, "/enterprises/ent-a/gateways/status", ENT_A).json()
    assert [(g["gateway"], g["online"], g["last_seq"], g["batches_stored"]) for g in gws] == [
        ("gw1", True, 6, 6)]
    assert gws[0]["counters"]["batches_published"] == 6
    ledger = _get(client, "/enterprises/ent-a/gateways/gw1/batches", ENT_A, from_seq=5).json()
    assert [(x["seq"], x["n_samples"], x["historical"]) for x in ledger] == [(5, 60, False), (6, 60, False)]
    assert _get(client, "/enterprises/ent-b/gateways/gwb/batches", ENT_A).status_code == 404
    b = _get(client, "/enterprises/ent-b/gateways/status", ENT_B).json()
    assert [(g["online"], g["death_reason"]) for g in b] == [(False, "lost")]
    # stale_factor stretches or shrinks "recent", so no test depends on the wall clock
    devs = _get(client, "/enterprises/ent-a/devices/status", ENT_A, stale_factor=10**6).json()
    assert [(d["device"], d["status"], d["key_process"]) for d in devs] == [
        ("dev0", "delivering", True), ("dev1", "delivering", False)]
    assert devs[0]["expected_interval_ms"] == 1000 and devs[0]["last_ts"] == "2026-01-01T00:05:58Z"
    stale = _get(client, "/enterprises/ent-a/devices/status", ENT_A, stale_factor=1e-9).json()
    assert {d["status"] for d in stale} == {"stale"}


def test_openapi_lists_the_versioned_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/enterprises/{enterprise}/devices/{device}/tags/{tag}/series" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200


def test_tokens_file(tmp_path: Path) -> None:
    f = tmp_path / "tokens.yaml"
    digest = hashlib.sha256(b"file-token-0123456789").hexdigest()
    f.write_text(f"- {{name: a, role: enterprise, enterprise: ent-a, token_sha256: {digest}}}\n")
    store = TokenStore.load(f)
    who = store.find("file-token-0123456789")
    assert who is not None and (who.role, who.enterprise) == ("enterprise", "ent-a")
    f.write_text("- {name: a, role: enterprise, token: short}\n")
    with pytest.raises(ConfigError) as info:
        TokenStore.load(f)
    assert str(f) in str(info.value)


def test_serve_runs_the_api(pg_dsn: str, broker: tuple[str, int], uid: str, tmp_path: Path) -> None:
    migrate.migrate(pg_dsn)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"- {{name: ops, role: admin, token: {ADMIN}}}\n")
    tokens.chmod(0o600)  # it holds a plain token: anything looser is refused
    port = free_port()
    cfg = cloud_config(pg_dsn, broker, f"ent-{uid}")
    cfg = cfg.model_copy(update={"api": ApiConfig(port=port, tokens_file=str(tokens))})
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with running(cfg, api=True):
        wait_port("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}/api/v1"
        assert httpx.get(f"{url}/health", timeout=5).json() == {"ok": True}
        r = httpx.get(f"{url}/ingest/stats", headers=auth, timeout=5)
        assert r.status_code == 200 and r.json()["worker"]["messages"] == 0
        assert httpx.get(f"{url}/enterprises", headers=auth, timeout=5).json() == []
        assert httpx.get(f"{url}/enterprises", timeout=5).status_code == 401
