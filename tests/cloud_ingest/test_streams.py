"""A reinstalled gateway (wiped buffer) starts a new stream at seq 1: its batches are stored,
not taken for replays of the old stream's seq 1; replays within each stream stay idempotent."""

from __future__ import annotations

import pytest

from cloud_ingest import migrate
from tests.cloud_ingest.helpers import (
    cloud_config,
    data,
    encode,
    publisher,
    rows,
    running,
    scalar,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_a_new_stream_is_stored_and_each_stream_stays_idempotent(
    pg_dsn: str, broker: tuple[str, int], uid: str
) -> None:
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    migrate.migrate(pg_dsn)  # idempotent with the stream table too
    old = [data(ent, "gw1", s, t0=1_767_229_000_000 + s * 60_000).model_copy(update={"stream": "a" * 32})
           for s in (1, 2, 3)]
    new = [data(ent, "gw1", s, t0=1_767_329_000_000 + s * 60_000).model_copy(update={"stream": "b" * 32})
           for s in (1, 2)]
    with running(cloud_config(pg_dsn, broker, ent)), publisher(broker, f"pub-{uid}") as pub:
        pub.publish([encode(m) for m in old])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 3, what="old stream")
        pub.publish([encode(m) for m in new + old + new])  # the new stream, then replays of both
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 5, what="new stream")
        pub.publish([encode(data(ent, "gw1", 9, t0=1_767_429_000_000).model_copy(
            update={"stream": "b" * 32}))])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 6, what="sentinel")
    per_batch = 10  # data(): 10 samples over 2 devices
    assert scalar(pg_dsn, "SELECT count(*) FROM v_samples") == 6 * per_batch
    streams = rows(pg_dsn, "SELECT stream, base FROM gateway_streams ORDER BY base")
    assert streams == [("a" * 32, 0), ("b" * 32, 2**32)]
    seqs = [r[0] for r in rows(pg_dsn, "SELECT seq FROM batches ORDER BY seq")]
    assert seqs == [1, 2, 3, 2**32 + 1, 2**32 + 2, 2**32 + 9]


def test_the_first_stream_of_a_gateway_with_older_unnamed_batches_goes_above_them(
    pg_dsn: str, broker: tuple[str, int], uid: str
) -> None:
    """Batches from an agent that sent no stream id are base 0; the first named stream of the
    same gateway must not collide with them."""
    ent = f"ent-{uid}"
    migrate.migrate(pg_dsn)
    unnamed = [data(ent, "gw1", s, t0=1_767_229_000_000 + s * 60_000) for s in (1, 2)]
    named = [data(ent, "gw1", s, t0=1_767_329_000_000 + s * 60_000).model_copy(update={"stream": "c" * 32})
             for s in (1, 2)]
    with running(cloud_config(pg_dsn, broker, ent)), publisher(broker, f"pub-{uid}") as pub:
        pub.publish([encode(m) for m in unnamed])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 2, what="unnamed")
        pub.publish([encode(m) for m in named])
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 4, what="named stream")
    assert rows(pg_dsn, "SELECT stream, base FROM gateway_streams") == [("c" * 32, 2**32)]
