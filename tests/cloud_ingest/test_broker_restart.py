"""The broker restarts under the service: it reconnects, subscribes again and carries on."""

from __future__ import annotations

import pytest

from cloud_ingest import migrate
from tests.cloud_ingest.helpers import cloud_config, data, encode, publisher, running, scalar, wait_until
from tests.support import Mosquitto

pytestmark = pytest.mark.integration


def test_service_survives_a_broker_restart(pg_dsn: str, own_broker: Mosquitto, uid: str) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    addr = ("127.0.0.1", own_broker.port)
    cfg = cloud_config(pg_dsn, addr, ent, client_id=f"ingest-{uid}", persistent_session=True,
                       keepalive_s=5)
    with running(cfg):
        with publisher(addr, f"pub-{uid}") as pub:
            pub.publish([encode(data(ent, "gw1", s)) for s in range(1, 6)])
            wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 5, what="before restart")
        own_broker.stop()
        own_broker.start()  # persistence is off: the session is gone, the service must subscribe anew
        stored_before = scalar(pg_dsn, "SELECT count(*) FROM batches")

        def publish_after_restart() -> bool:
            # publish until the service has subscribed again (messages sent before are not queued)
            with publisher(addr, f"pub2-{uid}") as pub:
                pub.publish([encode(data(ent, "gw1", 6))])
            return scalar(pg_dsn, "SELECT count(*) FROM batches") == 6

        wait_until(publish_after_restart, timeout=60, what="resubscribed after broker restart")
        with publisher(addr, f"pub3-{uid}") as pub:
            pub.publish([encode(data(ent, "gw1", s)) for s in range(7, 11)])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 10, what="after restart")
    assert stored_before == 5
    assert scalar(pg_dsn, "SELECT count(*) FROM samples") == 100
