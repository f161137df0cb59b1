"""Helpers of the page tests: a filled database, a client of the whole app (API + pages), signing
in through the real form, and the page as parsed HTML."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient

from cloud_ingest import migrate, rollups, writer
from cloud_ingest.api.app import create_app
from cloud_ingest.api.auth import TokenEntry, TokenStore
from cloud_ingest.batch import DataBatch
from cloud_ingest.config import ApiConfig, CloudConfig, DatabaseConfig, SigningConfig
from cloud_ingest.inbound import Rejected
from cloud_ingest.ingestor import store_dead_letters
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry
from cloud_ingest.timescale import flavor_of
from tests.cloud_ingest.helpers import T0, birth, data
from wire.json_v1 import DeathMessage

TOKENS = {"admin": "page-admin-token-012345", "reviewer": "page-reviewer-token-0123",
          "ent-a": "page-ent-a-token-0123456", "ent-b": "page-ent-b-token-0123456"}


def token_store() -> TokenStore:
    return TokenStore([
        TokenEntry(name="ops", role="admin", token=TOKENS["admin"]),
        TokenEntry(name="acceptance", role="reviewer",
                   token_sha256=hashlib.sha256(TOKENS["reviewer"].encode()).hexdigest()),
        TokenEntry(name="dairy", role="enterprise", enterprise="ent-a", token=TOKENS["ent-a"]),
        TokenEntry(name="other", role="enterprise", enterprise="ent-b", token=TOKENS["ent-b"]),
    ])


def fill(dsn: str) -> None:
    """ent-a (food, Saihan) announced by a birth with 6 batches; ent-b known only from data, its
    gateway dead; one dead letter. Through the real registry, writer and dead-letter store."""
    migrate.migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        flavor = flavor_of(conn)
        reg, parts = Registry(), Partitions(flavor=flavor)
        reg.apply_birth(conn, birth("ent-a", "gw1"), received_ms=T0)
        items = [writer.Inbound(DataBatch.of(data("ent-a", "gw1", s, n=60)), T0) for s in range(1, 7)]
        items.append(writer.Inbound(DataBatch.of(data("ent-b", "gwb", 1, n=10)), T0))
        writer.write(conn, items, registry=reg, partitions=parts)
        reg.apply_death(conn, DeathMessage(enterprise="ent-b", gateway="gwb", session="s1", ts=T0),
                        received_ms=T0)
        store_dead_letters(conn, [("shopfloor/v1/ent-a/gw1/data", b"{broken <script>", T0,
                                   Rejected("bad_json", "Expecting property name", "ent-a", "gw1")),
                                  ])
        while rollups.roll_up_pending(conn, flavor=flavor):
            pass
        # stored when received, on 2026-01-01, like the samples: the live states are then fixed
        conn.execute("UPDATE batches SET stored_at = received_at")


@contextmanager
def client_for(dsn: str, *, key_file: Path | None = None,
               api: ApiConfig | None = None) -> Iterator[TestClient]:
    signing = SigningConfig(key_file=str(key_file)) if key_file else SigningConfig()
    cfg = CloudConfig(database=DatabaseConfig(dsn=dsn, connect_timeout_s=2), signing=signing,
                      api=api or ApiConfig(token_cache_s=0))
    app = create_app(cfg, tokens=token_store())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def one(node: Tag, css: str) -> Tag:
    """The first element under ``node`` that ``css`` selects; a test reading it fails here, naming
    the selector, when the page has none (where ``select_one`` would hand back None)."""
    found = node.select_one(css)
    assert found is not None, f"nothing on the page matches {css!r}"
    return found


def attr(el: Tag, name: str) -> str:
    """Attribute ``name`` of ``el`` as the one string it must be (not missing, not a class-like list)."""
    value = el.get(name)
    assert isinstance(value, str), f"<{el.name}> {name}={value!r}, not one string"
    return value


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    form_token = soup(client.get(path).text).find("input", attrs={"name": "csrf_token"})
    assert form_token is not None, f"{path} has a form with a CSRF token"
    return str(form_token["value"])


def sign_in(client: TestClient, who: str, *, next_path: str = "/") -> None:
    r = client.post("/signin", data={"token": TOKENS[who], "csrf_token": csrf_of(client), "next": next_path},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
