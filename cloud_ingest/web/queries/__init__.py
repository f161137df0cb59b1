"""The SQL behind the pages that the API does not already answer, one module per subject."""

from __future__ import annotations

from typing import Any, TypeAlias

import psycopg

Conn: TypeAlias = psycopg.Connection[dict[str, Any]]
"""A connection of the API's pool: rows as dicts, autocommit, UTC."""
