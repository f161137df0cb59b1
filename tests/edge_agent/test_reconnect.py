"""Reconnect delays are the gateway config's (``reconnect:``), with caps that suit a factory: a
device switched off for a while is read again within max(one interval, the cap) of coming
back, not after a half-minute backoff. The device is a device-sim process switched off and on
through its fault control port, as a technician would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from collectors.registry import reconnect_backoff
from collectors.supervisor import DeviceSupervisor
from common.config_files import ConfigError, validate
from edge_agent.config import GatewayConfig, ReconnectConfig
from edge_agent.encoders import Outgoing
from edge_agent.mqtt import MqttSession
from tests.collectors.modbus.helpers import device, profile
from tests.support import ROOT, Mosquitto, free_port, stop_process, wait_port
from wire.sample import Quality

BASE = {"gateway": {"id": "gw", "enterprise": {"id": "ent"}},
        "devices": [{"id": "m1", "profile": "energy_meter_3ph", "endpoint": "tcp://127.0.0.1:1"}]}


def test_defaults_are_documented_caps_and_a_first_delay_above_the_cap_is_refused() -> None:
    r = validate(GatewayConfig, BASE, "gw.yaml").reconnect
    assert (r.device_initial_s, r.device_max_s, r.broker_initial_s, r.broker_max_s) == (0.5, 5.0, 1, 5)
    with pytest.raises(ConfigError) as err:
        validate(GatewayConfig, {**BASE, "reconnect": {"device_initial_s": 10, "device_max_s": 2}},
                 "gw.yaml")
    assert "reconnect.device_initial_s (10.0) is above reconnect.device_max_s (2.0)" in str(err.value)


def test_the_broker_session_reconnects_with_the_configured_delays() -> None:
    def will() -> Outgoing:
        return Outgoing(topic="t/will", payload=b"x", qos=1, retain=False)

    cfg = validate(GatewayConfig, {**BASE, "reconnect": {"broker_initial_s": 2, "broker_max_s": 7}},
                   "gw.yaml")
    session = MqttSession(cfg.broker, client_id="c", will=will, on_connect=lambda: None,
                          on_ack=lambda mid: None,
                          reconnect_s=(cfg.reconnect.broker_initial_s, cfg.reconnect.broker_max_s))
    # paho keeps them privately; they are what its reconnect loop waits between attempts
    assert (session.client._reconnect_min_delay, session.client._reconnect_max_delay) == (2, 7)


async def _command(port: int, line: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(line.encode() + b"\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
    finally:
        writer.close()


async def test_a_device_back_online_is_read_again_within_the_cap() -> None:
    port, ctl = free_port(), free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "device-sim")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "simulators.cli"]
    proc = subprocess.Popen([*cmd, "modbus", "--profile", "energy_meter_3ph", "--port", str(port),
                             "--control-port", str(ctl)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    interval, cap = 0.2, 1.0
    rc = ReconnectConfig(device_initial_s=0.25, device_max_s=cap)
    dev, prof = device(port, id="m1", timeout_s=0.5), profile()
    sup = DeviceSupervisor(dev, prof, interval_s=interval,
                           backoff=reconnect_backoff(dev, prof, default=rc.device_backoff()))
    it = sup.samples()
    try:
        await asyncio.to_thread(wait_port, "127.0.0.1", ctl, 20)
        while not all(s.quality is Quality.GOOD for s in await anext(it)):
            pass
        assert (await _command(ctl, f"down {port}")).startswith("ok")
        # off long enough for the backoff to reach its cap (0.25, 0.5, 1, 1, ...)
        off_until = time.monotonic() + 4.0
        while time.monotonic() < off_until:
            await anext(it)
        assert sup.state == "offline" and sup.attempts >= 3
        assert (await _command(ctl, f"up {port}")).startswith("ok")
        back = time.monotonic()
        while not all(s.quality is Quality.GOOD for s in await anext(it)):
            pass
        waited = time.monotonic() - back
    finally:
        await it.aclose()  # type: ignore[attr-defined]
        stop_process(proc, sig=signal.SIGINT)
    # the next attempt is at most one capped delay (with its jitter) away, taken at the next
    # tick; the old fixed backoff (0.5 s doubling to 30 s) would wait up to 4 s here
    bound = max(interval, cap) * (1 + 0.1) + interval
    assert waited <= bound + 0.5, f"read again {waited:.2f} s after the device came back"


async def test_the_broker_back_is_reconnected_to_within_the_cap(own_broker: Mosquitto) -> None:
    """A broker down for longer than the cap: the session is back within the cap of its return
    (paho's old fixed 1 s doubling to 30 s kept a gateway away for 31 s after a 15 s outage)."""
    cfg = validate(GatewayConfig, {**BASE, "broker": {"host": "127.0.0.1", "port": own_broker.port},
                                   "reconnect": {"broker_initial_s": 1, "broker_max_s": 2}}, "gw.yaml")
    session = MqttSession(cfg.broker, client_id=f"reconnect-{own_broker.port}",
                          will=lambda: Outgoing(topic="t/will", payload=b"x"), on_connect=lambda: None,
                          on_ack=lambda mid: None, reconnect_s=(1, 2))
    session.start()
    try:
        await asyncio.wait_for(session.connected.wait(), 10)
        own_broker.stop()
        await asyncio.wait_for(_until(lambda: not session.connected.is_set()), 10)
        # down 10 s: with the cap of 2 s paho tries every 2 s; with the old 1 s doubling to 30 s it
        # would have tried at about 1, 3, 7 and 15 s, and the broker back at 10 s waited 5 s
        await asyncio.sleep(10)
        own_broker.start()
        back = time.monotonic()
        await asyncio.wait_for(session.connected.wait(), 30)
        waited = time.monotonic() - back
    finally:
        await session.stop()
    assert waited <= 2 + 1.0, f"reconnected {waited:.2f} s after the broker came back (cap 2 s)"


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.05)
