"""The 14 business links: stable keys, Chinese labels, and what a profile or a sheet may say."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from device_profiles.loader import library_profiles, load_profile
from device_profiles.modbus import ModbusProfile
from wire import business_links


def test_the_fourteen_links_of_the_indicator() -> None:
    assert len(business_links.KEYS) == 14
    assert business_links.LABELS["energy"] == ("能源管理", "Energy management")


@pytest.mark.parametrize("text", ["energy", "能源管理", "Energy Management", " energy "])
def test_a_link_is_named_by_key_or_label(text: str) -> None:
    assert business_links.parse(text) == "energy"


def test_an_unknown_link_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown business link 'energie'.*energy \(能源管理\)"):
        business_links.parse("energie")


def test_every_library_profile_names_the_links_of_every_tag() -> None:
    for name, path in library_profiles().items():
        prof = load_profile(path)
        assert all(prof.links_of(t) for t in prof.tags), f"{name}: a tag serves no business link"


def test_a_profile_with_an_unknown_link_is_refused() -> None:
    with pytest.raises(ValidationError, match="links"):
        ModbusProfile.model_validate({
            "profile": "p", "protocol": "modbus", "links": ["energie"],
            "tags": [{"name": "t", "address": 0, "type": "uint16"}]})
