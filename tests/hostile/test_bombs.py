"""The hostile inputs a property test does not stumble on by chance, each built on purpose:
inflation bombs (gzip, XLSX), YAML that expands or nests without end, values that overflow,
timestamps and reasons the wire cannot carry. Each is refused with a reason, within bounded
memory (measured with tracemalloc, a figure independent of the machine's speed), or turned
into something the next stage accepts."""

from __future__ import annotations

import gzip
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from cloud_ingest.evidence.inventory_file import XLSX_MAX_INFLATED, InventoryFileError, parse
from cloud_ingest.inbound import Rejected, decode
from collectors.modbus.codec import DecodeError
from collectors.modbus.codec import decode as modbus_decode
from collectors.opcua.convert import RawValue, epoch_ms, to_sample
from common.config_files import MAX_FILE_BYTES, ConfigError, load
from common.model import Frozen
from device_profiles.modbus import ModbusTag
from edge_agent.config import load_gateway_config
from tests.hostile.targets import T0, alias_bomb, check_opcua, xlsx_with_cell
from tests.support import ROOT
from wire.json_v1 import decode_payload
from wire.sample import Sample
from wire.sample_text import sample_json

MiB = 1024 * 1024


def _peak(fn: object, *args: object, **kw: object) -> tuple[object, int]:
    """fn's result (or the exception it raised) and the peak of memory it allocated."""
    tracemalloc.start()
    try:
        try:
            out: object = fn(*args, **kw)  # type: ignore[operator]
        except Exception as err:
            out = err
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- gzip -------------------------------------------------------------------------------------

def test_a_gzip_bomb_is_refused_within_its_limit() -> None:
    bomb = gzip.compress(b"\0" * (200 * MiB), compresslevel=9)  # about 200 KB on the wire
    assert len(bomb) < MiB
    out, peak = _peak(decode, "shopfloor/v1/ent-a/gw-a/data", bomb, max_bytes=MiB)
    assert isinstance(out, Rejected) and out.reason == "oversized", out
    assert "inflates beyond 1048576 bytes" in out.detail
    assert peak < 4 * MiB  # what the limit allows, not what the bomb holds


@pytest.mark.parametrize(("payload", "says"), [
    (gzip.compress(b'{"v":1}')[:-6], "cut short"),
    (gzip.compress(b'{"v":1}') + b"garbage", "7 bytes after its gzip stream"),
    (gzip.compress(b'{"v":1}') + gzip.compress(b'{"v":2}'), "after its gzip stream"),
    (b"\x1f\x8b" + b"\0" * 20, "does not inflate"),
])
def test_a_damaged_gzip_stream_is_never_read_as_a_shorter_message(payload: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        decode_payload(payload, max_bytes=MiB)
    out = decode("shopfloor/v1/ent-a/gw-a/data", payload, max_bytes=MiB)
    assert isinstance(out, Rejected) and out.reason == "bad_gzip" and says in out.detail


# -- YAML -------------------------------------------------------------------------------------

class _Any(Frozen, extra="allow"):
    pass


@pytest.mark.parametrize(("text", "says"), [
    (alias_bomb(9, 10), "expands to more than 100000 values"),      # a billion strings
    ("a: &a [*a]\nb: *a\n", "an alias refers to the structure it is part of"),
    ("a: " + "[" * 10_000 + "]" * 10_000, "nested deeper than 64 levels"),
])
def test_yaml_that_expands_or_nests_without_end_is_refused(tmp_path: Path, text: str, says: str) -> None:
    f = tmp_path / "gateway.yaml"
    f.write_text(text)
    out, peak = _peak(load, _Any, f)
    assert isinstance(out, ConfigError), out
    assert says in str(out) and "line " in str(out) and str(f) in str(out)
    assert peak < 64 * MiB


def test_an_oversized_config_file_is_refused_unread(tmp_path: Path) -> None:
    f = tmp_path / "gateway.yaml"
    f.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(ConfigError, match=f"a config file is at most {MAX_FILE_BYTES}"):
        load_gateway_config(f)


def test_anchors_and_merge_keys_of_real_configs_still_work(tmp_path: Path) -> None:
    f = tmp_path / "gateway.yaml"
    f.write_text(
        "gateway: {id: gw-1, enterprise: {id: ent-1}}\n"
        "devices:\n"
        "  - &meter {id: m1, profile: energy_meter_3ph, endpoint: 'tcp://127.0.0.1:502', interval_ms: 500}\n"
        "  - {<<: *meter, id: m2}\n")
    devices = load_gateway_config(f).devices
    assert [(d.id, d.interval_ms) for d in devices] == [("m1", 500), ("m2", 500)]


# -- XLSX -------------------------------------------------------------------------------------

def test_an_xlsx_bomb_is_refused_before_it_is_inflated() -> None:
    bomb = xlsx_with_cell(XLSX_MAX_INFLATED + MiB)  # 300 KB that unpack to 129 MiB
    assert len(bomb) < MiB
    out, peak = _peak(parse, bomb, filename="inventory.xlsx")
    assert isinstance(out, InventoryFileError) and "unpacks to" in str(out) and "CSV UTF-8" in str(out)
    assert peak < 8 * MiB
    small_bomb = xlsx_with_cell(20 * MiB)  # within the total, but compressed like no spreadsheet
    with pytest.raises(InventoryFileError, match=r"compressed [0-9]+:1"):
        parse(small_bomb, filename="inventory.xlsx")
    assert len(parse(xlsx_with_cell(100), filename="inventory.xlsx").rows) > 0  # an honest file


# -- values the next stage would refuse ---------------------------------------------------------

def test_a_profile_cannot_scale_by_infinity_and_an_overflowing_value_is_a_decode_error() -> None:
    with pytest.raises(ValueError, match="finite number"):
        ModbusTag.model_validate({"name": "x", "address": 0, "type": "float32", "offset": "inf"})
    tag = ModbusTag.model_validate({"name": "x", "address": 0, "type": "float32", "scale": 1e300})
    with pytest.raises(DecodeError, match="not a finite number; check the tag's type, scale"):
        modbus_decode(tag, [0x7F7F, 0xFFFF], order="ABCD")  # float32 max times 1e300


def test_an_opc_ua_timestamp_beyond_the_wire_is_not_given_and_a_long_reason_is_cut() -> None:
    import datetime as dt

    assert epoch_ms(dt.datetime(9999, 12, 31, tzinfo=dt.UTC)) is None  # DateTime.MaxValue
    raw = RawValue(value=1.5, code=0x40000000, code_name="Uncertain" + "x" * 2000,
                   source_ts=epoch_ms(dt.datetime(6000, 1, 1, tzinfo=dt.UTC)), server_ts=None)
    assert to_sample("dev-1", "t", raw, read_ts=T0).ts == T0
    assert check_opcua(raw).reason == "uncertain"  # the wire schema accepts what it became
    text = sample_json(Sample("dev-1", "t", T0, None, reason="e" * 5000))
    assert '"r":"' + "e" * 511 + '…"' in text


# -- the longer run, in its short form ----------------------------------------------------------

def test_the_fuzz_script_runs_every_target_and_reports_its_counts(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz.py"), "--cases", "400", "--seed", "7",
                          "--json", str(tmp_path / "fuzz.json")],
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "没有崩溃 / no crash" in out.stdout
    import json

    figures = json.loads((tmp_path / "fuzz.json").read_text())
    assert len(figures) == 8 and all(t["cases"] > 0 and t["crash"] is None for t in figures)
    assert sum(t["cases"] for t in figures) > 300


def test_a_damaged_xlsx_is_refused_with_a_short_reason() -> None:
    """scripts/fuzz.py's find: one byte of a local ZIP header (a member name's length) changed
    made zipfile quote 8 KB of the file in its error, and the importer passed it all on."""
    import struct

    from cloud_ingest.evidence.inventory_file import template_xlsx

    data = bytearray(template_xlsx())
    second = data.index(b"PK\x03\x04", 4)  # the second member's local header
    struct.pack_into("<H", data, second + 26, 0x2000)  # its name is now 8 KB long
    with pytest.raises(InventoryFileError, match="cannot read the XLSX file") as info:
        parse(bytes(data), filename="inventory.xlsx")
    assert len(str(info.value)) < 500 and "…" in str(info.value)
