"""Profile model: node-id notations, validation errors, and the protocol union."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from common.config_files import ConfigError
from device_profiles.loader import load_profile
from device_profiles.models import PROFILE_ADAPTER
from device_profiles.opcua import OpcUaProfile, parse_node_id


@pytest.mark.parametrize(
    ("text", "kind", "ident", "index", "uri"),
    [
        ("ns=2;i=5", "i", 5, 2, None),
        ("i=2258", "i", 2258, 0, None),
        ("ns=2;s=Line1.Speed", "s", "Line1.Speed", 2, None),
        ("ns=3;s=a=b;c", "s", "a=b;c", 3, None),
        ("nsu=urn:plc:line1;s=Oven.Temp", "s", "Oven.Temp", None, "urn:plc:line1"),
        ("nsu=http://x.org/UA/;i=7", "i", 7, None, "http://x.org/UA/"),
        (
            "ns=2;g=09087e75-8e5e-499b-954f-f2a9603db28a",
            "g",
            uuid.UUID("09087e75-8e5e-499b-954f-f2a9603db28a"),
            2,
            None,
        ),
        ("ns=2;b=UExDMQ==", "b", b"PLC1", 2, None),
    ],
)
def test_every_node_id_notation_parses(
    text: str, kind: str, ident: object, index: int | None, uri: str | None
) -> None:
    ref = parse_node_id(text)
    assert (ref.kind, ref.identifier, ref.namespace_index, ref.namespace_uri) == (kind, ident, index, uri)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ns=x;i=5", "ns= needs a number"),
        ("ns=2;q=5", "identifier must be i=, s=, g= or b="),
        ("ns=2;i=abc", "unsigned 32-bit"),
        ("ns=2;g=not-a-guid", "GUID"),
        ("ns=2;b=!!!", "base64"),
        ("nsu=;s=x", "namespace URI"),
        ("Line1.Speed", "identifier must be"),
    ],
)
def test_bad_node_ids_say_what_is_valid(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_node_id(text)


def _profile(**tag: object) -> dict[str, object]:
    return {"profile": "p", "protocol": "opcua", "tags": [{"name": "a", "node_id": "ns=2;i=1", **tag}]}


def test_union_picks_the_opcua_model_by_protocol() -> None:
    prof = PROFILE_ADAPTER.validate_python(_profile())
    assert isinstance(prof, OpcUaProfile)
    assert prof.defaults.mode == "subscribe"
    assert prof.sampling_of(prof.tags[0]) == 1000


def test_deadband_on_a_string_is_refused() -> None:
    with pytest.raises(ValidationError, match="deadband applies to numeric types only"):
        PROFILE_ADAPTER.validate_python(_profile(type="String", deadband_type="absolute", deadband_value=1))


def test_percent_deadband_over_100_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"0\.\.100"):
        PROFILE_ADAPTER.validate_python(_profile(deadband_type="percent", deadband_value=150))


def test_profile_file_error_names_file_and_field(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "bad.yaml"
    path.write_text("profile: p\nprotocol: opcua\ntags:\n  - {name: a, node_id: 'ns=2;x=1'}\n")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert "bad.yaml" in str(info.value)
    assert "tags[0].node_id" in str(info.value)
