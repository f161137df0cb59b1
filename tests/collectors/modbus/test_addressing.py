"""0-based, 1-based and 40001-style addresses in profiles all reach the same register."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from collectors.modbus import ModbusCollector
from device_profiles.modbus import ModbusProfile, ModbusTag, parse_notation
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.helpers import device


def test_notation_names_table_and_one_based_number() -> None:
    assert parse_notation("40001") == ("holding", 0, None)
    assert parse_notation("30010") == ("input", 9, None)
    assert parse_notation("10001") == ("discrete_input", 0, None)
    assert parse_notation("00017") == ("coil", 16, None)
    assert parse_notation("465536") == ("holding", 65535, None)
    assert parse_notation("40100.7") == ("holding", 99, 7)
    for wrong in ("40000", "50001", "4001", "abc"):
        with pytest.raises(ValueError, match="notation"):
            parse_notation(wrong)


def test_tag_with_notation_gets_table_and_bit() -> None:
    t = ModbusTag.model_validate({"name": "x", "address": "30010.3"})
    assert (t.table, t.address, t.bit, t.type) == ("input", 9, 3, "bool")
    with pytest.raises(ValidationError, match="is in the holding table, but table says 'input'"):
        ModbusTag.model_validate({"name": "x", "address": "40001", "table": "input"})


def test_one_based_profile_counts_from_one() -> None:
    p = ModbusProfile.model_validate({"profile": "p", "protocol": "modbus",
                                      "defaults": {"addressing": "one_based"},
                                      "tags": [{"name": "a", "address": 1},
                                               {"name": "b", "address": "40001"}]})
    assert [t.address for t in p.tags] == [0, 0]  # notation is absolute, numbers shift by one
    with pytest.raises(ValidationError, match="first register is 1"):
        ModbusProfile.model_validate({"profile": "p", "protocol": "modbus",
                                      "defaults": {"addressing": "one_based"},
                                      "tags": [{"name": "a", "address": 0}]})


async def test_three_notations_read_the_same_registers_over_tcp() -> None:
    tags = {
        "zero": [{"name": "h", "address": 10}, {"name": "i", "table": "input", "address": 4},
                 {"name": "c", "table": "coil", "address": 2, "type": "bool"},
                 {"name": "d", "table": "discrete_input", "address": 1, "type": "bool"}],
        "one": [{"name": "h", "address": 11}, {"name": "i", "table": "input", "address": 5},
                {"name": "c", "table": "coil", "address": 3, "type": "bool"},
                {"name": "d", "table": "discrete_input", "address": 2, "type": "bool"}],
        "notation": [{"name": "h", "address": "40011"}, {"name": "i", "address": "30005"},
                     {"name": "c", "address": "00003", "type": "bool"},
                     {"name": "d", "address": "10002", "type": "bool"}],
    }
    results = {}
    for style, tag_list in tags.items():
        prof = ModbusProfile.model_validate({
            "profile": style, "protocol": "modbus", "tags": tag_list,
            "defaults": {"addressing": "one_based" if style == "one" else "zero_based"}})
        sim = ModbusSimulator([SimulatedUnit(prof)], port=0)
        sim.image().overrides.update({("holding", 10): 1010, ("input", 4): 404, ("coil", 2): True,
                                      ("discrete_input", 1): True})
        async with sim, ModbusCollector(device(sim.port), prof) as c:
            results[style] = {s.tag: s.value for s in await c.read()}
    assert results["zero"] == results["one"] == results["notation"] == {
        "h": 1010, "i": 404, "c": True, "d": True}
