"""The register image of one simulated device: profile tags animated by generators.

Values are computed in engineering units by simulators.generators and encoded to raw
registers as (value - offset) / scale, clamped to the type's range. The image refreshes
lazily when read, at most every ``refresh_s`` seconds, so an idle simulator costs no CPU and
a polled one still moves at least ten times a second.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable

from collectors.modbus.codec import DecodeError, decode, encode
from collectors.modbus.standard import BIT_TABLES
from device_profiles.modbus import ModbusProfile, ModbusTag
from simulators.generators import Generator, make_generator

Value = float | int | bool | str


class DeviceImage:
    """Four tables (sparse) for one unit; ``overrides`` pins raw words for tests."""

    def __init__(self, profile: ModbusProfile, *, unit: int, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic, refresh_s: float = 0.1) -> None:
        """``refresh_s``: how stale a value may be when read (the simulator is lazy)."""
        self.profile = profile
        self.unit = unit
        self._clock = clock
        self._t0 = clock()
        self._refresh_s = refresh_s
        self._last = -1.0
        self._gens: list[tuple[ModbusTag, Generator]] = [
            (tag, make_generator(tag.sim, seed=seed * 1_000_003 + i)) for i, tag in enumerate(profile.tags)
        ]
        # per table, tags sorted by address, so a read refreshes only the tags it touches
        self._by_table: dict[str, list[tuple[int, int, int]]] = {}  # (address, end, index)
        for i, (tag, _) in enumerate(self._gens):
            self._by_table.setdefault(tag.table, []).append((tag.address, tag.address + tag.registers, i))
        for rows in self._by_table.values():
            rows.sort()
        self._widest = max((t.registers for t in profile.tags), default=1)
        self._stamp = [-1.0] * len(self._gens)
        self.words: dict[str, dict[int, int]] = {"holding": {}, "input": {}}
        self.bits: dict[str, dict[int, bool]] = {"coil": {}, "discrete_input": {}}
        self.overrides: dict[tuple[str, int], int | bool] = {}  # raw words/bits pinned
        self.held: dict[str, Value] = {}  # engineering values pinned (through the encoder)
        # last value served per tag, as a reader decodes it from the registers (a float32 tag
        # holds the float32 nearest the generator's value, an integer tag the rounded count)
        self.values: dict[str, Value] = {}
        # called with the values that changed, once per read that changed any (--record)
        self.on_served: Callable[[dict[str, Value]], None] | None = None
        self._changed: dict[str, Value] = {}
        self.refresh(force=True)

    def size(self, table: str) -> int:
        """How many registers (or bits) the server must hold for this table."""
        tags = [t for t in self.profile.tags if t.table == table]
        pinned = [a + 1 for (tb, a) in self.overrides if tb == table]
        return max([t.address + t.registers for t in tags] + pinned + [1])

    def refresh(self, *, force: bool = False) -> None:
        """Recompute every tag (at most every ``refresh_s`` unless forced)."""
        now = self._clock()
        if not force and now - self._last < self._refresh_s:
            return
        self._last = now
        for i in range(len(self._gens)):
            self._update(i, now)

    def refresh_range(self, table: str, first: int, end: int) -> None:
        """Recompute the tags overlapping addresses [first, end) that are older than refresh_s."""
        rows = self._by_table.get(table, [])
        now = self._clock()
        lo = bisect.bisect_left(rows, (first - self._widest, -1, -1))
        for address, tag_end, i in rows[lo:]:
            if address >= end:
                break
            if tag_end > first and now - self._stamp[i] >= self._refresh_s:
                self._update(i, now)

    def _update(self, i: int, now: float) -> None:
        tag, gen = self._gens[i]
        self._stamp[i] = now
        held = self.held.get(tag.name)
        self.set_value(tag, held if held is not None else gen(now - self._t0))

    def hold(self, tag_name: str, value: Value | None) -> None:
        """Serve ``value`` for the tag from now on (None: back to its generator). Exact for
        64-bit integers, which a generator (float) cannot carry."""
        idx = next((i for i, (t, _) in enumerate(self._gens) if t.name == tag_name), None)
        if idx is None:
            raise KeyError(f"profile {self.profile.profile} has no tag {tag_name!r}")
        if value is None:
            self.held.pop(tag_name, None)
        else:
            self.held[tag_name] = value
        self._update(idx, self._clock())

    def set_value(self, tag: ModbusTag, value: Value) -> None:
        """Serve ``value`` (engineering units) for ``tag`` until the next refresh."""
        if tag.table in BIT_TABLES:
            self.bits[tag.table][tag.address] = bool(value)
            self._served(tag.name, bool(value))
            return
        table = self.words[tag.table]
        n = tag.registers
        current = [table.get(tag.address + i, 0) for i in range(n)]
        order = self.profile.order_of(tag)
        words = encode(tag, _coerce(tag, value), order=order, current=current)
        for i, w in enumerate(words):
            table[tag.address + i] = w
        try:
            served = decode(tag, words, order=order)
        except DecodeError:
            served = _coerce(tag, value)
        self._served(tag.name, served)

    def _served(self, name: str, value: Value) -> None:
        if self.values.get(name) != value or name not in self.values:
            self._changed[name] = value
        self.values[name] = value

    def flush_served(self) -> None:
        if self._changed and self.on_served is not None:
            self.on_served(self._changed)
        self._changed = {}

    def fill(self, table: str, first: int, count: int, registers: list[int]) -> None:
        """Copy the current image into the server's block (registers: index == address;
        bit tables: ``first``/``count`` are 16-bit words holding 16 bits each, LSB first)."""
        if table in BIT_TABLES:
            self.refresh_range(table, first * 16, (first + count) * 16)
        else:
            self.refresh_range(table, first, first + count)
        self.flush_served()
        if table in BIT_TABLES:
            bits = self.bits[table]
            for w in range(first, min(first + count, len(registers))):
                word = 0
                for b in range(16):
                    addr = w * 16 + b
                    on = self.overrides.get((table, addr), bits.get(addr, False))
                    word |= int(bool(on)) << b
                registers[w] = word
            return
        words = self.words[table]
        for a in range(first, min(first + count, len(registers))):
            pinned = self.overrides.get((table, a))
            registers[a] = int(pinned) if pinned is not None else words.get(a, 0)


def _coerce(tag: ModbusTag, value: Value) -> Value:
    if tag.type == "string":
        return str(value)
    if tag.type == "bool":
        return bool(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return value
