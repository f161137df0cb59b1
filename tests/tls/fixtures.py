"""Certificates and a TLS broker shared by the TLS tests (cloud ingest and edge agent): a module
imports `pki` and `tls_broker` from here (their conftest does), so both sides test against the
same Mosquitto setup and the same ACL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tls.broker import TlsMosquitto
from tests.tls.pki import Issued, TestCA

INGEST_PASSWORD = "ingest-pw-Zq81-secret"
GATEWAY_PASSWORD = "gateway-pw-Kd42-secret"


@dataclass(frozen=True)
class Pki:
    ca: TestCA
    other_ca: TestCA
    broker: Issued
    broker_expired: Issued
    ingest: Issued
    gateway: Issued  # CN gw-a: the ACL's %u
    ingest_expired: Issued
    ingest_foreign: Issued  # issued by another CA


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder: Path = tmp_path_factory.mktemp("pki")
    ca, other = TestCA(folder / "ca"), TestCA(folder / "other", name="other-ca")
    return Pki(
        ca=ca, other_ca=other,
        broker=ca.issue("broker", dns=("localhost",), server=True),
        broker_expired=ca.issue("broker-old", dns=("localhost",), server=True, expired=True),
        ingest=ca.issue("cloud-ingest"),
        gateway=ca.issue("gw-a"),
        ingest_expired=ca.issue("cloud-ingest-old", common_name="cloud-ingest", expired=True),
        ingest_foreign=other.issue("cloud-ingest-foreign", common_name="cloud-ingest"),
    )


@pytest.fixture(scope="module")
def tls_broker(pki: Pki) -> Iterator[TlsMosquitto]:
    m = TlsMosquitto(pki.ca, pki.broker, users={"cloud-ingest": INGEST_PASSWORD, "gw-a": GATEWAY_PASSWORD})
    m.start()
    try:
        yield m
    finally:
        m.close()
