"""Every route of the OpenAPI schema the app generates, walked: without a token each answers
401 (all but /api/v1/health), and with an enterprise token each route about another enterprise
answers 403 or 404, and a route about no enterprise in particular answers 403/404 or shows
nothing of the other enterprise. Routes other helpers add later are walked as they appear."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from cloud_ingest import migrate, writer
from cloud_ingest.api.app import create_app
from cloud_ingest.api.auth import TokenEntry, TokenStore
from cloud_ingest.batch import DataBatch
from cloud_ingest.config import ApiConfig, CloudConfig, DatabaseConfig
from cloud_ingest.inbound import Rejected
from cloud_ingest.ingestor import store_dead_letters
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from tests.cloud_ingest.helpers import T0, birth, data

pytestmark = pytest.mark.integration

OWN, OTHER = "ent-own", "ent-other-x9"
OTHER_NAMES = (OTHER, "gw-other-x9")  # nothing of these may reach the own enterprise's token
OWN_TOKEN, ADMIN_TOKEN = "own-enterprise-token-0123", "admin-walk-token-01234567"
PUBLIC = {("get", "/api/v1/health")}
METHODS = ("get", "post", "put", "patch", "delete")
PATH_VALUES = {"enterprise": OTHER, "gateway": "gw-other-x9", "device": "dev0", "tag": "power"}
EXAMPLES = {"integer": 1, "number": 1, "boolean": True, "string": "x"}
FORMATS = {"date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01"}


def _store(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        reg, parts = Registry(), Partitions(flavor=flavor_of(conn))
        for ent, gw in ((OWN, "gw-own"), (OTHER, "gw-other-x9")):
            reg.apply_birth(conn, birth(ent, gw), received_ms=T0)
            writer.write(conn, [writer.Inbound(DataBatch.of(data(ent, gw, 1)), T0)], registry=reg,
                         partitions=parts)
        store_dead_letters(conn, [(f"shopfloor/v1/{OTHER}/gw-other-x9/data", b"{", T0,
                                   Rejected("bad_json", "x", OTHER, "gw-other-x9"))])


@pytest.fixture
def client(pg_dsn: str) -> Iterator[TestClient]:
    migrate.migrate(pg_dsn)
    _store(pg_dsn)
    tokens = TokenStore([TokenEntry(name="own", role="enterprise", enterprise=OWN, token=OWN_TOKEN),
                         TokenEntry(name="ops", role="admin", token=ADMIN_TOKEN)])
    # the walk fails authentication on purpose, route after route: no failure limit here
    cfg = CloudConfig(database=DatabaseConfig(dsn=pg_dsn), api=ApiConfig(auth_failures_max=10_000))
    with TestClient(create_app(cfg, tokens=tokens)) as c:
        yield c


def _example(schema: dict[str, Any]) -> Any:
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return _example(next(s for s in schema[key] if s.get("type") != "null"))
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    return FORMATS.get(schema.get("format", ""), EXAMPLES.get(schema.get("type", "string"), "x"))


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in sorted(spec["paths"].items()):
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _request(c: TestClient, method: str, path: str, op: dict[str, Any], token: str | None) -> Any:
    url, query = path, {}
    for p in op.get("parameters", []):
        value = PATH_VALUES.get(p["name"]) if p["in"] == "path" else None
        if p["in"] == "path":
            value = value if value is not None else _example(p["schema"])
            url = url.replace("{" + p["name"] + "}", str(value))
        elif p["in"] == "query" and (p.get("required") or p["name"] == "enterprise"):
            query[p["name"]] = OTHER if p["name"] == "enterprise" else _example(p["schema"])
    kw: dict[str, Any] = {"params": query,
                          "headers": {"Authorization": f"Bearer {token}"} if token else {}}
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        kw["json"] = {}
    elif "multipart/form-data" in content:
        kw["files"] = {"file": ("empty.csv", b"")}
    return c.request(method.upper(), url, **kw)


def test_the_walk_covers_the_routes(client: TestClient) -> None:
    ops = {(m, p) for m, p, _ in _operations(client.get("/openapi.json").json())}
    # the routes of today at least; new ones join the walk by themselves
    assert {("get", "/api/v1/enterprises/{enterprise}/devices/{device}/tags/{tag}/series"),
            ("get", "/api/v1/dead-letters"), ("get", "/api/v1/enterprises")} <= ops
    assert len(ops) >= 12


def test_no_token_is_401_everywhere_but_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    wrong = []
    for method, path, op in _operations(spec):
        for token in (None, "sfg_not-a-token-of-ours"):
            r = _request(client, method, path, op, token)
            expected = 200 if (method, path) in PUBLIC else 401
            if r.status_code != expected:
                wrong.append(f"{method.upper()} {path} with {token or 'no token'}: {r.status_code}")
    assert wrong == []


def test_another_enterprises_token_is_refused_everywhere(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    wrong = []
    for method, path, op in _operations(spec):
        if (method, path) in PUBLIC:
            continue
        r = _request(client, method, path, op, OWN_TOKEN)
        if "{enterprise}" in path:
            if r.status_code not in (403, 404):
                wrong.append(f"{method.upper()} {path}: {r.status_code} {r.text[:200]}")
        elif r.status_code not in (403, 404):
            leaked = [n for n in OTHER_NAMES if n in r.text]
            if r.status_code >= 300 or leaked:
                wrong.append(f"{method.upper()} {path}: {r.status_code}, shows {leaked or r.text[:200]}")
    assert wrong == []
    # and the same walk with an admin token does reach the other enterprise (the data is there)
    r = client.get(f"/api/v1/enterprises/{OTHER}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 200 and r.json()["code"] == OTHER
