"""What a gateway announces about its tags: interval, report mode and the business links."""

from __future__ import annotations

import json
from pathlib import Path

from common.config_files import validate
from edge_agent.birth import birth_json, birth_message, load_devices
from edge_agent.config import GatewayConfig
from edge_agent.normalize import Normalizer
from wire.json_v1 import BirthMessage


def test_the_birth_names_each_tags_business_links(tmp_path: Path) -> None:
    cfg = validate(GatewayConfig, {
        "gateway": {"id": "gw", "enterprise": {"id": "ent"}},
        "buffer": {"path": str(tmp_path / "b.sqlite")},
        "devices": [{"id": "vfd", "profile": "conveyor_vfd", "endpoint": "tcp://127.0.0.1:1"}],
    }, "test")
    devices = [(d, p, Normalizer(d, p)) for d, p in load_devices(cfg, tmp_path / "gw.yaml")]
    birth = birth_message(cfg, devices, session="s", next_seq=1)
    links = {t.name: t.links for t in birth.devices[0].tags}
    assert links["output_power"] == ["energy", "equipment"]  # its own
    assert links["fault_code"] == ["equipment", "safety"]
    assert links["running_freq"] == ["equipment", "production_control"]  # the profile's


def test_the_json_birth_made_device_by_device_is_the_whole_models_text(tmp_path: Path) -> None:
    cfg = validate(GatewayConfig, {
        "gateway": {"id": "gw", "enterprise": {"id": "ent", "name": "某厂"}},
        "buffer": {"path": str(tmp_path / "b.sqlite")},
        "devices": [{"id": "vfd", "profile": "conveyor_vfd", "endpoint": "tcp://127.0.0.1:1"},
                    {"id": "m1", "profile": "energy_meter_3ph", "endpoint": "tcp://127.0.0.1:2",
                     "workshop": "W1", "report": {"deadband_abs": 0.5}}],
    }, "test")
    devices = [(d, p, Normalizer(d, p)) for d, p in load_devices(cfg, tmp_path / "gw.yaml")]
    whole = birth_message(cfg, devices, session="s", next_seq=7)
    text = birth_json(cfg, devices, session="s", next_seq=7)
    assert BirthMessage.model_validate_json(text) == whole.model_copy(update={"ts": json.loads(text)["ts"]})
    assert text == whole.model_copy(update={"ts": json.loads(text)["ts"]}).model_dump_json(
        exclude_none=True).encode()
