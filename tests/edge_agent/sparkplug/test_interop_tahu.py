"""A second, independent decoder reads what the encoder writes: Eclipse Tahu's JavaScript
sparkplug-payload (tests/interop/sparkplug), run with node. It decodes the example payloads of
docs/sparkplug.md, which must match the decoded JSON printed there, and agrees with our own
decoder field by field."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.encoders import Outgoing
from edge_agent.sparkplug import encoder as encoder_module
from edge_agent.sparkplug.encoder import SparkplugEncoder
from tests.edge_agent.sparkplug.common import COUNTERS, SAMPLES, T0, batch, config, encoder
from tests.support import ROOT
from wire.json_v1 import (
    BirthMessage,
    Counters,
    DataMessage,
    DeviceCounters,
    DeviceInfo,
    EnterpriseInfo,
    TagInfo,
)
from wire.sparkplug.decoder import SparkplugDecoder

INTEROP = ROOT / "tests" / "interop" / "sparkplug"
DOC = ROOT / "docs" / "sparkplug.md"
SENT = T0 + 5000


@pytest.fixture(scope="module")
def tahu() -> Path:
    """node with sparkplug-payload installed from the lockfile; a missing npm is a failure."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the Sparkplug interop test needs Node.js and npm (apt-get install nodejs npm)")
    if not (INTEROP / "node_modules" / "sparkplug-payload").exists():
        run = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=INTEROP, capture_output=True,
                             text=True, timeout=300)
        if run.returncode != 0:
            pytest.fail(f"npm ci in {INTEROP} failed:\n{run.stderr[-2000:]}")
    return Path(node)


def tahu_decode(node: Path, messages: list[Outgoing]) -> list[dict[str, Any]]:
    feed = [{"topic": m.topic, "payload": base64.b64encode(m.payload).decode()} for m in messages]
    run = subprocess.run([str(node), str(INTEROP / "decode.js")], input=json.dumps(feed),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"Tahu's decoder refused our payloads:\n{run.stderr}"
    return [{"topic": e["topic"], **e["decoded"]} for e in json.loads(run.stdout)]


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(encoder_module, "now_ms", lambda: SENT)
    yield


def documented_messages(tmp_path: Path) -> list[Outgoing]:
    """The inputs behind the examples of docs/sparkplug.md."""
    birth = BirthMessage(
        enterprise="ent-demo", gateway="gw-demo", session="6f1c9e0a", ts=T0, next_seq=1842,
        agent_version="0.1.0",
        enterprise_info=EnterpriseInfo(name="呼和浩特示范乳品有限公司", industry="food", district="赛罕区"),
        devices=[DeviceInfo(
            id="meter-filling-01", profile="energy_meter_3ph", protocol="modbus", manufacturer="Acrel",
            model="ADL400", workshop="灌装车间", line="line-1", key_process=True,
            tags=[TagInfo(name="voltage_l1", type="float32", unit="V", interval_ms=1000),
                  TagInfo(name="breaker_closed", type="bool", interval_ms=1000, report="change",
                          heartbeat_ms=60000)])],
    )
    enc = SparkplugEncoder(config(tmp_path, uid="demo"), session="6f1c9e0a", birth=lambda n: birth,
                           stream="0b6e4c1d9a2f4e7b8c3d5a6f7e8d9c0b")
    will = enc.will()
    dev = "meter-filling-01"
    samples = [
        {"d": dev, "t": "voltage_l1", "ts": T0 + 1000, "rt": T0 + 1004, "v": 230.4, "q": "good"},
        {"d": dev, "t": "breaker_closed", "ts": T0 + 1000, "rt": T0 + 1000, "v": True, "q": "uncertain"},
        {"d": dev, "t": "voltage_l1", "ts": T0 + 2000, "rt": T0 + 2000, "v": None, "q": "bad", "c": 11,
         "r": "modbus exception 11: gateway target device failed to respond"},
    ]
    counters = Counters(batches_published=1841, devices={dev: DeviceCounters(
        read=29456, buffered=29456, published=29440, read_errors=2, dropped={"buffer_full": 16})})
    return [*enc.births(next_seq=1842),
            *enc.batch(batch(1842, samples, device=dev), counters=counters, historical=True),
            will, enc.farewell()]


def documented_examples() -> dict[str, Any]:
    """``<!-- sparkplug-example TOPIC -->`` followed by a json block, in docs/sparkplug.md."""
    found = re.findall(r"<!-- sparkplug-example (\S+) -->\s*```json\n(.*?)```", DOC.read_text(), re.S)
    return {f"{topic}#{i}": json.loads(body) for i, (topic, body) in enumerate(found)}


def test_documented_payloads_decode_with_tahu_as_printed(tahu: Path, tmp_path: Path,
                                                         fixed_clock: None) -> None:
    decoded = tahu_decode(tahu, documented_messages(tmp_path))
    got = {f"{d['topic']}#{i}": {k: v for k, v in d.items() if k != "topic"} for i, d in enumerate(decoded)}
    expected = documented_examples()
    assert len(expected) == 5, "docs/sparkplug.md should show NBIRTH, DBIRTH, DDATA, will and farewell"
    assert got == expected


def test_tahu_and_our_decoder_agree_field_by_field(tahu: Path, tmp_path: Path, fixed_clock: None) -> None:
    enc = encoder(tmp_path)
    messages = [enc.will(), *enc.births(next_seq=8),
                *enc.batch(batch(7), counters=COUNTERS, historical=True)]
    theirs = tahu_decode(tahu, messages[1:])
    dec = SparkplugDecoder()
    ours = [m for o in messages[1:] for m in dec.decode(o.topic, o.payload)]
    names = {m["alias"]: m["name"] for d in theirs if "BIRTH" in d["topic"] for m in d["metrics"]}
    ddata = next(d for d in theirs if "/DDATA/" in d["topic"])
    data = next(m for m in ours if isinstance(m, DataMessage))
    assert ddata["seq"] == 3 and ddata["timestamp"] == data.sent == SENT
    for metric, sample, source in zip(ddata["metrics"], data.all_samples(), SAMPLES, strict=False):
        props = {k: v["value"] for k, v in metric.get("properties", {}).items()}
        assert names[metric["alias"]] == sample.t == source["t"]
        assert metric["timestamp"] == sample.ts and metric["isHistorical"] is True
        assert metric["value"] == sample.v == source["v"]
        assert props.get("Read Time", metric["timestamp"]) == sample.rt
        assert props.get("Code") == sample.c and props.get("Reason") == sample.r
        assert (props.get("Quality", 192), props.get("Uncertain", False)) == {
            "good": (192, False), "uncertain": (0, True), "bad": (0, False)}[sample.q]
    by_name = {names[m["alias"]]: m["value"] for m in ddata["metrics"][len(SAMPLES):]}
    assert by_name["Gateway/Batch Seq"] == data.seq == 7
    assert by_name["Gateway/Read"] == COUNTERS.devices["meter-01"].read
    births = [m for m in ours if isinstance(m, BirthMessage)]
    tag_defs = {m["name"]: m for d in theirs if "/DBIRTH/" in d["topic"] for m in d["metrics"]
                if "Source Type" in m.get("properties", {})}
    assert set(tag_defs) == {t.name for b in births for dev in b.devices for t in dev.tags}
    assert tag_defs["voltage_l1"]["properties"]["engUnit"]["value"] == "V"
