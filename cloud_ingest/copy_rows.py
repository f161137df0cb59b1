"""Samples → the bytes of a PostgreSQL binary COPY, grouped by tag.

This is the hot loop of ingest, so it is written for speed rather than generality:

- each row is packed by one precompiled ``struct`` call in the common case (a number, no text,
  no status code), instead of a generic per-value dumper (about 3x cheaper than ``write_row``);
- timestamps are int8 microseconds since 2000-01-01, which *is* the binary form of timestamptz;
- rows are grouped by tag before they are sent: gateways send time-ordered batches that
  interleave every tag, so in arrival order consecutive rows land on different leaves of the
  (tag_id, ts) index; grouped, they land on the same one, and the server loads about 1.4x faster
  (measured). Within a tag the rows keep their (time) order.

Column order: tag_id int4, ts timestamptz, read_ts timestamptz, value float8, value_text text,
quality int2, code int8, gateway_id int4, seq int8, value_exact numeric, reason text.

An integer beyond ±10^15 (float8 rounds beyond 2^53, and PostgreSQL's float8 → numeric cast
beyond 15 digits) takes the generic path: ``value`` gets the nearest double (for rollups) and
``value_exact`` the integer itself, as a binary numeric; every other row sends NULL there
(migration 019). ``reason`` says why a sample is not good (migration 010); a good sample keeps
none, so the fast row only grows by one NULL for it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any

import psycopg

PG_EPOCH_MS = 946_684_800_000  # 2000-01-01T00:00:00Z in Unix ms
COLUMNS = "tag_id, ts, read_ts, value, value_text, quality, code, gateway_id, seq, value_exact, reason"
NFIELDS = 11
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)

_QUALITY = {"good": 0, "uncertain": 1, "bad": 2}
_FAST = struct.Struct("!hiiiqiqidiihiiiiqii")  # number value; text, code, exact, reason NULL
_HEAD = struct.Struct("!hiiiqiq")  # field count, tag_id, ts, read_ts
_FLOAT = struct.Struct("!id")
_LEN = struct.Struct("!i")
_QUAL = struct.Struct("!ih")
_CODE = struct.Struct("!iq")
_TAIL = struct.Struct("!iiiq")  # gateway_id, seq
_NULL = _LEN.pack(-1)
# float8 holds every integer up to 2^53, but PostgreSQL's float8 -> numeric cast keeps only 15
# digits: from 10^15 on an integer goes into value_exact too, so coalesce(value_exact, value::numeric)
# is exact for every integer
EXACT_LIMIT = 10**15


def _numeric(n: int) -> bytes:
    """An integer as PostgreSQL's binary numeric: base-10000 digits, most significant first."""
    digits = []
    a = -n if n < 0 else n
    while a:
        a, r = divmod(a, 10000)
        digits.append(r)
    digits.reverse()
    weight = len(digits) - 1
    while digits and digits[-1] == 0:
        digits.pop()  # trailing zero digits are implied by the weight
    body = struct.pack(f"!hhHH{len(digits)}h", len(digits), weight, 0x4000 if n < 0 else 0, 0, *digits)
    return _LEN.pack(len(body)) + body


def _generic(tag: int, ts: int, rt: int, v: Any, q: int, code: int | None, gw: int, seq: int,
             reason: str | None) -> bytes:
    parts = [_HEAD.pack(NFIELDS, 4, tag, 8, ts, 8, rt)]
    exact = _NULL
    if v is None:
        parts += (_NULL, _NULL)
    elif type(v) is str:
        text = v.encode()
        parts += (_NULL, _LEN.pack(len(text)), text)
    else:
        parts += (_FLOAT.pack(8, float(v)), _NULL)
        if type(v) is int and not -EXACT_LIMIT <= v <= EXACT_LIMIT:
            exact = _numeric(v)
    parts.append(_QUAL.pack(2, q))
    parts.append(_NULL if code is None else _CODE.pack(8, code))
    parts.append(_TAIL.pack(4, gw, 8, seq))
    parts.append(exact)
    if reason is None:
        parts.append(_NULL)
    else:
        text = reason.encode()
        parts += (_LEN.pack(len(text)), text)
    return b"".join(parts)


def encode_batch(
    samples: Iterable[Mapping[str, Any]], *, tags: Mapping[tuple[str, str], int], gateway_id: int, seq: int,
    into: dict[int, list[bytes]],
) -> int:
    """Append one batch's rows to ``into`` (tag_id → packed rows); returns how many.

    Values the columns cannot hold (an int beyond int8 as code or beyond float8 as value, text
    that is not valid UTF-8) raise psycopg.DataError, which the ingestor treats like any row the
    database refused: that message goes to the dead letters.
    """
    fast, generic, quality, epoch, lim = _FAST.pack, _generic, _QUALITY, PG_EPOCH_MS, EXACT_LIMIT
    n = 0
    try:
        for s in samples:
            tag = tags[(s["d"], s["t"])]
            v = s["v"]
            q = quality[s.get("q", "good")]
            code = s.get("c")
            ts = (s["ts"] - epoch) * 1000
            rt = (s["rt"] - epoch) * 1000
            tv = type(v)
            if code is None and q == 0 and (tv is float or tv is bool or (tv is int and -lim <= v <= lim)):
                # a good number: no reason is kept (the wire's reason is for samples not good)
                row = fast(11, 4, tag, 8, ts, 8, rt, 8, float(v), -1, 2, q, -1, 4, gateway_id, 8, seq, -1, -1)
            else:
                row = generic(tag, ts, rt, v, q, code, gateway_id, seq, None if q == 0 else s.get("r"))
            bucket = into.get(tag)
            if bucket is None:
                into[tag] = [row]
            else:
                bucket.append(row)
            n += 1
    except (struct.error, OverflowError, UnicodeEncodeError) as err:
        raise psycopg.DataError(f"sample cannot be stored: {err}") from err
    return n


def copy_data(rows_by_tag: dict[int, list[bytes]]) -> bytes:
    """The complete COPY stream: signature, rows in tag order, trailer."""
    body = b"".join(chain.from_iterable(rows_by_tag[t] for t in sorted(rows_by_tag)))
    return SIGNATURE + body + TRAILER
