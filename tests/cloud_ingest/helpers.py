"""Builders and waits shared by the cloud-ingest tests: real broker, real database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud_ingest.config import ApiConfig, CloudConfig, DatabaseConfig, IngestConfig, MqttConfig
from cloud_ingest.service import serve
from tests.support import eventually
from wire.json_v1 import (
    BirthMessage,
    Counters,
    DataMessage,
    DeviceCounters,
    DeviceInfo,
    EnterpriseInfo,
    TagInfo,
    WireSample,
    topic,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def cloud_config(dsn: str, broker: tuple[str, int], ent: str, **mqtt_extra: Any) -> CloudConfig:
    """A config that only sees this test's enterprise on the shared broker."""
    mq = {"host": broker[0], "port": broker[1], "topic_filter": f"shopfloor/v1/{ent}/+/+",
          "persistent_session": False, **mqtt_extra}
    return CloudConfig(
        database=DatabaseConfig(dsn=dsn),
        mqtt=MqttConfig(**mq),
        ingest=IngestConfig(rollup_interval_s=0.5),
        api=ApiConfig(),
    )


def data(ent: str, gw: str, seq: int, *, n: int = 10, devices: int = 2, t0: int = T0,
         step_ms: int = 1000, counters: bool = True) -> DataMessage:
    """Batch ``seq`` of a gateway: n samples round-robin over devices and two tags each."""
    samples = []
    for i in range(n):
        k = (seq - 1) * n + i
        dev = f"dev{k % devices}"
        tag = "power" if (k // devices) % 2 == 0 else "state"
        ts = t0 + k * step_ms
        value: float | str = float(k) if tag == "power" else f"s{k}"
        samples.append(WireSample(d=dev, t=tag, ts=ts, rt=ts + 5, v=value, q="good"))
    cnt = None
    if counters:
        cnt = Counters(batches_published=seq, devices={
            f"dev{d}": DeviceCounters(read=seq * n, buffered=0, published=seq * n // devices,
                                      read_errors=1, dropped={"buffer_full": 2})
            for d in range(devices)
        })
    return DataMessage(enterprise=ent, gateway=gw, session="s1", seq=seq, sent=t0 + seq * 1000,
                       samples=samples, counters=cnt)


def birth(ent: str, gw: str, *, session: str = "s1") -> BirthMessage:
    tags = [TagInfo(name="power", type="float32", unit="kW", interval_ms=1000, links=["energy"]),
            TagInfo(name="state", type="string", interval_ms=5000, report="change", heartbeat_ms=60_000)]
    return BirthMessage(
        enterprise=ent, gateway=gw, session=session, ts=T0, next_seq=1, agent_version="0.1.0",
        enterprise_info=EnterpriseInfo(name="Test Dairy", industry="food", district="Saihan"),
        devices=[DeviceInfo(id="dev0", profile="energy_meter_3ph", protocol="modbus", workshop="Filling",
                            line="line-1", key_process=True, tags=tags),
                 DeviceInfo(id="dev1", profile="energy_meter_3ph", protocol="modbus", tags=tags)],
    )


def encode(msg: DataMessage | BirthMessage) -> tuple[str, bytes]:
    kind = "data" if isinstance(msg, DataMessage) else "birth"
    return topic(msg.enterprise, msg.gateway, kind), msg.model_dump_json(exclude_none=True).encode()


class Publisher:
    """A QoS 1 publisher that waits for every PUBACK (with a timeout)."""

    def __init__(self, broker: tuple[str, int], client_id: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect(broker[0], broker[1], keepalive=30)
        self.client.loop_start()

    def publish(self, items: list[tuple[str, bytes]], *, timeout: float = 30.0) -> None:
        infos = [self.client.publish(t, p, qos=1) for t, p in items]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a publish in time"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def publisher(broker: tuple[str, int], client_id: str) -> Iterator[Publisher]:
    p = Publisher(broker, client_id)
    try:
        yield p
    finally:
        p.close()


@contextmanager
def running(cfg: CloudConfig, *, api: bool = False) -> Iterator[threading.Event]:
    """The service in a thread of this process, stopped (and joined) at the end."""
    stop = threading.Event()
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            serve(cfg, api=api, stop=stop, ready=ready)
        except BaseException as err:  # surfaced in the test thread
            errors.append(err)

    th = threading.Thread(target=run, name="serve", daemon=True)
    th.start()
    try:
        wait_until(lambda: ready.is_set() or bool(errors) or not th.is_alive(), timeout=30,
                   what="subscription")
        if errors:
            raise errors[0]
        yield stop
    finally:
        stop.set()
        th.join(30)
        assert not th.is_alive(), "service did not stop within 30 s"
    if errors:
        raise errors[0]


def wait_until(pred: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition") -> None:
    eventually(pred, timeout=timeout, what=what, every=0.1)


def scalar(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql.encode(), params).fetchone()
        return None if row is None else row[0]


def rows(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def clear_sessions(broker: tuple[str, int], client_ids: list[str]) -> None:
    """Leave no persistent sessions of ours behind on the shared broker."""
    for cid in client_ids:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        connected = threading.Event()
        c.on_connect = lambda *_a, ev=connected: ev.set()
        c.connect(broker[0], broker[1], clean_start=True, properties=props)
        c.loop_start()
        connected.wait(5)
        c.disconnect()
        c.loop_stop()
