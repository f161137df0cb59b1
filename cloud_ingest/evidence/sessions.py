"""A gateway's online stretches from the births and deaths the cloud received (docs/evidence.md §12).

Online from a birth until the last message received before its death — the broker publishes a
last will only when the keep-alive has expired, so the death itself arrives late — or before a
second birth with no death between (the connection dropped with no will). A will carries the
time its connection was set up (before that connection's birth), so a will older than the
birth *before* the current one belongs to an earlier connection (the broker noticing it after
the gateway had reconnected) and is ignored. A stretch still open at the end of the window
is closed at the last message if nothing arrived for ``stale_after_ms``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cloud_ingest.evidence.intervals import Span, clip, total


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    kind: Literal["birth", "death"]
    session: str
    ts: int | None  # gateway clock (the message's own time)
    received: int  # cloud clock
    reason: str | None = None
    last_before: int | None = None  # last message received from the gateway before this event


@dataclass(frozen=True, slots=True, kw_only=True)
class Stretch:
    session: str
    lo: int
    hi: int | None
    end_reason: Literal["death", "shutdown", "lost", "open"]


def stretches(
    events: Sequence[Event], *, now: int, last_message: int | None, stale_after_ms: int
) -> list[Stretch]:
    out: list[Stretch] = []
    cur: Event | None = None
    before: int | None = None  # gateway time of the birth before the current one
    for ev in sorted(events, key=lambda e: (e.received, e.kind != "death")):
        if ev.kind == "birth":
            if cur is not None:
                end = (
                    ev.last_before
                    if ev.last_before is not None and ev.last_before >= cur.received
                    else cur.received
                )
                out.append(Stretch(session=cur.session, lo=cur.received, hi=end, end_reason="lost"))
            before = cur.ts if cur is not None else before
            cur = ev
        elif cur is not None:
            if ev.ts is not None and before is not None and ev.ts <= before:
                continue  # the will of an earlier connection
            if ev.last_before is not None and ev.last_before >= cur.received:
                end = min(ev.last_before, ev.received)
            else:
                end = ev.received
            out.append(
                Stretch(
                    session=cur.session,
                    lo=cur.received,
                    hi=end,
                    end_reason="shutdown" if ev.reason == "shutdown" else "death",
                )
            )
            before, cur = cur.ts, None
    if cur is not None:
        quiet = last_message is not None and now - last_message > stale_after_ms
        if quiet and last_message is not None and last_message >= cur.received:
            out.append(Stretch(session=cur.session, lo=cur.received, hi=last_message, end_reason="lost"))
        else:
            out.append(Stretch(session=cur.session, lo=cur.received, hi=None, end_reason="open"))
    return out


def online_spans(items: Sequence[Stretch], *, window: Span) -> list[Span]:
    return clip(((s.lo, window[1] if s.hi is None else s.hi) for s in items), *window)


def online_ratio(items: Sequence[Stretch], *, window: Span) -> float:
    return total(online_spans(items, window=window)) / (window[1] - window[0])


def in_window(items: Sequence[Stretch], *, window: Span) -> list[Stretch]:
    """The stretches that overlap the window, clipped to it (an open one stays open)."""
    lo, hi = window
    out = []
    for s in items:
        end = hi if s.hi is None else s.hi
        if end > lo and s.lo < hi:
            out.append(
                Stretch(
                    session=s.session,
                    lo=max(s.lo, lo),
                    hi=None if s.hi is None or s.hi >= hi else s.hi,
                    end_reason="open" if s.hi is None or s.hi >= hi else s.end_reason,
                )
            )
    return out
