"""Where a package's figures come from: the one evidence computation (``cloud_ingest.evidence``,
docs/evidence.md), called once per build. Kept to this one function so the package side depends
on nothing of the figures' internals: the figures JSON is the contract."""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

import psycopg

COMPUTATION = "cloud_ingest.evidence"


class FiguresUnavailable(Exception):
    """The figures computation is not part of this installation."""


def figures_from_database(
    conn: psycopg.Connection[Any], enterprise: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """The figures JSON of ``enterprise`` for [start, end), as `evidence figures --json` prints it."""
    try:
        module = importlib.import_module(COMPUTATION)
        compute = module.compute_figures
    except (ImportError, AttributeError) as err:
        raise FiguresUnavailable(
            f"证据指标计算模块缺失 the figures computation "
            f"({COMPUTATION}.compute_figures) "
            "is not installed in this build; reinstall the product"
        ) from err
    figures: dict[str, Any] = compute(conn, enterprise=enterprise, start=start, end=end)
    return figures
