"""The Modbus collector: one device, one connection, one poll per ``read()``.

A poll runs the device's request plan in order (a Modbus device answers one request at a
time anyway). What can go wrong, and what the caller sees:

- exception response (busy, illegal address, ...): the request's tags come back BAD with
  the code and its name; "illegal data address" on a merged block is bisected first, so
  only the tags the device really refuses stay BAD, and the plan remembers it;
- garbage or short answers: the request's tags come back BAD ("unusable answer");
- no answer within ``timeout_s``, or the connection dropped: ``DeviceUnreachable``; the
  supervisor (collectors.supervisor) marks every tag BAD and reconnects with backoff;
- exception 10 or 11 from a Modbus TCP gateway ("gateway path unavailable", "gateway target
  device failed to respond"): ``DeviceUnreachable`` too. The gateway answered for a device
  that did not, which is a timeout told in words, not a refusal by the device: the device
  is offline, and backing off spares the gateway's serial line (each such answer cost it a
  full serial timeout).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from collectors.base import CollectorError, DeviceUnreachable
from collectors.modbus import links
from collectors.modbus.block import BlockDecoder
from collectors.modbus.codec import DecodeError, decode
from collectors.modbus.config import limits_of, parse_endpoint, parse_options, serial_of
from collectors.modbus.planner import Limits, Plan, Request, halves
from collectors.modbus.pymodbus_client import (
    BadReply,
    ExceptionReply,
    LinkDown,
    LinkError,
    LinkTimeout,
    ModbusLink,
)
from collectors.modbus.standard import BIT_TABLES, ILLEGAL_ADDRESS, UNREACHABLE_CODES
from device_profiles.device import DeviceConfig
from device_profiles.modbus import ModbusProfile, ModbusTag
from wire.sample import Quality, Reading, Sample, SampleBlock, expand, good_sample, now_ms

# A poll's results so far, by tag name; a block is kept under its first tag's name.
_Out = dict[str, Sample | SampleBlock]


class ModbusCollector:
    """Reads one Modbus device (TCP, RTU over TCP or RTU serial) described by a profile."""

    def __init__(self, device: DeviceConfig, profile: ModbusProfile) -> None:
        self.device = device
        self.profile = profile
        self.endpoint = parse_endpoint(device.endpoint, device=device.id)
        self.options = parse_options(device, extra=dict(self.endpoint.query))
        self.unit = device.unit_id if device.unit_id is not None else profile.defaults.unit_id
        self._limits = limits_of(self.options, defaults=profile_limits(profile))
        self.plan = Plan.build(profile.tags, limits=self._limits)
        self.requests_sent = 0  # cumulative, for the benchmark and diagnostics
        self.polls = 0
        self._link: ModbusLink | None = None
        self._decoders: dict[int, BlockDecoder] = {}  # by id of the plan's request
        self._names = [t.name for t in profile.tags]

    async def __aenter__(self) -> Self:
        self._link = links.acquire(self.endpoint, serial=serial_of(self.options),
                                   timeout_s=self.device.timeout_s)
        try:
            await links.connect(self.endpoint, self._link)
        except LinkDown as err:
            links.release(self.endpoint, self._link)
            self._link = None
            raise DeviceUnreachable(f"device {self.device.id} at {self.endpoint}: {err}") from err
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._link is not None:
            links.release(self.endpoint, self._link)
            self._link = None

    async def read(self) -> list[Sample]:
        """One poll of every tag, in profile order."""
        each = {s.tag: s for s in expand(await self.read_blocks())}
        return [each[name] for name in self._names if name in each]

    async def read_blocks(self) -> Reading:
        """One poll, as `read` gives it but in the plan's order (the order requests went out,
        refused tags first), each request whose values all decoded as one `SampleBlock`
        instead of a sample a tag (collectors.base.BlockReader): no reordering, no object a
        point."""
        self.polls += 1
        if self.plan.bad and self.polls % self.options.reprobe_polls == 0:
            # a refused address may come back (module plugged in, device reconfigured)
            self.plan = Plan.build(self.profile.tags, limits=self._limits)
        out: _Out = {}
        ts = now_ms()
        for name, why in self.plan.bad.items():
            out[name] = Sample.bad(self.device.id, name, ts=ts, reason=why, code=ILLEGAL_ADDRESS)
        for req in list(self.plan.requests):
            await self._run(req, out, top=True)
        return list(out.values())

    async def _run(self, req: Request, out: _Out, *, top: bool) -> bool:
        """Read one request into ``out``; bisect on illegal address. True if it succeeded."""
        try:
            values = await self._fetch(req)
        except ExceptionReply as err:
            if err.code == ILLEGAL_ADDRESS and len(req.tags) > 1:
                await self._bisect(req, out)
                return False
            self._fail(req, out, reason=f"{req.describe()}: {err}", code=err.code)
            if err.code == ILLEGAL_ADDRESS and top:
                self.plan.replace(req, [], bad={t.name: f"{req.describe()}: {err}" for t in req.tags})
            return False
        except BadReply as err:
            self._fail(req, out, reason=f"{req.describe()}: {err}")
            return False
        self._samples(req, values, out)
        return True

    async def _bisect(self, req: Request, out: _Out) -> None:
        pieces: list[Request] = []
        bad: dict[str, str] = {}
        stack = list(halves(req))
        while stack:
            part = stack.pop(0)
            try:
                values = await self._fetch(part)
            except ExceptionReply as err:
                if err.code == ILLEGAL_ADDRESS and len(part.tags) > 1:
                    stack[:0] = halves(part)
                    continue
                reason = f"{part.describe()}: {err}"
                self._fail(part, out, reason=reason, code=err.code)
                if err.code == ILLEGAL_ADDRESS:
                    bad.update({t.name: reason for t in part.tags})
                else:
                    pieces.append(part)  # not an address problem: keep it, retry next poll
                continue
            except BadReply as err:
                self._fail(part, out, reason=f"{part.describe()}: {err}")
                pieces.append(part)
                continue
            self._samples(part, values, out)
            pieces.append(part)
        self.plan.replace(req, pieces, bad=bad)

    async def _fetch(self, req: Request) -> list[int] | list[bool]:
        if self._link is None:
            raise DeviceUnreachable(f"device {self.device.id}: read() outside 'async with'")
        self.requests_sent += 1
        try:
            return await self._link.read(req.table, req.start, req.count, unit=self.unit)
        except (LinkDown, LinkTimeout) as err:
            # A silent unit on a shared RS-485 line must not close the line for the others;
            # a lost connection or a TCP device's timeout (stale answers may follow) does.
            if isinstance(err, LinkDown) or links.shared_users(self.endpoint) == 0:
                self._link.close()
            raise DeviceUnreachable(
                f"device {self.device.id} at {self.endpoint} (unit {self.unit}), "
                f"reading {req.describe()}: {err}"
            ) from err
        except ExceptionReply as err:
            if err.code in UNREACHABLE_CODES:
                raise DeviceUnreachable(
                    f"device {self.device.id} at {self.endpoint} (unit {self.unit}), "
                    f"reading {req.describe()}: {err}; "
                    + UNREACHABLE_CODES[err.code].format(unit=self.unit)
                ) from err
            raise
        except BadReply:
            raise
        except LinkError as err:  # pragma: no cover - every LinkError is one of the above
            raise CollectorError(f"device {self.device.id}: {err}") from err

    def _samples(self, req: Request, values: list[int] | list[bool], out: _Out) -> None:
        """The request's samples, registers decoded a block at a time (collectors.modbus.block):
        one `SampleBlock` when every value decoded, keyed by the request's first tag; a sample
        a tag, the bad ones with the reason, when any did not."""
        ts = now_ms()
        dev = self.device.id
        if req.table in BIT_TABLES:
            try:
                bits = [bool(values[t.address - req.start]) for t in req.tags]
            except IndexError:
                for tag in req.tags:
                    out[tag.name] = self._sample(tag, req, values, ts)
                return
            out[req.tags[0].name] = SampleBlock(dev, ts, [t.name for t in req.tags], bits)
            return
        dec = self._decoders.get(id(req))
        if dec is None or dec.req is not req:
            dec = self._decoders[id(req)] = BlockDecoder(req, self.profile.order_of)
        decoded = dec.values(values)  # type: ignore[arg-type]
        if (dec.infallible and len(values) == req.count) or not any(
                isinstance(v, DecodeError) for v in decoded):
            out[dec.names[0]] = SampleBlock(dev, ts, dec.names, decoded)  # type: ignore[arg-type]
            return
        for tag, value in zip(req.tags, decoded, strict=True):
            if isinstance(value, DecodeError):
                out[tag.name] = Sample.bad(dev, tag.name, ts=ts, reason=str(value))
            else:
                out[tag.name] = good_sample(dev, tag.name, ts, value)

    def _sample(self, tag: ModbusTag, req: Request, values: list[int] | list[bool], ts: int) -> Sample:
        off = tag.address - req.start
        try:
            if tag.table in BIT_TABLES:
                value: float | int | bool | str = bool(values[off])
            else:
                words = [int(v) for v in values[off : off + tag.registers]]
                value = decode(tag, words, order=self.profile.order_of(tag))
        except (DecodeError, ValueError, IndexError) as err:
            return Sample.bad(self.device.id, tag.name, ts=ts, reason=f"tag {tag.name}: {err}")
        return Sample(self.device.id, tag.name, ts, value, Quality.GOOD)

    def _fail(self, req: Request, out: _Out, *, reason: str, code: int | None = None) -> None:
        ts = now_ms()
        for tag in req.tags:
            out[tag.name] = Sample.bad(self.device.id, tag.name, ts=ts, reason=reason, code=code)


def profile_limits(profile: ModbusProfile) -> Limits:
    """Planner limits a profile sets in its defaults; unset ones are the collector's."""
    d, base = profile.defaults, Limits()
    return Limits(
        max_gap_registers=base.max_gap_registers if d.max_gap_registers is None else d.max_gap_registers,
        max_block_registers=d.max_block_registers or base.max_block_registers,
        max_gap_bits=base.max_gap_bits if d.max_gap_bits is None else d.max_gap_bits,
        max_block_bits=d.max_block_bits or base.max_block_bits,
    )
