"""Integers beyond 2^53 read back exactly: an old schema upgraded in place (migration 019), a
uint64 energy register through the real broker and the service, and the API serving it."""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest
from fastapi.testclient import TestClient

from cloud_ingest import migrate
from cloud_ingest.api.app import create_app
from cloud_ingest.api.auth import TokenEntry, TokenStore
from cloud_ingest.config import CloudConfig, DatabaseConfig
from tests.cloud_ingest.helpers import T0, cloud_config, encode, publisher, rows, running, scalar, wait_until
from wire.json_v1 import DataMessage, WireSample

pytestmark = pytest.mark.integration

REGISTER = 4632251081920692269  # a uint64 the agent read over Modbus; as a double: ...224
TOKEN = "exact-admin-token-0123"


def _old_row(dsn: str) -> None:
    """A sample written by the schema before migration 019, straight in SQL."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO enterprises (code) VALUES ('ent-old')")
        conn.execute("INSERT INTO gateways (enterprise_id, code) SELECT id, 'gw-old' FROM enterprises")
        conn.execute("INSERT INTO devices (enterprise_id, gateway_id, code) SELECT enterprise_id, id, 'dev'"
                     " FROM gateways")
        conn.execute("INSERT INTO tags (device_id, name) SELECT id, 'energy' FROM devices")
        conn.execute("SELECT sfg_ensure_day_partition(to_timestamp(%s / 1000.0)::date)", (T0,))
        conn.execute("INSERT INTO batches (gateway_id, seq, session, sent_at, received_at, n_samples, min_ts,"
                     " max_ts) SELECT id, 1, 's', now(), now(), 1, now(), now() FROM gateways")
        conn.execute("INSERT INTO samples (tag_id, ts, read_ts, value, quality, gateway_id, seq)"
                     " SELECT t.id, to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0), 42.5, 0, g.id, 1"
                     " FROM tags t, gateways g", (T0, T0))


def test_an_existing_schema_upgrades_and_64_bit_integers_are_stored_and_served_exactly(
        pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    assert migrate.migrate(pg_dsn, target=8)[-1] == 8  # the schema as it was
    _old_row(pg_dsn)
    applied = migrate.migrate(pg_dsn)
    assert 19 in applied
    old = rows(pg_dsn, "SELECT value, value_exact FROM v_samples WHERE enterprise = 'ent-old'")
    assert old == [(42.5, None)]

    ent, gw = f"ent-{uid}", f"gw-{uid}"
    values = [REGISTER, 2**64 - 1, -(2**63), 2**53, 10**15 - 1, 7]
    msg = DataMessage(enterprise=ent, gateway=gw, session="s1", seq=1, sent=T0 + 10, samples=[
        WireSample(d="meter", t="energy", ts=T0 + i, rt=T0 + i, v=v) for i, v in enumerate(values)])
    topic, payload = encode(msg)
    assert str(REGISTER).encode() in payload  # JSON carries the integer as digits, exactly
    with running(cloud_config(pg_dsn, broker, ent)), publisher(broker, f"pub-{uid}") as pub:
        pub.publish([(topic, payload)])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 2, what="batch stored")
    got = rows(pg_dsn, "SELECT coalesce(value_exact, value::numeric) FROM v_samples WHERE enterprise = %s"
                       " ORDER BY ts", (ent,))
    assert [int(v) for (v,) in got] == values
    rounded = scalar(pg_dsn, "SELECT value FROM v_samples WHERE value_exact = %s", (REGISTER,))
    assert rounded == float(REGISTER)  # the nearest double, for the rollups

    tokens = TokenStore([TokenEntry(name="ops", role="admin",
                                    token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(CloudConfig(database=DatabaseConfig(dsn=pg_dsn)), tokens=tokens)) as client:
        series = client.get(f"/api/v1/enterprises/{ent}/devices/meter/tags/energy/series", headers=auth,
                            params={"start": "2025-12-31T00:00:00Z", "end": "2026-01-02T00:00:00Z",
                                    "resolution": "raw"})
        assert series.status_code == 200, series.text
        points = json.loads(series.text)["points"]  # Python's json keeps integers exact
        assert [p["value"] for p in points] == values
        assert [p["value_exact"] for p in points] == [str(v) for v in values[:4]] + [None, None]
        assert f'"value":{REGISTER},' in series.text
        latest = client.get(f"/api/v1/enterprises/{ent}/latest", headers=auth).json()
        assert [(r["tag"], r["value"], r["value_exact"]) for r in latest] == [("energy", 7.0, None)]
