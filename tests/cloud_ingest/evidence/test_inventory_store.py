"""Storing inventories: all or nothing, or the good rows when asked; merged, or replacing; the
import recorded."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from cloud_ingest import migrate
from cloud_ingest.evidence.inventory_file import TEMPLATE_HEADER, parse
from cloud_ingest.evidence.inventory_store import EnterpriseNotFound, InventoryRejected, rows, store
from tests.cloud_ingest.helpers import scalar

pytestmark = pytest.mark.integration


def _file(*lines: str) -> bytes:
    return ("\n".join([",".join(TEMPLATE_HEADER), *lines]) + "\n").encode()


A = "A,冲床 A,冲床,冲压车间,1 号线,是,是,是,设备管理,是,"
B = "B,冲床 B,冲床,冲压车间,1 号线,否,否,否,,是,"
BAD = "C,冲床 C,冲床,冲压车间,1 号线,也许,否,否,,是,"


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[psycopg.Connection]:
    migrate.migrate(pg_dsn)
    c = psycopg.connect(pg_dsn, autocommit=True)
    c.execute("INSERT INTO enterprises (code) VALUES ('ent')")
    yield c
    c.close()


def test_a_bad_row_changes_nothing(conn: psycopg.Connection, pg_dsn: str) -> None:
    store(
        conn, "ent", parse(_file(A), filename="a.csv"), source="a.csv", partial=False, replace=False, by="t"
    )
    with pytest.raises(InventoryRejected) as err:
        store(
            conn,
            "ent",
            parse(_file(B, BAD), filename="b.csv"),
            source="b.csv",
            partial=False,
            replace=True,
            by="t",
        )
    assert [(e.line, e.column) for e in err.value.errors] == [(3, "key_process")]
    assert [r["code"] for r in rows(conn, "ent")] == ["A"]
    assert scalar(pg_dsn, "SELECT count(*) FROM inventory_imports") == 1


def test_partial_keeps_the_good_rows_and_records_the_rejected(conn: psycopg.Connection, pg_dsn: str) -> None:
    res = store(
        conn,
        "ent",
        parse(_file(B, BAD), filename="b.csv"),
        source="b.csv",
        partial=True,
        replace=False,
        by="t",
    )
    assert (res.imported, len(res.rejected), res.mode) == (1, 1, "partial")
    assert scalar(pg_dsn, "SELECT rows_rejected FROM inventory_imports") == 1
    with pytest.raises(ValueError, match="cannot be combined"):
        store(
            conn, "ent", parse(_file(B), filename="b.csv"), source="b.csv", partial=True, replace=True, by="t"
        )


def test_merge_updates_and_replace_removes(conn: psycopg.Connection) -> None:
    store(
        conn,
        "ent",
        parse(_file(A, B), filename="a.csv"),
        source="a.csv",
        partial=False,
        replace=False,
        by="t",
    )
    b2 = B.replace("冲床 B", "冲床 B2")
    store(
        conn, "ent", parse(_file(b2), filename="b.csv"), source="b.csv", partial=False, replace=False, by="t"
    )
    assert [(r["code"], r["name"]) for r in rows(conn, "ent")] == [("A", "冲床 A"), ("B", "冲床 B2")]
    res = store(
        conn, "ent", parse(_file(b2), filename="c.csv"), source="c.csv", partial=False, replace=True, by="t"
    )
    assert res.removed == 1 and [r["code"] for r in rows(conn, "ent")] == ["B"]


def test_unknown_enterprise_unless_created(conn: psycopg.Connection) -> None:
    with pytest.raises(EnterpriseNotFound):
        store(
            conn,
            "ent-new",
            parse(_file(A), filename="a.csv"),
            source="a.csv",
            partial=False,
            replace=False,
            by="t",
        )
    store(
        conn,
        "ent-new",
        parse(_file(A), filename="a.csv"),
        source="a.csv",
        partial=False,
        replace=False,
        by="t",
        create=True,
    )
    assert [r["code"] for r in rows(conn, "ent-new")] == ["A"]
