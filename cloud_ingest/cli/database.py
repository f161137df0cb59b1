"""The command line's database errors: `cloud_ingest.db_errors` says what is wrong and what to
do next; a command exits 1 with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloud_ingest.db_errors import describe
from common.cli import CommandFailed

if TYPE_CHECKING:
    import psycopg

    from cloud_ingest.config import CloudConfig


def database_error(err: psycopg.Error, cfg: CloudConfig) -> CommandFailed:
    return CommandFailed(describe(err, cfg.dsn()))
