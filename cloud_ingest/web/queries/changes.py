"""Whether anything the figures of a closed window read has arrived since they were computed.

A window that ended more than a day ago (``warm.CLOSED_AFTER``) is made of closed days, and
closed days change only by late data: a batch whose samples fall before the window's end plus
a day (the computation looks that far past the end for late batches, rejections and counter
reports), a dead letter of the enterprise, a birth or death of one of its gateways stamped
before then, or a new inventory import (the inventory is read as it is now). Nothing of those
since the figures were computed means computing them again would give the same figures. Each
check is one index range over what was stored since, so it costs far less than the figures.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cloud_ingest.web.queries import Conn

LOOK_PAST_END = timedelta(days=1)

_CHANGED = """
SELECT EXISTS (SELECT 1 FROM batches b JOIN gateways g ON g.id = b.gateway_id
               WHERE g.enterprise_id = e.id AND b.stored_at > %(since)s AND b.min_ts < %(upto)s)
    OR EXISTS (SELECT 1 FROM dead_letters d WHERE d.enterprise = e.code AND d.received_at > %(since)s)
    OR EXISTS (SELECT 1 FROM gateway_events ge JOIN gateways g ON g.id = ge.gateway_id
               WHERE g.enterprise_id = e.id AND ge.received_at > %(since)s
                 AND coalesce(ge.ts, ge.received_at) < %(upto)s)
    OR EXISTS (SELECT 1 FROM inventory_imports i WHERE i.enterprise_id = e.id AND i.imported_at > %(since)s)
    AS changed
FROM enterprises e WHERE e.code = %(code)s
"""


def changed_since(db: Conn, code: str, *, since: datetime, window_end: datetime) -> bool:
    """True if enterprise ``code`` got anything since ``since`` that its figures of a window
    ending at ``window_end`` read (True, too, for an enterprise that no longer exists)."""
    row = db.execute(_CHANGED, {"code": code, "since": since, "upto": window_end + LOOK_PAST_END}).fetchone()
    return True if row is None else bool(row["changed"] if isinstance(row, dict) else row[0])
