"""A group of deliveries is stored in transactions bounded by samples, not payload bytes: the
MQTT source takes a group by bytes, and a gzipped message holds many more samples a byte.
Against the real database; the writer is only watched (each call is one transaction)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from cloud_ingest import migrate, writer
from cloud_ingest.config import CloudConfig, DatabaseConfig, IngestConfig
from cloud_ingest.delivery import Delivery
from cloud_ingest.ingestor import Ingestor
from tests.cloud_ingest.helpers import T0, birth, data, encode, scalar

pytestmark = pytest.mark.integration


@pytest.fixture
def db(pg_dsn: str) -> Iterator[str]:
    migrate.migrate(pg_dsn)
    yield pg_dsn


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The samples of each `writer.write` call the ingestor makes (the real one runs)."""
    sizes: list[int] = []
    real = writer.write

    def watched(conn: Any, items: Sequence[writer.Inbound], **kw: Any) -> writer.WriteResult:
        sizes.append(sum(len(i.msg.samples) for i in items))
        return real(conn, items, **kw)

    monkeypatch.setattr(writer, "write", watched)
    return sizes


def _deliveries(*payloads: tuple[str, bytes]) -> list[Delivery]:
    return [Delivery(t, p, i, 1, 0, T0) for i, (t, p) in enumerate(payloads)]


def test_a_group_is_stored_in_transactions_of_at_most_batch_max_samples(
        db: str, transactions: list[int]) -> None:
    ing = Ingestor(CloudConfig(database=DatabaseConfig(dsn=db), ingest=IngestConfig(batch_max_samples=25)),
                   stop=threading.Event())
    t, p = encode(data("ent-g", "gw1", 3, n=40))
    group = _deliveries(
        encode(birth("ent-g", "gw1")),
        *(encode(data("ent-g", "gw1", seq)) for seq in (1, 2)),
        (t, gzip.compress(p)),  # 40 samples: more than the bound, a transaction of its own
        *(encode(data("ent-g", "gw1", seq)) for seq in (4, 5, 6)),
    )
    assert ing.handle(group)
    assert transactions == [20, 40, 20, 10]
    assert scalar(db, "SELECT count(*) FROM samples") == 90
    assert scalar(db, "SELECT count(*) FROM batches") == 6
    assert ing.stats.messages == 7 and ing.stats.dead_letters == 0
    # the whole group again (as after a stop between two of its transactions): nothing twice
    assert ing.handle(group)
    assert scalar(db, "SELECT count(*) FROM samples") == 90
    assert ing.stats.duplicates == 6


def test_a_stop_while_the_database_is_away_leaves_the_group_unacknowledged(db: str) -> None:
    stop = threading.Event()
    ing = Ingestor(CloudConfig(database=DatabaseConfig(dsn=db.rpartition("/")[0] + "/sfg_no_such_db"),
                               ingest=IngestConfig(batch_max_samples=10)), stop=stop)
    stop.set()  # the first retry's wait ends at once
    assert not ing.handle(_deliveries(*(encode(data("ent-g", "gw1", seq)) for seq in (1, 2))))
    assert ing.abandoned == 1 and ing.stats.messages == 0 and ing.stats.db_retries == 1
