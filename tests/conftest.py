from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support import BROKER_HOST, BROKER_PORT, Mosquitto, fresh_database, wait_port


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    with fresh_database() as dsn:
        yield dsn


@pytest.fixture
def broker() -> tuple[str, int]:
    """The shared Mosquitto of the machine; tests isolate themselves with unique topics/ids."""
    wait_port(BROKER_HOST, BROKER_PORT, timeout=5)
    return BROKER_HOST, BROKER_PORT


@pytest.fixture
def own_broker() -> Iterator[Mosquitto]:
    """A Mosquitto instance of this test's own, started; the test may stop and restart it."""
    m = Mosquitto()
    m.start()
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]
