"""Interoperability: the collector against pyModbusTCP's server, and the simulator read by
pyModbusTCP's client, so collector and simulator cannot merely agree with each other."""

from __future__ import annotations

import asyncio

import pytest
from pyModbusTCP.client import ModbusClient

from collectors.base import DeviceUnreachable
from collectors.modbus import ModbusCollector
from collectors.supervisor import DeviceSupervisor
from common.backoff import Backoff
from tests.collectors.modbus.cases import assert_matches, encoding_case
from tests.collectors.modbus.helpers import device, make_profile, running_sim
from tests.collectors.modbus.interop_server import InteropServer
from wire.sample import Quality


@pytest.mark.parametrize("table", ["holding", "input"])
async def test_every_encoding_from_an_independent_server(table: str) -> None:
    case = encoding_case(table)
    with InteropServer() as srv:
        srv.load(case.words, case.bits)
        async with ModbusCollector(device(srv.port), case.profile) as c:
            samples = await c.read()
    assert all(s.quality is Quality.GOOD for s in samples), [s for s in samples if s.reason]
    assert_matches({s.tag: s.value for s in samples}, case.expect)


async def test_simulator_registers_read_by_an_independent_client() -> None:
    # 10.0 is 0x41200000; 12345.67 kWh at 0.01 is 1234567 = 0x0012D687; -12.5 at 0.1 is -125
    prof = make_profile([
        {"name": "f_abcd", "address": 0, "type": "float32", "sim": {"kind": "constant", "value": 10.0}},
        {"name": "f_cdab", "address": 2, "type": "float32", "order": "CDAB",
         "sim": {"kind": "constant", "value": 10.0}},
        {"name": "e", "address": 4, "type": "uint32", "scale": 0.01, "order": "DCBA",
         "sim": {"kind": "constant", "value": 12345.67}},
        {"name": "t", "address": 6, "type": "int16", "scale": 0.1, "order": "BADC",
         "sim": {"kind": "constant", "value": -12.5}},
        {"name": "b", "address": 7, "type": "bcd16", "sim": {"kind": "constant", "value": 1234}},
        {"name": "s", "address": 8, "type": "string", "length": 2,
         "sim": {"kind": "constant", "value": "AB7"}},
        {"name": "c", "table": "coil", "address": 9, "type": "bool",
         "sim": {"kind": "constant", "value": True}},
    ])
    async with running_sim(prof) as sim:
        def read() -> tuple[list[int] | None, list[bool] | None]:
            cli = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=5)
            try:
                return cli.read_holding_registers(0, 10), cli.read_coils(8, 3)
            finally:
                cli.close()

        regs, coils = await asyncio.to_thread(read)
    assert regs == [0x4120, 0x0000, 0x0000, 0x4120, 0x87D6, 0x1200, 0x83FF, 0x1234, 0x4142, 0x3700]
    assert coils == [False, True, False]


async def test_strings_keep_their_spaces_from_simulator_to_supervisor_and_an_independent_client() -> None:
    # issue 16: "LINE-01 " must arrive as "LINE-01 "; only the NUL padding goes
    prof = make_profile([
        {"name": "trailing", "address": 0, "type": "string", "length": 6,
         "sim": {"kind": "constant", "value": "LINE-01 "}},
        {"name": "leading", "address": 6, "type": "string", "length": 6,
         "sim": {"kind": "constant", "value": " LINE-01"}},
        {"name": "trimmed", "address": 12, "type": "string", "length": 6, "trim_spaces": "both",
         "sim": {"kind": "constant", "value": " LINE-01 "}},
    ])
    async with running_sim(prof) as sim:
        def read() -> list[int] | None:
            cli = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=5)
            try:
                return cli.read_holding_registers(0, 18)
            finally:
                cli.close()

        regs = await asyncio.to_thread(read)
        sup = DeviceSupervisor(device(sim.port), prof, interval_s=0.05)
        it = sup.samples()
        try:
            batch = await anext(it)
        finally:
            await it.aclose()  # type: ignore[attr-defined]
    assert regs == [0x4C49, 0x4E45, 0x2D30, 0x3120, 0, 0,
                    0x204C, 0x494E, 0x452D, 0x3031, 0, 0,
                    0x204C, 0x494E, 0x452D, 0x3031, 0x2000, 0]
    assert all(s.quality is Quality.GOOD for s in batch), batch
    assert {s.tag: s.value for s in batch} == {"trailing": "LINE-01 ", "leading": " LINE-01",
                                               "trimmed": "LINE-01"}


@pytest.mark.parametrize(("code", "name"), [(2, "illegal data address"), (4, "server device failure"),
                                            (6, "server device busy")])
async def test_exception_responses_from_an_independent_server(code: int, name: str) -> None:
    case = encoding_case("holding")
    with InteropServer() as srv:
        srv.load(case.words, case.bits)
        srv.faults.exception = code
        async with ModbusCollector(device(srv.port), case.profile) as c:
            samples = await c.read()
    assert all(s.quality is Quality.BAD and s.code == code and name in (s.reason or "") for s in samples)


@pytest.mark.parametrize(("code", "name"), [(10, "gateway path unavailable"),
                                            (11, "gateway target device failed to respond")])
async def test_gateway_exceptions_from_an_independent_server_are_unreachable(code: int, name: str) -> None:
    case = encoding_case("holding")
    with InteropServer() as srv:
        srv.load(case.words, case.bits)
        srv.faults.exception = code
        async with ModbusCollector(device(srv.port), case.profile) as c:
            with pytest.raises(DeviceUnreachable, match=rf"dev1 .*\(unit 1\).*exception {code} \({name}\)"):
                await c.read()
        sup = DeviceSupervisor(device(srv.port), case.profile, interval_s=0.01,
                               backoff=Backoff(initial_s=0.01, max_s=0.05))
        it = sup.samples()
        try:
            offline = [await anext(it) for _ in range(5)]
            state, failures = sup.state, sup.failures
            srv.faults.exception = None
            for _ in range(200):
                if all(s.quality is Quality.GOOD for s in await anext(it)):
                    break
        finally:
            await it.aclose()  # type: ignore[attr-defined]
    assert all(s.quality is Quality.BAD and (s.reason or "").startswith("device offline:")
               for batch in offline for s in batch)
    assert state == "offline" and failures >= 1 and sup.reconnects == 0
    assert sup.state == "online"


async def test_illegal_addresses_are_split_out_on_an_independent_server() -> None:
    case = encoding_case("holding")
    with InteropServer() as srv:
        srv.load(case.words, case.bits)
        srv.faults.illegal.add(("holding", 2))  # int32_ABCD lives at 2..3
        async with ModbusCollector(device(srv.port), case.profile) as c:
            first = {s.tag: s for s in await c.read()}
            before = srv.faults.reads
            await c.read()
            second_requests = srv.faults.reads - before
    assert [t for t, s in first.items() if s.quality is Quality.BAD] == ["int32_ABCD"]
    assert second_requests == len(c.plan.requests)
    expect = {k: v for k, v in case.expect.items() if k != "int32_ABCD"}
    assert_matches({t: s.value for t, s in first.items() if t != "int32_ABCD"}, expect)


async def test_timeout_garbage_and_restart_against_an_independent_server() -> None:
    case = encoding_case("holding")
    with InteropServer() as srv:
        srv.load(case.words, case.bits)
        async with ModbusCollector(device(srv.port, timeout_s=0.3), case.profile) as c:
            srv.faults.delay_s = 1.0
            with pytest.raises(DeviceUnreachable, match="no answer"):
                await c.read()
        srv.faults.delay_s = 0.0
        srv.faults.garbage = True
        async with ModbusCollector(device(srv.port, timeout_s=2), case.profile) as c:
            with pytest.raises(DeviceUnreachable, match="garbled"):
                await c.read()
        srv.faults.garbage = False

        sup = DeviceSupervisor(device(srv.port, timeout_s=0.5), case.profile, interval_s=0.05,
                               backoff=Backoff(initial_s=0.05, max_s=0.2))
        it = sup.samples()
        try:
            assert all(s.quality is Quality.GOOD for s in await anext(it))
            await asyncio.to_thread(srv.stop)
            for _ in range(200):
                if all(s.quality is Quality.BAD for s in await anext(it)):
                    break
            assert sup.state == "offline"
            await asyncio.to_thread(srv.start)
            for _ in range(200):
                if all(s.quality is Quality.GOOD for s in await anext(it)):
                    break
            assert sup.state == "online" and sup.reconnects >= 1
        finally:
            await it.aclose()  # type: ignore[attr-defined]
