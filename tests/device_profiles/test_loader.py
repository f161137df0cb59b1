"""Config mistakes a technician makes, and the errors that must point at them."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config_files import ConfigError
from device_profiles.loader import library_profiles, load_profile, resolve_profile
from edge_agent.config import load_gateway_config

ROOT = Path(__file__).resolve().parents[2]

GOOD_GATEWAY = """
gateway: {id: gw-1, enterprise: {id: ent-1, industry: food}}
devices:
  - {id: m1, profile: energy_meter_3ph, endpoint: "tcp://127.0.0.1:5020"}
"""


def write(tmp_path: Path, text: str, name: str = "gw.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def problems(path: Path, loader=load_gateway_config) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        loader(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    return info.value.problems


def test_example_gateway_and_every_library_profile_load() -> None:
    cfg = load_gateway_config(ROOT / "examples" / "gateway.yaml")
    assert cfg.devices[0].key_process is True
    assert library_profiles(), "the profile library is empty"
    for name, path in library_profiles().items():
        assert load_profile(path).profile == name, f"{path}: profile name must equal file name"


def test_good_gateway_resolves_library_profile(tmp_path: Path) -> None:
    cfg = load_gateway_config(write(tmp_path, GOOD_GATEWAY))
    prof = resolve_profile(cfg.devices[0].profile, relative_to=tmp_path / "gw.yaml")
    assert {t.name for t in prof.tags} >= {"voltage_l1", "energy_import"}


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        (GOOD_GATEWAY.replace("industry: food", "industry: dairy"),
         "gateway.enterprise.industry", "'food'"),
        (GOOD_GATEWAY.replace("id: m1, ", ""), "devices[0].id", "required"),
        (GOOD_GATEWAY + "buffer: {full_policy: drop_all}\n", "buffer.full_policy", "drop_oldest"),
        (GOOD_GATEWAY + "broker: {port: 70000}\n", "broker.port", "less than or equal to 65535"),
        (GOOD_GATEWAY + "brokr: {}\n", "brokr", "unknown field"),
        (GOOD_GATEWAY.replace("id: gw-1", "id: 'gw 1'"), "gateway.id", "pattern"),
        (GOOD_GATEWAY + "  - {id: m1, profile: energy_meter_3ph, endpoint: x}\n", "devices",
         "appears twice"),
    ],
)
def test_gateway_mistakes_name_field_and_allowed(tmp_path: Path, text: str, field: str,
                                                 hint: str) -> None:
    found = problems(write(tmp_path, text))
    assert any(p.startswith(field) and hint in p for p in found), found


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "gateway: {id: gw-1\ndevices: [\n"))
    assert "line" in found[0] and "not valid YAML" in found[0]


def test_missing_file_and_wrong_top_level(tmp_path: Path) -> None:
    assert "cannot read file" in problems(tmp_path / "absent.yaml")[0]
    assert "expected a mapping" in problems(write(tmp_path, "- just\n- a list\n"))[0]


@pytest.mark.parametrize(
    ("tag", "field", "hint"),
    [
        ("{name: a, table: coil, address: 1, type: uint16}", "tags[0]", "must be bool"),
        ("{name: a, address: 1, type: float33}", "tags[0].type", "'float32'"),
        ("{name: a, address: 1, type: string}", "tags[0]", "needs length"),
        ("{name: a, address: -4}", "tags[0].address", "greater than or equal to 0"),
        ("{name: a, address: 1, order: ABDC}", "tags[0].order", "'CDAB'"),
    ],
)
def test_profile_mistakes(tmp_path: Path, tag: str, field: str, hint: str) -> None:
    path = write(tmp_path, f"profile: p\nprotocol: modbus\ntags:\n  - {tag}\n", "p.yaml")
    found = problems(path, load_profile)
    assert any(p.startswith(field) and hint in p for p in found), found


def test_unknown_protocol_and_duplicate_tags(tmp_path: Path) -> None:
    path = write(tmp_path, "profile: p\nprotocol: bacnet\ntags: [{name: a, address: 1}]\n", "p.yaml")
    assert any("protocol" in p for p in problems(path, load_profile))
    path = write(tmp_path, "profile: p\nprotocol: modbus\ntags: [{name: a, address: 1}, "
                 "{name: a, address: 2}]\n", "p.yaml")
    assert any("appears twice" in p for p in problems(path, load_profile))


def test_unknown_library_profile_lists_known(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_profile("no_such_meter", relative_to=tmp_path / "gw.yaml")
    assert "energy_meter_3ph" in str(info.value)
