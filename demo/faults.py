"""The faults the sample city goes through, as a script over the run's duration.

Each fault is something a real pilot enterprise meets, and each must show in the evidence:

- 青城乳品: a sterilisation controller switched off for a while → device_offline gap;
- 塞北绒纺: the gateway's uplink cut and restored → it buffers, then drains: late but complete;
- 金河生物: the gateway's clock five minutes fast (libfaketime) → clock offset found, latency
  corrected and flagged;
- 草原农牧: a few malformed messages on its topics → rejected, counted as dead letters;
- 敕勒川新材料: a small buffer and a long uplink cut → the buffer fills and drops the oldest,
  counted as dropped_at_gateway;
- 大青山钢结构: nothing (the healthy reference), but most of its shop floor is not networked.

Times are fractions of the run, so a short CI run and a long demo script the same story.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

CLOCK_FAST_S = 300  # the biopharma gateway's clock runs this far ahead


@dataclass(frozen=True, kw_only=True)
class Fault:
    enterprise: str
    label: str          # shown in the live table, Chinese first
    start: float        # fraction of the run
    end: float          # fraction of the run (== start for an instant fault)
    kind: str           # device_off | uplink_cut | malformed | clock_fast


SCRIPT: tuple[Fault, ...] = (
    Fault(enterprise="qc-dairy", label="设备断电 retort-02 off", start=0.25, end=0.45, kind="device_off"),
    Fault(enterprise="sb-cashmere", label="上行中断 uplink cut", start=0.30, end=0.55, kind="uplink_cut"),
    Fault(enterprise="jh-biopharma", label=f"网关时钟快 {CLOCK_FAST_S // 60} 分钟 clock fast",
          start=0.0, end=1.0, kind="clock_fast"),
    Fault(enterprise="cy-agrimach", label="畸形消息 malformed messages", start=0.50, end=0.52,
          kind="malformed"),
    Fault(enterprise="clc-materials", label="上行中断, 缓存满 uplink cut, buffer full", start=0.15,
          end=0.75, kind="uplink_cut"),
)
DEVICE_OFF = {"qc-dairy": "retort-02"}
SMALL_BUFFER = {"clc-materials": 64 * 1024}  # bytes: the smallest buffer the agent accepts


def active(enterprise: str, progress: float) -> str:
    """The fault under way for ``enterprise`` at ``progress`` (0..1), or an empty string."""
    return next((f.label for f in SCRIPT if f.enterprise == enterprise and f.start <= progress <= f.end),
                "")


def control(port: int, command: str) -> str:
    """One command to a Modbus simulator's control port (see simulators/README.md)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(command.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        return s.recv(4096).decode(errors="replace").strip()


def malformed(*, host: str, port: int, enterprise: str, gateway: str) -> int:
    """Publish a few messages an ingest must reject (each for a different reason); returns how
    many were acknowledged by the broker."""
    root = f"shopfloor/v1/{enterprise}/{gateway}"
    bad: list[tuple[str, bytes]] = [
        (f"{root}/data", b"{not json"),
        (f"{root}/data", json.dumps({"v": 9, "type": "data"}).encode()),                 # unknown version
        (f"{root}/data", json.dumps({"v": 1, "type": "data", "enterprise": enterprise,
                                     "gateway": gateway, "session": "x", "seq": 0,
                                     "sent": 0, "samples": []}).encode()),               # schema
        (f"{root}/birth", b"\x1f\x8bnot really gzip"),
    ]
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-malformed-{uuid.uuid4().hex[:8]}")
    client.connect(host, port, keepalive=10)
    client.loop_start()
    try:
        infos = [client.publish(t, p, qos=1) for t, p in bad]
        for info in infos:
            info.wait_for_publish(10)
        return sum(1 for i in infos if i.is_published())
    finally:
        client.loop_stop()
        client.disconnect()


Action = Callable[[], None]


@dataclass(kw_only=True)
class Timeline:
    """Fires each fault's begin and end action once, when the run passes its time."""

    actions: list[tuple[float, str, Action]]  # (fraction, what, action)
    done: int = 0

    def advance(self, progress: float, *, say: Callable[[str], None]) -> None:
        self.actions.sort(key=lambda a: a[0])
        while self.done < len(self.actions) and self.actions[self.done][0] <= progress:
            _, what, action = self.actions[self.done]
            self.done += 1
            try:
                action()
                say(what)
            except OSError as err:
                say(f"{what}: failed ({err})")
