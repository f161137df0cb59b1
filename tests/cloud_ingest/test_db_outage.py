"""The database goes away (a TCP proxy cut, refusing new connections): nothing acknowledged is lost.

Phase A: the service stays up through the outage, stops consuming, and resumes by itself.
Phase B: the service is stopped *during* an outage, holding unacknowledged messages, and a new
instance with the same client id (persistent session) gets them from the broker afterwards.
The outage lasts OUTAGE_S per phase (about 15 s in all); the ``soak`` variant holds it a minute.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from cloud_ingest import migrate
from cloud_ingest.config import CloudConfig
from simulators.network import TcpProxy
from tests.cloud_ingest.helpers import (
    clear_sessions,
    cloud_config,
    data,
    encode,
    publisher,
    running,
    scalar,
    wait_until,
)

pytestmark = pytest.mark.integration


def _via(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


def _batches(dsn: str) -> int:
    return int(scalar(dsn, "SELECT count(*) FROM batches"))


def _outage(pg_dsn: str, broker: tuple[str, int], uid: str, *, outage_s: float) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    target = urlsplit(pg_dsn)
    proxy = TcpProxy((target.hostname or "127.0.0.1", target.port or 5432))
    proxy.start()
    cfg: CloudConfig = cloud_config(_via(pg_dsn, proxy.port), broker, ent, client_id=f"ingest-{uid}",
                                    persistent_session=True, session_expiry_s=300)
    cfg = cfg.model_copy(update={
        "ingest": cfg.ingest.model_copy(update={"retry_max_s": 1.0}),
        "database": cfg.database.model_copy(update={"connect_timeout_s": 2.0}),
    })
    stream = [encode(data(ent, "gw1", s, n=20)) for s in range(1, 61)]
    try:
        with publisher(broker, f"pub-{uid}") as pub:
            with running(cfg):
                pub.publish(stream[:10])
                wait_until(lambda: _batches(pg_dsn) == 10, what="first 10 batches")

                # Phase A: outage while running
                proxy.cut()
                pub.publish(stream[10:35])
                time.sleep(outage_s)
                assert _batches(pg_dsn) == 10, "the outage was not real: batches were stored through it"
                proxy.start()
                wait_until(lambda: _batches(pg_dsn) == 35, timeout=60, what="resume after outage A")

                # Phase B: outage, then the service stops while holding unacknowledged messages
                proxy.cut()
                pub.publish(stream[35:])
                time.sleep(outage_s)
            assert _batches(pg_dsn) == 35
            proxy.start()
            with running(cfg):  # same client id: the broker redelivers what was never acked
                wait_until(lambda: _batches(pg_dsn) == 60, timeout=60, what="redelivery after restart")
                pub.publish(stream[20:25])  # and a replay on top, for good measure
                pub.publish([encode(data(ent, "gw1", 61, n=20))])
                wait_until(lambda: _batches(pg_dsn) == 61, timeout=60, what="sentinel")
    finally:
        proxy.close()
        clear_sessions(broker, [f"ingest-{uid}"])
    assert scalar(pg_dsn, "SELECT count(*) FROM samples") == 61 * 20
    assert scalar(pg_dsn, "SELECT count(*) FROM (SELECT DISTINCT tag_id, ts FROM samples) x") == 61 * 20
    assert scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 0


def test_database_outage_loses_nothing_acknowledged(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    _outage(pg_dsn, broker, uid, outage_s=7.5)


@pytest.mark.soak
def test_database_outage_of_a_minute(pg_dsn: str, broker: tuple[str, int], uid: str) -> None:
    _outage(pg_dsn, broker, uid, outage_s=60.0)
