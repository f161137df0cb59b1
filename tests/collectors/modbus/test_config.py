"""Endpoint URLs and per-device options: what is accepted, and errors that name the device."""

from __future__ import annotations

import pytest

from collectors.base import CollectorError
from collectors.modbus import ModbusCollector
from collectors.modbus.config import Endpoint, limits_of, parse_endpoint, parse_options, serial_of
from collectors.modbus.planner import Limits
from device_profiles.device import DeviceConfig
from tests.collectors.modbus.helpers import make_profile


@pytest.mark.parametrize(("url", "want"), [
    ("tcp://10.0.0.5:1502", Endpoint("tcp", host="10.0.0.5", port=1502)),
    ("tcp://plc.local", Endpoint("tcp", host="plc.local", port=502)),
    ("modbus://10.0.0.5:502?unit=3", Endpoint("tcp", host="10.0.0.5", port=502, query=(("unit", "3"),))),
    ("rtu+tcp://10.0.0.9:4001", Endpoint("rtu_tcp", host="10.0.0.9", port=4001)),
    ("rtu:///dev/ttyUSB0", Endpoint("rtu", serial_port="/dev/ttyUSB0")),
    ("serial:///dev/ttyS1?baudrate=9600&parity=E",
     Endpoint("rtu", serial_port="/dev/ttyS1", query=(("baudrate", "9600"), ("parity", "E")))),
])
def test_endpoints(url: str, want: Endpoint) -> None:
    assert parse_endpoint(url, device="d") == want


@pytest.mark.parametrize(("url", "why"), [
    ("http://x:80", "scheme 'http'"), ("tcp://:502", "names no host"), ("rtu://", "names no serial port"),
    ("tcp://x:99999", "bad port"),
])
def test_bad_endpoints_name_the_device(url: str, why: str) -> None:
    with pytest.raises(CollectorError, match=f"device press7: endpoint .*{why}"):
        parse_endpoint(url, device="press7")


def test_serial_settings_from_url_query_and_options() -> None:
    dev = DeviceConfig(id="s1", profile="p", endpoint="rtu:///dev/ttyUSB0", options={"stopbits": 2})
    opts = parse_options(dev, extra={"baudrate": "9600", "parity": "E"})
    sp = serial_of(opts)
    assert (sp.baudrate, sp.parity, sp.stopbits, sp.bytesize) == (9600, "E", 2, 8)
    with pytest.raises(CollectorError, match=r"device s1: invalid Modbus options: options\.parity"):
        parse_options(dev, extra={"parity": "X"})


def test_limits_device_options_override_profile_defaults() -> None:
    prof_limits = Limits(max_gap_registers=0, max_block_registers=60)
    dev = DeviceConfig(id="d", profile="p", endpoint="tcp://x", options={"max_block_registers": 20})
    lim = limits_of(parse_options(dev), defaults=prof_limits)
    assert (lim.max_gap_registers, lim.max_block_registers, lim.max_block_bits) == (0, 20, 2000)
    with pytest.raises(CollectorError, match="max_block_registers"):
        parse_options(DeviceConfig(id="d", profile="p", endpoint="tcp://x",
                                   options={"max_block_registers": 126}))


def test_unit_id_defaults_to_the_profile() -> None:
    prof = make_profile([{"name": "a", "address": 0}], defaults={"unit_id": 17})
    dev = DeviceConfig(id="d", profile="p", endpoint="tcp://127.0.0.1:1")
    assert ModbusCollector(dev, prof).unit == 17
    assert ModbusCollector(dev.model_copy(update={"unit_id": 3}), prof).unit == 3
