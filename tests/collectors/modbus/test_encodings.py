"""Every encoding x every order, raw words served by the simulator, read back over TCP, compared
with the hand-computed expectations in tests/cases/modbus/encodings/case.yaml."""

from __future__ import annotations

import pytest

from collectors.modbus import ModbusCollector
from collectors.sample import Quality
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.cases import assert_matches, encoding_case
from tests.collectors.modbus.helpers import device


@pytest.mark.parametrize("table", ["holding", "input"])  # function codes 3 and 4 (+ 1 and 2 for bits)
async def test_every_encoding_and_order_over_tcp(table: str) -> None:
    case = encoding_case(table)
    sim = ModbusSimulator([SimulatedUnit(case.profile, unit=1)], port=0)
    sim.image().overrides.update(case.words)
    sim.image().overrides.update(case.bits)
    async with sim, ModbusCollector(device(sim.port), case.profile) as c:
        samples = await c.read()
    bad = [s for s in samples if s.quality is not Quality.GOOD]
    assert not bad, bad
    assert len(samples) == len(case.expect) >= 85
    assert_matches({s.tag: s.value for s in samples}, case.expect)
    # 160 registers of one table need two requests (125 max), plus one per bit table
    assert c.requests_sent == 4
