"""The evidence and inventory routes: the same JSON as the computation, roles enforced (another
enterprise's token is answered 404 as if the enterprise did not exist), bad input 422."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from cloud_ingest.api.app import create_app
from cloud_ingest.api.auth import TokenEntry, TokenStore
from cloud_ingest.config import CloudConfig, DatabaseConfig
from cloud_ingest.evidence import compute
from cloud_ingest.evidence.inventory_file import TEMPLATE_HEADER
from tests.cloud_ingest.evidence.conftest import Small

pytestmark = pytest.mark.integration

ADMIN, REVIEWER = "admin-token-0123456789", "reviewer-token-012345"
OWN, OTHER = "own-ent-token-0123456", "other-ent-token-01234"
WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:10:00Z"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(small: Small) -> Iterator[TestClient]:
    tokens = TokenStore(
        [
            TokenEntry(name="ops", role="admin", token=ADMIN),
            TokenEntry(name="acc", role="reviewer", token=REVIEWER),
            TokenEntry(name="own", role="enterprise", enterprise=small.enterprise, token=OWN),
            TokenEntry(name="other", role="enterprise", enterprise="ent-other", token=OTHER),
        ]
    )
    with TestClient(create_app(CloudConfig(database=DatabaseConfig(dsn=small.dsn)), tokens=tokens)) as c:
        yield c


def test_the_same_json_as_the_computation(client: TestClient, small: Small) -> None:
    r = client.get(f"/api/v1/enterprises/{small.enterprise}/evidence", params=WINDOW, headers=auth(OWN))
    assert r.status_code == 200, r.text
    got = r.json()
    with psycopg.connect(small.dsn, autocommit=True) as conn:
        f = compute(
            conn,
            small.enterprise,
            start=datetime(2026, 1, 1, tzinfo=UTC),
            end=datetime(2026, 1, 1, 0, 10, tzinfo=UTC),
        )
    want = f.model_dump(mode="json")
    got.pop("generated_at")
    want.pop("generated_at")
    assert got == want
    assert got["schema_version"] == "1.0"


def test_roles(client: TestClient, small: Small) -> None:
    path = f"/api/v1/enterprises/{small.enterprise}/evidence"
    assert client.get(path, params=WINDOW, headers=auth(REVIEWER)).status_code == 200
    assert client.get(path, params=WINDOW, headers=auth(ADMIN)).status_code == 200
    other = client.get(path, params=WINDOW, headers=auth(OTHER))
    assert other.status_code == 404 and "not found" in other.json()["detail"]
    assert client.get(path, params=WINDOW).status_code == 401
    assert (
        client.get("/api/v1/enterprises/ent-nope/evidence", params=WINDOW, headers=auth(ADMIN)).status_code
        == 404
    )


def test_bad_windows_are_422(client: TestClient, small: Small) -> None:
    path = f"/api/v1/enterprises/{small.enterprise}/evidence"
    r = client.get(path, params={"start": WINDOW["end"], "end": WINDOW["start"]}, headers=auth(ADMIN))
    assert r.status_code == 422 and "结束时间必须晚于开始时间" in r.json()["detail"]
    r = client.get(path, params={"start": "2099-01-01T00:00:00Z"}, headers=auth(ADMIN))
    assert r.status_code == 422 and "future" in r.json()["detail"]
    assert client.get(path, params={"start": "yesterday"}, headers=auth(ADMIN)).status_code == 422


def _file(*rows: str) -> bytes:
    return ("\r\n".join([",".join(TEMPLATE_HEADER), *rows]) + "\r\n").encode("gbk")


def test_inventory_import_and_read(client: TestClient, small: Small) -> None:
    path = f"/api/v1/enterprises/{small.enterprise}/inventory"
    body = _file("m1,电表 1,电表,W1,L1,是,是,是,能源管理,是,", "press,冲床,冲床,W2,,是,否,否,,是,")
    assert client.post(path, content=body, headers=auth(REVIEWER)).status_code == 403
    assert client.post(path, content=body, headers=auth(OTHER)).status_code == 404
    r = client.post(path, content=body, params={"filename": "台账.csv"}, headers=auth(OWN))
    assert r.status_code == 200, r.text
    assert (r.json()["imported"], r.json()["encoding"]) == (2, "gbk/gb18030")
    got = client.get(path, headers=auth(REVIEWER)).json()
    assert [(x["code"], x["announced"]) for x in got] == [("m1", True), ("press", False)]
    bad = client.post(path, content=_file("m2,电表 2,电表,W1,L1,不知道,是,是,,是,"), headers=auth(ADMIN))
    assert bad.status_code == 422
    assert bad.json()["detail"]["rejected"] == [
        {"line": 2, "column": "key_process", "message": bad.json()["detail"]["rejected"][0]["message"]}
    ]
    assert len(client.get(path, headers=auth(ADMIN)).json()) == 2  # nothing changed
    r = client.get(
        f"/api/v1/enterprises/{small.enterprise}/evidence", params=WINDOW, headers=auth(OWN)
    ).json()
    assert r["networking_rate"] == 0.5 and r["inventory"]["unlisted_devices"] == ["m2"]
