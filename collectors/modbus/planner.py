"""Request planning: read every tag with the fewest requests the device accepts.

Tags of the same table are sorted by address and merged into one request while the merged
block stays within ``max_block`` and the hole between neighbours is at most ``max_gap``
(reading a few unused registers is cheaper than another round trip on RS-485 at 9600 baud).

Many devices answer "illegal data address" when a block touches a register they do not
implement, even if every tag inside it is fine. The collector then calls ``split`` on the
failed request: it is halved (by tags) until the pieces succeed or a single tag fails. The
plan remembers the outcome — working pieces replace the block, failing tags go to
``bad`` — so the next poll costs no extra requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from collectors.modbus.standard import BIT_TABLES, MAX_BITS, MAX_REGISTERS, Table
from device_profiles.modbus import ModbusTag


@dataclass(frozen=True, slots=True)
class Request:
    """One read: ``count`` registers (or bits) of ``table`` from ``start``."""

    table: Table
    start: int
    count: int
    tags: tuple[ModbusTag, ...]

    @property
    def end(self) -> int:
        return self.start + self.count

    def describe(self) -> str:
        return f"{self.table} {self.start}..{self.end - 1}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    max_gap_registers: int = 10
    max_block_registers: int = MAX_REGISTERS
    max_gap_bits: int = 64
    max_block_bits: int = MAX_BITS

    def for_table(self, table: str) -> tuple[int, int]:
        if table in BIT_TABLES:
            return self.max_gap_bits, self.max_block_bits
        return self.max_gap_registers, self.max_block_registers


def _span(tag: ModbusTag) -> tuple[int, int]:
    return tag.address, tag.address + tag.registers


def _request(table: Table, tags: Iterable[ModbusTag]) -> Request:
    tags = tuple(tags)
    start = min(t.address for t in tags)
    end = max(_span(t)[1] for t in tags)
    return Request(table, start, end - start, tags)


def merge(tags: Iterable[ModbusTag], *, limits: Limits) -> list[Request]:
    """Merge tags into requests, table by table, in address order."""
    by_table: dict[str, list[ModbusTag]] = {}
    for tag in tags:
        by_table.setdefault(tag.table, []).append(tag)
    out: list[Request] = []
    for table in ("coil", "discrete_input", "holding", "input"):
        group = sorted(by_table.get(table, []), key=_span)
        max_gap, max_block = limits.for_table(table)
        current: list[ModbusTag] = []
        start = end = 0
        for tag in group:
            t_start, t_end = _span(tag)
            if current and t_start - end <= max_gap and max(end, t_end) - start <= max_block:
                current.append(tag)
                end = max(end, t_end)
                continue
            if current:
                out.append(_request(table, current))
            current, start, end = [tag], t_start, t_end
        if current:
            out.append(_request(table, current))
    return out


def halves(req: Request) -> tuple[Request, Request]:
    """Split a multi-tag request into two by tags (address order), for bisecting a failure."""
    tags = sorted(req.tags, key=_span)
    mid = len(tags) // 2
    return _request(req.table, tags[:mid]), _request(req.table, tags[mid:])


def coalesce(pieces: Iterable[Request], *, limits: Limits) -> list[Request]:
    """Re-join pieces that the device answered and that touch or overlap: the joined block
    reads only registers already proven readable, so it cannot fail where they did not."""
    out: list[Request] = []
    for piece in sorted(pieces, key=lambda r: (r.table, r.start)):
        prev = out[-1] if out else None
        _, max_block = limits.for_table(piece.table)
        if (prev is not None and prev.table == piece.table and piece.start <= prev.end
                and max(prev.end, piece.end) - prev.start <= max_block):
            out[-1] = _request(piece.table, prev.tags + piece.tags)
        else:
            out.append(piece)
    return out


@dataclass
class Plan:
    """The requests of one device, adapted as the device reveals what it cannot serve."""

    requests: list[Request]
    limits: Limits = field(default_factory=Limits)
    bad: dict[str, str] = field(default_factory=dict)  # tag name -> why it is not read

    @classmethod
    def build(cls, tags: Iterable[ModbusTag], *, limits: Limits) -> Plan:
        return cls(merge(tags, limits=limits), limits)

    def replace(self, old: Request, pieces: list[Request], *, bad: dict[str, str]) -> None:
        """Remember what bisecting ``old`` found: readable pieces (re-joined where they touch)
        and unreadable tags."""
        i = self.requests.index(old)
        self.requests[i : i + 1] = coalesce(pieces, limits=self.limits)
        self.bad.update(bad)
