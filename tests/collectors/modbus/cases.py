"""Case folders under tests/cases/modbus/: a profile's tags, what the server serves, what must
come out. Shared by the simulator tests and the interoperability tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from device_profiles.modbus import ModbusProfile
from tests.support import ROOT

CASES = ROOT / "tests" / "cases" / "modbus"


@dataclass
class EncodingCase:
    profile: ModbusProfile
    words: dict[tuple[str, int], int]  # (table, address) -> raw register served
    bits: dict[tuple[str, int], bool]
    expect: dict[str, Any]


def encoding_case(table: str = "holding", path: Path = CASES / "encodings" / "case.yaml") -> EncodingCase:
    data = yaml.safe_load(path.read_text())
    tags: list[dict[str, Any]] = []
    words: dict[tuple[str, int], int] = {}
    bits: dict[tuple[str, int], bool] = {}
    expect: dict[str, Any] = {}
    for row in data["registers"]:
        tag = {k: v for k, v in row.items() if k not in ("bytes", "words", "expect")}
        tags.append({**tag, "table": table})
        for i, w in enumerate(row["words"]):
            words[(table, row["address"] + i)] = w
        expect[row["name"]] = row["expect"]
    for row in data["bits"]:
        tags.append({"name": row["name"], "table": row["table"], "address": row["address"], "type": "bool"})
        bits[(row["table"], row["address"])] = row["served"]
        expect[row["name"]] = row["expect"]
    profile = ModbusProfile.model_validate(
        {"profile": "encodings", "protocol": "modbus", "tags": tags,
         # generators must not matter: every register is pinned to the case's raw words
         "defaults": {"order": "ABCD"}})
    return EncodingCase(profile, words, bits, expect)


def assert_matches(got: dict[str, Any], expect: dict[str, Any]) -> None:
    wrong = {}
    for name, want in expect.items():
        value = got.get(name)
        ok = value == want if not isinstance(want, float) else (
            isinstance(value, float) and abs(value - want) <= 1e-9 * max(1.0, abs(want)))
        if not ok or (type(value) is not type(want) and not isinstance(want, float)):
            wrong[name] = (value, want)
    assert not wrong, f"{len(wrong)} of {len(expect)} tags wrong (got, expected): {wrong}"
