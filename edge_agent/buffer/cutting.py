"""Cutting unsealed rows into numbered batches: a pure function, no SQLite.

A batch's seq and content are fixed when it is sealed, so the cloud can store idempotently on
(gateway, stream, seq) however often a batch goes over the wire. The cut runs in every commit
(the agent seals full batches in the same transaction as their rows), so it works on running
totals and bisects them instead of walking the rows one by one.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections import Counter as Tally
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedBatch:
    """A numbered batch of the buffer. ``samples_json`` is the JSON list of its samples in
    wire form, or ``""`` when the body was not kept in memory (read it with
    `DiskBuffer.batches`)."""

    seq: int
    sealed_ms: int
    n: int
    samples_json: str
    device: str | None = None  # set when every sample of the batch is of one device


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchLimits:
    """What one batch may hold: whole rows up to these sizes (at least one row)."""

    max_samples: int
    max_bytes: int
    one_device: bool = False  # Sparkplug: one device per batch (one DDATA each)


# A row stored and not yet sealed into a batch: (id, device, samples, size of the body, the
# body, or None when it is only on disk). A plain tuple: the buffer's thread makes one for
# every row it writes, holding the GIL, and a NamedTuple costs 0.4 µs more a row (measured).
TailRow = tuple[int, str, int, int, "str | None"]


BatchRecord = tuple[int, int, int, str, str]  # seq, sealed_ms, n, per_device, row_ids (JSON)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cut:
    """What a cut made: the batches (with their bodies when every row's body was in memory),
    their records for the batches table, the rows left, the next seq and the new watermark."""

    batches: list[SealedBatch]
    records: list[BatchRecord]
    tail: list[TailRow]
    next_seq: int
    sealed_to: int


def cut_batches(tail: list[TailRow], limits: BatchLimits, *, next_seq: int, sealed_to: int,
                now_ms: int, max_batches: int, full_only: bool) -> Cut:
    """Cut ``tail`` (unsealed rows in id order) into batches numbered from ``next_seq``, up to
    ``max_batches`` windows. ``full_only`` cuts only batches that are full by count or bytes:
    a partial one waits for more rows or for its linger time.

    A batch is the longest run of rows within both limits, and at least one row (a row larger
    than the limits is a batch of its own). With ``limits.one_device`` a window is split into
    one batch per device, in order of first appearance.
    """
    max_samples, max_bytes = limits.max_samples, limits.max_bytes
    seq = next_seq
    cum_n = list(itertools.accumulate((n for _, _, n, _, _ in tail), initial=0))
    cum_b = list(itertools.accumulate((size + 1 for _, _, _, size, _ in tail), initial=0))  # + comma
    made: list[SealedBatch] = []
    records: list[BatchRecord] = []
    at, rows = 0, len(tail)
    while at < rows and len(made) < max_batches:
        end = max(at + 1, min(bisect.bisect_right(cum_n, cum_n[at] + max_samples) - 1,
                              bisect.bisect_right(cum_b, cum_b[at] + max_bytes) - 1))
        taken, size = cum_n[end] - cum_n[at], cum_b[end] - cum_b[at]
        if full_only and end == rows and taken < max_samples and size < max_bytes:
            break  # partial: it waits for more rows or for its linger time
        window = tail[at:end]
        groups = _by_device(window) if limits.one_device else {None: window}
        for device, members in groups.items():
            per_device: Tally[str] = Tally()
            for _, dev, n, _, _ in members:
                per_device[dev] += n
            n_total = sum(per_device.values())
            records.append((seq, now_ms, n_total, json.dumps(per_device),
                            json.dumps([row_id for row_id, _, _, _, _ in members])))
            bodies = [body for _, _, _, _, body in members]
            body = "" if None in bodies else "[" + ",".join(bodies) + "]"  # type: ignore[arg-type]
            made.append(SealedBatch(seq=seq, sealed_ms=now_ms, n=n_total, samples_json=body,
                                    device=device))
            seq += 1
        sealed_to = window[-1][0]
        at = end
    return Cut(batches=made, records=records, tail=tail[at:], next_seq=seq, sealed_to=sealed_to)


def _by_device(window: list[TailRow]) -> dict[str | None, list[TailRow]]:
    groups: dict[str | None, list[TailRow]] = {}
    for row in window:
        groups.setdefault(row[1], []).append(row)
    return groups
