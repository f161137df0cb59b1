"""Queries over the batch ledger, the per-device batch counts and the gateway counters: clock
offsets, late batches, latency bins, counter reports for the reconciliation and the gap causes.

Data times in the ledger are the gateway's; ``offsets`` (gateway id → ms to subtract) corrects
them where a clock was flagged. Batches are found by their source-time span, bounded by
``SPAN_SLACK_MS``: the gateway seals a batch within its linger time (at most a minute), so no
batch spans more than a day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cloud_ingest.evidence.queries_registry import Conn, ms, ts
from cloud_ingest.evidence.records import LateBatch, LedgerRow, ReportRow

SPAN_SLACK_MS = 86_400_000
# latency bins: 1 ms below a second, 1 % above (sign kept); see latency.bin_value
_BIN = (
    "CASE WHEN abs({x}) < 1000 THEN round({x})"
    " ELSE sign({x}) * round(exp(round(ln(abs({x})) * 100) / 100)) END"
)


def _offsets(gateway_ids: Sequence[int], offsets: Mapping[int, int]) -> dict[str, object]:
    return {"g": list(gateway_ids), "o": [int(offsets.get(g, 0)) for g in gateway_ids]}


_GW = "gw AS MATERIALIZED (SELECT * FROM unnest(%(g)s::int[], %(o)s::int8[]) AS x(gateway_id, off))"
# the same with each gateway's window bounds (gateway clock = window + offset) worked out once,
# not per batch (the per-row numeric arithmetic was most of these statements' time)
_GW_WINDOW = (
    "gw AS MATERIALIZED (SELECT x.gateway_id, x.off,"
    f" {ts('%(s)s + x.off - ' + str(SPAN_SLACK_MS))} AS min_from, {ts('%(e)s + x.off')} AS min_to,"
    f" {ts('%(s)s + x.off')} AS max_from, make_interval(secs => x.off / 1000.0) AS off_iv"
    " FROM unnest(%(g)s::int[], %(o)s::int8[]) AS x(gateway_id, off))"
)
# a batch's samples are in the window
_IN_WINDOW = " b.min_ts >= gw.min_from AND b.min_ts < gw.min_to AND b.max_ts >= gw.max_from"
_LATE = (
    "(b.historical OR b.stored_at - coalesce(b.max_rt, b.max_ts) + gw.off_iv"
    " > make_interval(secs => %(late)s))"
)


def clock_offsets(conn: Conn, gateway_ids: Sequence[int], *, start: int, end: int) -> dict[int, float]:
    """p90 of (sent − received) over each gateway's live batches received in the window."""
    rows = conn.execute(
        "SELECT b.gateway_id, percentile_cont(0.9) WITHIN GROUP (ORDER BY"
        f"  {ms('b.sent_at')} - {ms('b.received_at')})"
        f" FROM batches b WHERE b.gateway_id = ANY(%s) AND b.received_at >= {ts('%s')}"
        f" AND b.received_at < {ts('%s')} AND NOT b.historical GROUP BY 1",
        (list(gateway_ids), start, end),
    )
    return {r[0]: round(float(r[1]), 1) for r in rows}


def ledger(
    conn: Conn,
    gateway_ids: Sequence[int],
    offsets: Mapping[int, int],
    *,
    start: int,
    end: int,
    late_after_s: float,
) -> list[LedgerRow]:
    rows = conn.execute(
        f"WITH {_GW_WINDOW} SELECT b.gateway_id, count(*), count(*) FILTER (WHERE {_LATE}), sum(b.n_samples),"
        " count(DISTINCT b.seq >> 32) FROM gw JOIN batches b ON b.gateway_id = gw.gateway_id"
        f" WHERE {_IN_WINDOW} GROUP BY 1",
        {**_offsets(gateway_ids, offsets), "s": start, "e": end, "late": late_after_s},
    )
    return [
        LedgerRow(gateway_id=r[0], batches=r[1], late_batches=r[2], samples=int(r[3]), streams=r[4])
        for r in rows
    ]


def late_batches(
    conn: Conn,
    gateway_ids: Sequence[int],
    offsets: Mapping[int, int],
    *,
    start: int,
    end: int,
    late_after_s: float,
) -> list[LateBatch]:
    rows = conn.execute(
        f"WITH {_GW_WINDOW} SELECT b.gateway_id, b.seq, {ms('b.min_ts')}, {ms('b.max_ts')}, d.device_id, d.n"
        " FROM gw JOIN batches b ON b.gateway_id = gw.gateway_id"
        " JOIN batch_devices d ON d.gateway_id = b.gateway_id AND d.seq = b.seq"
        f" WHERE {_IN_WINDOW} AND {_LATE} ORDER BY b.gateway_id, b.min_ts",
        {**_offsets(gateway_ids, offsets), "s": start, "e": end, "late": late_after_s},
    )
    return [
        LateBatch(gateway_id=r[0], seq=r[1], min_ts=r[2], max_ts=r[3], device_id=r[4], n=r[5]) for r in rows
    ]


def latency_bins(
    conn: Conn, gateway_ids: Sequence[int], offsets: Mapping[int, int], *, start: int, end: int
) -> tuple[dict[str, list[tuple[float, int]]], dict[str, float | None], int]:
    """Per part (total, device_to_gateway, gateway_to_cloud, cloud_to_stored): (bin, samples)
    pairs, the exact maxima, and the number of samples. Each batch stands at the middle of its
    spans (docs/evidence.md §11); the maxima use the span's far end."""
    # one pass over the window's batches: each batch's times once (float8 epoch ms), its four
    # middle values binned, grouped by each bin column in turn (grouping sets), far ends as maxima
    parts = {
        "total": ("st - ((lo + hi) / 2 - off)", "st - (lo - off)"),
        "device_to_gateway": ("rt - hi", "rt - hi"),
        "gateway_to_cloud": ("rc - (rt - (hi - lo) / 2 - off)", "rc - (rt - (hi - lo) - off)"),
        "cloud_to_stored": ("st - rc", "st - rc"),
    }
    names = list(parts)
    e = "date_part('epoch', {}) * 1000".format
    cols = ", ".join(
        f"{_BIN.format(x='(' + m + ')')} AS b{i}, {x} AS f{i}" for i, (m, x) in enumerate(parts.values())
    )
    base = (
        f"WITH {_GW_WINDOW}, t AS MATERIALIZED (SELECT {e('b.min_ts')} AS lo, {e('b.max_ts')} AS hi,"
        f" {e('coalesce(b.max_rt, b.max_ts)')} AS rt, {e('b.stored_at')} AS st, {e('b.received_at')} AS rc,"
        f" gw.off::float8 AS off, b.n_samples FROM gw JOIN batches b ON b.gateway_id = gw.gateway_id"
        f" WHERE {_IN_WINDOW}), v AS (SELECT {cols}, n_samples FROM t)"
    )
    sets = ", ".join(f"(b{i})" for i in range(len(parts)))
    heads = ", ".join(f"b{i}::float8, max(f{i})::float8" for i in range(len(parts)))
    groups = ", ".join(f"grouping(b{i})" for i in range(len(parts)))
    selects = f"SELECT {heads}, sum(n_samples)::int8, {groups} FROM v GROUP BY GROUPING SETS ({sets})"
    bins: dict[str, list[tuple[float, int]]] = {}
    maxima: dict[str, float | None] = {}
    samples = 0
    k = len(names)
    for row in conn.execute(f"{base} {selects}", {**_offsets(gateway_ids, offsets), "s": start, "e": end}):
        n, flags = int(row[2 * k]), row[2 * k + 1 :]
        i = list(flags).index(0)  # the set this row is of: its column is the one not rolled up
        part, v, mx = names[i], row[2 * i], row[2 * i + 1]
        if v is None:
            continue
        bins.setdefault(part, []).append((float(v), n))
        if mx is not None:
            maxima[part] = max(maxima.get(part) or float("-inf"), round(float(mx), 1))
        if part == "total":
            samples += n
    return bins, maxima, samples


def reports(
    conn: Conn, gateway_ids: Sequence[int], device_ids: Sequence[int], offsets: Mapping[int, int], *, at: int
) -> list[ReportRow]:
    """Per gateway, stream and device: the counters of the last data message sent (gateway
    clock, corrected) before ``at``. One probe per (stream, device of the gateway) walking the
    (device_id, gateway_id, sent_at) index backwards; the "+ 0" keeps the planner off the primary
    key, which matches the stream's seq range too but would read and sort all its reports."""
    rows = conn.execute(
        f"WITH {_GW}, st AS MATERIALIZED (SELECT gw.gateway_id, gw.off, s.base FROM gw, LATERAL"
        "  (SELECT base FROM gateway_streams WHERE gateway_id = gw.gateway_id UNION SELECT 0) s)"
        f" SELECT st.gateway_id, st.base, c.seq, {ms('c.sent_at')}, c.device_id, c.read, c.published,"
        "  c.read_errors, c.skipped_polls, c.dropped"
        " FROM st JOIN devices d ON d.gateway_id = st.gateway_id AND d.id = ANY(%(d)s)"
        f" JOIN LATERAL (SELECT * FROM device_counters c WHERE c.device_id = d.id"
        f"  AND c.gateway_id = st.gateway_id AND c.sent_at < {ts('%(at)s + st.off')}"
        "  AND c.seq + 0 >= st.base AND c.seq + 0 < st.base + 4294967296"
        "  ORDER BY c.sent_at DESC LIMIT 1) c ON true",
        {**_offsets(gateway_ids, offsets), "d": list(device_ids), "at": at},
    )
    return [_report(r) for r in rows]


def _report(r: Sequence[Any]) -> ReportRow:
    return ReportRow(
        gateway_id=r[0],
        base=r[1],
        seq=r[2],
        sent=r[3],
        device_id=r[4],
        read=r[5],
        published=r[6],
        read_errors=r[7],
        skipped_polls=r[8],
        dropped={k: int(v) for k, v in (r[9] or {}).items()},
    )


_MARKS = (
    "WITH rq AS MATERIALIZED (SELECT x.g, x.base, x.a_seq, x.b_seq, ba.sent_at AS a_sent, bb.sent_at"
    " AS b_sent"
    "  FROM unnest(%s::int[], %s::int8[], %s::int8[], %s::int8[]) AS x(g, base, a_seq, b_seq)"
    "  LEFT JOIN batches ba ON ba.gateway_id = x.g AND ba.seq = x.a_seq"
    "  JOIN batches bb ON bb.gateway_id = x.g AND bb.seq = x.b_seq)"
)
# the stream's batches sent after the message a (none: from the first) up to and including b
_BETWEEN = (
    " JOIN batches b ON b.gateway_id = rq.g AND b.seq >= rq.base AND b.seq < rq.base + 4294967296"
    "  AND (b.sent_at, b.seq) <= (rq.b_sent, rq.b_seq)"
    "  AND (rq.a_seq IS NULL OR (b.sent_at, b.seq) > (rq.a_sent, rq.a_seq))"
)


def stored_after(
    conn: Conn, spans: Sequence[tuple[int, int, int | None, int]]
) -> dict[tuple[int, int, int], int]:
    """Samples per (gateway, stream base, device) stored from the stream's batches sent after
    the message ``a_seq`` (None: from the first) up to and including the message ``b_seq``.

    Those batches are nearly always one unbroken run of seqs: then the per-device counts of that
    run are summed by one range scan (a month is 432,000 of them); otherwise batch by batch."""
    if not spans:
        return {}
    params = ([s[0] for s in spans], [s[1] for s in spans], [s[2] for s in spans], [s[3] for s in spans])
    runs = conn.execute(
        f"{_MARKS} SELECT rq.g, rq.base, count(*), min(b.seq), max(b.seq) FROM rq{_BETWEEN} GROUP BY 1, 2",
        params,
    ).fetchall()
    whole = [(g, base, lo, hi) for g, base, k, lo, hi in runs if k == hi - lo + 1]
    out: dict[tuple[int, int, int], int] = {}
    if whole:
        for g, base, dev, n in conn.execute(
            "SELECT x.g, x.base, d.device_id, sum(d.n)::int8"
            " FROM unnest(%s::int[], %s::int8[], %s::int8[], %s::int8[]) AS x(g, base, lo, hi)"
            " JOIN batch_devices d ON d.gateway_id = x.g AND d.seq >= x.lo AND d.seq <= x.hi"
            " GROUP BY 1, 2, 3",
            ([w[0] for w in whole], [w[1] for w in whole], [w[2] for w in whole], [w[3] for w in whole]),
        ):
            out[(g, base, dev)] = int(n)
    done = {(w[0], w[1]) for w in whole}
    broken = [s for s in spans if (s[0], s[1]) not in done]
    if broken:
        rows = conn.execute(
            f"{_MARKS} SELECT rq.g, rq.base, d.device_id, sum(d.n)::int8 FROM rq{_BETWEEN}"
            " JOIN batch_devices d ON d.gateway_id = b.gateway_id AND d.seq = b.seq GROUP BY 1, 2, 3",
            ([s[0] for s in broken], [s[1] for s in broken], [s[2] for s in broken], [s[3] for s in broken]),
        )
        out.update({(r[0], r[1], r[2]): int(r[3]) for r in rows})
    return out


def stream_totals(
    conn: Conn, marks: Sequence[tuple[int, int, int]]
) -> dict[tuple[int, int, int], tuple[int, int]]:
    """For (gateway, stream base, message seq): (samples stored from the stream's batches sent
    up to and including that message, samples the message's counters say were published)."""
    if not marks:
        return {}
    rows = conn.execute(
        "SELECT x.g, x.base, x.k,"
        " (SELECT coalesce(sum(b.n_samples), 0)::int8 FROM batches b WHERE b.gateway_id = x.g"
        "   AND b.seq >= x.base AND b.seq < x.base + 4294967296 AND (b.sent_at, b.seq) <= (m.sent_at,"
        " m.seq)),"
        " (SELECT coalesce(sum(c.published), 0)::int8 FROM device_counters c WHERE c.gateway_id = x.g"
        "   AND c.seq = x.k)"
        " FROM unnest(%s::int[], %s::int8[], %s::int8[]) AS x(g, base, k)"
        " JOIN batches m ON m.gateway_id = x.g AND m.seq = x.k",
        ([m[0] for m in marks], [m[1] for m in marks], [m[2] for m in marks]),
    )
    return {(r[0], r[1], r[2]): (int(r[3]), int(r[4])) for r in rows}


def around(
    conn: Conn, requests: Sequence[tuple[int, int, int, int]]
) -> list[tuple[ReportRow | None, ReportRow | None]]:
    """For (device, lo, hi, until) in the gateway's clock: the device's last counter report sent
    before lo, and after the stretch the last report sent in [hi, until) — or the first after hi
    when there is none. (Counters ride on messages up to a second stale, and a buffer that drops
    the oldest data counts the drops when it overflows, later than the data it drops: the last
    report before the next stretch holds them.)"""
    if not requests:
        return []
    cols = (
        "c.gateway_id, c.seq >> 32 << 32, c.seq, {sent}, c.device_id, c.read, c.published, c.read_errors,"
        " c.skipped_polls, c.dropped".format(sent=ms("c.sent_at"))
    )
    rows = conn.execute(
        f"SELECT x.k, b.*, a.*, a1.* FROM unnest(%s::int[], %s::int8[], %s::int8[], %s::int8[])"
        f" WITH ORDINALITY AS x(d, lo, hi, until, k) JOIN devices dv ON dv.id = x.d"
        f" LEFT JOIN LATERAL (SELECT {cols} FROM device_counters c WHERE c.device_id = x.d"
        f"  AND c.gateway_id = dv.gateway_id AND c.sent_at < {ts('x.lo')} ORDER BY c.sent_at DESC LIMIT"
        " 1) b ON true"
        f" LEFT JOIN LATERAL (SELECT {cols} FROM device_counters c WHERE c.device_id = x.d"
        f"  AND c.gateway_id = dv.gateway_id AND c.sent_at >= {ts('x.hi')} AND c.sent_at < {ts('x.until')}"
        "  ORDER BY c.sent_at DESC LIMIT 1) a ON true"
        f" LEFT JOIN LATERAL (SELECT {cols} FROM device_counters c WHERE c.device_id = x.d"
        f"  AND c.gateway_id = dv.gateway_id AND c.sent_at >= {ts('x.hi')} ORDER BY c.sent_at LIMIT 1)"
        " a1 ON true"
        " ORDER BY x.k",
        (
            [r[0] for r in requests],
            [r[1] for r in requests],
            [r[2] for r in requests],
            [r[3] for r in requests],
        ),
    )
    out = []
    for r in rows:
        before = None if r[1] is None else _report(r[1:11])
        after = _report(r[11:21]) if r[11] is not None else None if r[21] is None else _report(r[21:31])
        out.append((before, after))
    return out


def stream_starts(conn: Conn, gateway_ids: Sequence[int]) -> dict[tuple[int, int], int]:
    """When the cloud received the first batch of each stream of these gateways."""
    rows = conn.execute(
        f"SELECT s.g, s.base, (SELECT {ms('b.received_at')} FROM batches b WHERE b.gateway_id = s.g"
        "  AND b.seq >= s.base AND b.seq < s.base + 4294967296 ORDER BY b.seq LIMIT 1)"
        " FROM (SELECT gateway_id AS g, base FROM gateway_streams WHERE gateway_id = ANY(%(g)s)"
        "  UNION SELECT g, 0 FROM unnest(%(g)s::int[]) AS x(g)) s",
        {"g": list(gateway_ids)},
    )
    return {(r[0], r[1]): r[2] for r in rows if r[2] is not None}


def pending(conn: Conn, gateway_ids: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
    """Source-time spans of batches the rollup maintenance has not reached yet, per gateway."""
    out: dict[int, list[tuple[int, int]]] = {}
    for g, lo, hi in conn.execute(
        f"SELECT gateway_id, {ms('min_ts')}, {ms('max_ts')} + 1 FROM batches"
        " WHERE NOT rolled_up AND gateway_id = ANY(%s)",
        (list(gateway_ids),),
    ):
        out.setdefault(g, []).append((lo, hi))
    return out
