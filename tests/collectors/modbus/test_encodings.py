"""Every encoding x every order, raw words served by the simulator, read back over TCP, compared
with the hand-computed expectations in tests/cases/modbus/encodings/case.yaml."""

from __future__ import annotations

import asyncio

import pytest

from collectors.modbus import ModbusCollector
from device_profiles.modbus import ModbusProfile
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.cases import assert_matches, encoding_case
from tests.collectors.modbus.helpers import device
from wire.sample import Quality


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


async def test_simulator_encodes_every_combination_into_the_hand_computed_words() -> None:
    """The other direction: the simulator serves each row's engineering value through its own
    encoder; an independent client (pyModbusTCP) reads the raw registers, which must be the
    case's hand-computed words. Rows that own only some bits of a register (mask, bit) are
    left out: their other bits are not theirs to set."""
    import yaml
    from pyModbusTCP.client import ModbusClient

    from tests.collectors.modbus.cases import CASES

    rows = [r for r in yaml.safe_load((CASES / "encodings" / "case.yaml").read_text())["registers"]
            if "mask" not in r and "bit" not in r]
    tags = [{k: v for k, v in r.items() if k not in ("bytes", "words", "expect")}
            | {"sim": {"kind": "constant", "value": r["expect"]}} for r in rows]
    prof = ModbusProfile.model_validate({"profile": "enc", "protocol": "modbus", "tags": tags})
    end = max(r["address"] + len(r["words"]) for r in rows)
    async with ModbusSimulator([SimulatedUnit(prof, unit=1)], port=0) as sim:
        for r in rows:  # sim specs carry floats; 64-bit integers need the exact value
            sim.image().hold(r["name"], r["expect"])

        def read_all() -> list[int]:
            cli = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=5)
            try:
                out: list[int] = []
                for start in range(0, end, 100):
                    got = cli.read_holding_registers(start, min(100, end - start))
                    assert got is not None, cli.last_error_as_txt
                    out += got
                return out
            finally:
                cli.close()

        registers = await asyncio.to_thread(read_all)
        async with ModbusCollector(device(sim.port), prof) as c:
            values = {s.tag: s.value for s in await c.read()}
    wrong = {r["name"]: ([f"0x{w:04X}" for w in registers[r["address"]:r["address"] + len(r["words"])]],
                         [f"0x{w:04X}" for w in r["words"]])
             for r in rows if registers[r["address"]:r["address"] + len(r["words"])] != r["words"]}
    assert not wrong, f"simulator words (got, hand-computed): {wrong}"
    assert len(rows) >= 60
    assert_matches(values, {r["name"]: r["expect"] for r in rows})
