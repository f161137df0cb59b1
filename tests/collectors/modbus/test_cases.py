"""Behaviour cases from tests/cases/modbus/<name>/case.yaml (except the encoding table), each
run against our simulator and against pyModbusTCP's server: a profile, the raw registers
served (and the addresses refused), what must come out, and how many requests a poll takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.modbus import ModbusCollector
from device_profiles.modbus import ModbusProfile
from simulators.modbus.server import ModbusSimulator, SimulatedUnit
from tests.collectors.modbus.cases import CASES, assert_matches
from tests.collectors.modbus.helpers import device
from tests.collectors.modbus.interop_server import InteropServer
from wire.sample import Quality, Sample, SampleBlock, expand

CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.yaml").exists() and p.name != "encodings")


def _key(text: str) -> tuple[str, int]:
    table, _, addr = text.partition(":")
    return table, int(addr)


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load((path / "case.yaml").read_text())
    serve = data.get("serve", {})
    return {
        "profile": ModbusProfile.model_validate(data["profile"]),
        "words": {_key(k): int(v) for k, v in (serve.get("words") or {}).items()},
        "bits": {_key(k): bool(v) for k, v in (serve.get("bits") or {}).items()},
        "illegal": {_key(k) for k in serve.get("illegal") or []},
        "expect": data["expect"],
        "first_max": data.get("requests_first_poll_at_most"),
        "per_poll": data["requests_per_poll"],
    }


def _check(case: dict[str, Any], first: list[Any], second: list[Any], per_poll: int) -> None:
    for batch in (first, second):
        got = {s.tag: s for s in batch}
        bad_expected = {k: v["bad"] for k, v in case["expect"].items() if isinstance(v, dict)}
        for name, code in bad_expected.items():
            assert got[name].quality is Quality.BAD and got[name].code == code, got[name]
        good = {k: v for k, v in case["expect"].items() if k not in bad_expected}
        assert all(got[k].quality is Quality.GOOD for k in good), [got[k] for k in good if got[k].reason]
        assert_matches({k: got[k].value for k in good}, good)
    assert per_poll == case["per_poll"]


@pytest.mark.parametrize("server", ["simulator", "pyModbusTCP"])
@pytest.mark.parametrize("path", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
async def test_case(path: Path, server: str) -> None:
    case = _load(path)
    prof = case["profile"]
    if server == "simulator":
        sim = ModbusSimulator([SimulatedUnit(prof, unit=1)], port=0)
        sim.image().overrides.update(case["words"])
        sim.image().overrides.update(case["bits"])
        sim.faults.illegal.update(case["illegal"])
        async with sim, ModbusCollector(device(sim.port), prof) as c:
            first = await c.read()
            n_first = c.requests_sent
            second = await c.read()
            n_second = c.requests_sent
            third = await c.read_blocks()
    else:
        with InteropServer() as srv:
            srv.load(case["words"], case["bits"])
            srv.faults.illegal.update(case["illegal"])
            async with ModbusCollector(device(srv.port), prof) as c:
                first = await c.read()
                n_first = c.requests_sent
                second = await c.read()
                n_second = c.requests_sent
                third = await c.read_blocks()
    if case["first_max"] is not None:
        assert n_first <= case["first_max"]
    _check(case, first, second, n_second - n_first)
    # the gateway's own poll (blocks of good samples) says exactly what read() says
    assert all(b.tags and len(b.tags) == len(b.values) for b in third if isinstance(b, SampleBlock))
    def seen(samples: list[Sample]) -> list[tuple[object, ...]]:
        return sorted((s.tag, repr(s.value), s.quality, s.code, s.reason) for s in samples)

    assert seen(expand(third)) == seen(second) and len(expand(third)) == len(second)
