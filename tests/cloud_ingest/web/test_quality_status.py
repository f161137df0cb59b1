"""A device whose newest samples are bad is not 'delivering': the API's ``/devices/status``, the
live grid and the device page apply one rule (``cloud_ingest.liveness``) to what the real write
path stored. The fresh batch is written now and its tags announced at an hourly rate, so
"fresh" lasts hours and nothing depends on how fast the test runs."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from cloud_ingest import writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from cloud_ingest.web import session
from tests.cloud_ingest.helpers import T0
from tests.cloud_ingest.web.pages import TOKENS, client_for, fill, one, sign_in, soup
from wire.json_v1 import DataMessage, WireSample

pytestmark = pytest.mark.integration

SECRET = "a-session-key-for-the-quality-tests-0123456789"
NEWEST = T0 + 400_000  # after every sample fill() stored


def newest_samples(dsn: str) -> None:
    """Batch 7 of gw1: dev0's newest samples all bad (the gateway cannot read it), dev1's power
    bad and its state good; stored now, by the writer."""
    def s(dev: str, tag: str, q: str, v: float | str | None) -> WireSample:
        return WireSample(d=dev, t=tag, ts=NEWEST, rt=NEWEST + 5, v=v, q=q)

    msg = DataMessage(enterprise="ent-a", gateway="gw1", session="s1", seq=7, sent=NEWEST + 100, samples=[
        s("dev0", "power", "bad", None), s("dev0", "state", "bad", None),
        s("dev1", "power", "bad", None), s("dev1", "state", "good", "running")])
    with psycopg.connect(dsn, autocommit=True) as conn:
        writer.write(conn, [writer.Inbound(DataBatch.of(msg), NEWEST + 200)], registry=Registry(),
                     partitions=Partitions(flavor=flavor_of(conn)))
        conn.execute("UPDATE batches SET stored_at = now() WHERE seq = 7")
        conn.execute("UPDATE tags SET interval_ms = 3600000, heartbeat_ms = 3600000")


@pytest.fixture
def client(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(session.KEY_ENV, SECRET)
    fill(pg_dsn)
    newest_samples(pg_dsn)
    with client_for(pg_dsn) as c:
        yield c


def test_bad_newest_samples_are_not_delivering_in_the_api_grid_and_device_page(client: TestClient) -> None:
    api = client.get("/api/v1/enterprises/ent-a/devices/status",
                     headers={"Authorization": f"Bearer {TOKENS['admin']}"})
    assert api.status_code == 200
    status = {d["device"]: (d["status"], d["tags_good"], d["tags_bad"]) for d in api.json()}
    assert status == {"dev0": ("device_offline", 0, 2), "dev1": ("degraded", 1, 1)}

    sign_in(client, "reviewer")
    grid = soup(client.get("/enterprises/ent-a/live", headers={"HX-Request": "true"}).text)
    assert {c["data-device"]: c["data-state"] for c in grid.select("#live li.cell")} == \
        {"dev0": "device_offline", "dev1": "degraded"}
    for device, state in (("dev0", "device_offline"), ("dev1", "degraded")):
        page = soup(client.get(f"/enterprises/ent-a/devices/{device}").text)
        assert one(page, "#device-state")["data-state"] == state, device
    shown = one(soup(client.get("/enterprises/ent-a/devices/dev0").text), "#device-state")
    assert "设备离线" in shown.text


def test_good_fresh_samples_are_delivering(client: TestClient, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the same batch, read well this time
        conn.execute("UPDATE samples SET quality = 0 WHERE seq = 7")
    api = client.get("/api/v1/enterprises/ent-a/devices/status",
                     headers={"Authorization": f"Bearer {TOKENS['admin']}"}).json()
    assert {d["device"]: d["status"] for d in api} == {"dev0": "delivering", "dev1": "delivering"}
    sign_in(client, "admin")
    page = soup(client.get("/enterprises/ent-a/devices/dev0").text)
    assert one(page, "#device-state")["data-state"] == "delivering"
