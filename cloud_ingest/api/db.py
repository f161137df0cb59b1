"""The API's database access: a small connection pool, one connection per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


def make_pool(dsn: str, *, timeout_s: float) -> ConnectionPool:
    return ConnectionPool(
        dsn, min_size=1, max_size=4, timeout=timeout_s, open=False,
        kwargs={"autocommit": True, "row_factory": dict_row,
                "options": "-c statement_timeout=30000 -c TimeZone=UTC"},
    )


def connection(request: Request) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    pool: ConnectionPool = request.app.state.pool
    try:
        with pool.connection() as conn:
            yield conn  # type: ignore[misc]
    except (psycopg.OperationalError, TimeoutError) as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable") from err


Db = Annotated[psycopg.Connection[dict[str, Any]], Depends(connection)]
