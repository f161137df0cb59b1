"""The ingest over MQTT with TLS, against a Mosquitto of the test's own with per-client
certificates and the ACL shipped in examples/mosquitto/: mutual TLS, password over TLS, the
ACL confining a gateway to its own topics, and every TLS failure a user meets explained."""

from __future__ import annotations

import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud_ingest import migrate
from cloud_ingest.config import CloudConfig, DatabaseConfig, IngestConfig, MqttConfig
from cloud_ingest.mqtt_source import BrokerError, MqttSource
from common.tls import TlsSettings
from tests.cloud_ingest.helpers import birth, data, encode, rows, running, scalar, wait_until
from tests.support import BROKER_HOST, BROKER_PORT
from tests.tls.broker import TlsMosquitto
from tests.tls.fixtures import GATEWAY_PASSWORD, INGEST_PASSWORD, Pki
from tests.tls.pki import Issued

pytestmark = pytest.mark.integration


def _tls(pki: Pki, cert: Issued | None = None, *, ca: Path | None = None) -> TlsSettings:
    return TlsSettings(ca_file=str(ca or pki.ca.cert), cert_file=str(cert.cert) if cert else None,
                       key_file=str(cert.key) if cert else None)


def _cloud(dsn: str, *, port: int, tls: TlsSettings, host: str = "localhost", **extra: Any) -> CloudConfig:
    return CloudConfig(database=DatabaseConfig(dsn=dsn), ingest=IngestConfig(writers=1),
                       mqtt=MqttConfig(host=host, port=port, tls=tls, persistent_session=False, **extra))


class TlsPublisher:
    """A gateway's connection: MQTT 5 over TLS, QoS 1, keeping each PUBACK's reason code."""

    def __init__(self, port: int, ctx: ssl.SSLContext, *, username: str | None = None,
                 password: str | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gw-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.tls_set_context(ctx)
        if username:
            self.client.username_pw_set(username, password)
        self.acks: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        connected = threading.Event()
        self.client.on_connect = lambda *_a: connected.set()
        self.client.connect("localhost", port)
        self.client.loop_start()
        assert connected.wait(10), "gateway could not connect over TLS"

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._lock:
            self.acks[mid] = reason

    def publish(self, topic: str, payload: bytes) -> Any:
        """The broker's PUBACK reason code for this message."""
        info = self.client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.acks, timeout=10, what=f"PUBACK for {topic}")
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def tls_publisher(port: int, ctx: ssl.SSLContext, **kw: Any) -> Iterator[TlsPublisher]:
    p = TlsPublisher(port, ctx, **kw)
    try:
        yield p
    finally:
        p.close()


def _gateway_ctx(pki: Pki, cert: Issued | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    return ctx


def test_mutual_tls_and_the_acl_confine_each_gateway(pg_dsn: str, pki: Pki, tls_broker: TlsMosquitto) -> None:
    migrate.migrate(pg_dsn)
    ent = "ent-tls"
    cfg = _cloud(pg_dsn, port=tls_broker.mtls_port, tls=_tls(pki, pki.ingest))
    with running(cfg), tls_publisher(tls_broker.mtls_port, _gateway_ctx(pki, pki.gateway)) as gw:
        for msg in (birth(ent, "gw-a"), data(ent, "gw-a", 1)):
            assert not gw.publish(*encode(msg)).is_failure
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 1, what="gw-a's batch")
        # gw-a's certificate says gw-a: the broker refuses it speaking as gw-b
        refused = gw.publish(*encode(data(ent, "gw-b", 1)))
        assert refused.is_failure and refused.getName() == "Not authorized"
        refused = gw.publish(*encode(birth(ent, "gw-b")))
        assert refused.is_failure
        assert not gw.publish(*encode(data(ent, "gw-a", 2))).is_failure  # still connected, still heard
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 2, what="gw-a's second batch")
        # as itself but for another enterprise: the pattern ACL pins only the gateway level, the
        # cloud's binding (gw-a belongs to ent-tls since its first message) refuses the rest
        assert not gw.publish(*encode(data("ent-other", "gw-a", 3))).is_failure
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 1, what="dead letter")
    assert rows(pg_dsn, "SELECT code FROM gateways ORDER BY code") == [("gw-a",)]
    assert rows(pg_dsn, "SELECT reason, enterprise, gateway FROM dead_letters") == [
        ("identity_mismatch", "ent-other", "gw-a")]
    assert scalar(pg_dsn, "SELECT count(*) FROM batches") == 2


def test_generated_acl_pins_the_enterprise_at_the_broker(pg_dsn: str, pki: Pki, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cloud_ingest.cli import main

    migrate.migrate(pg_dsn)
    runner = CliRunner()
    assert runner.invoke(main, ["gateways", "register", "--dsn", pg_dsn, "--gateway", "gw-a",
                                "--enterprise", "ent-tls"]).exit_code == 0
    acl = tmp_path / "generated.acl"
    acl.write_text(runner.invoke(main, ["gateways", "acl", "--dsn", pg_dsn]).output)
    broker = TlsMosquitto(pki.ca, pki.broker, acl=acl)
    broker.start()
    try:
        with tls_publisher(broker.mtls_port, _gateway_ctx(pki, pki.gateway)) as gw:
            assert not gw.publish(*encode(data("ent-tls", "gw-a", 1))).is_failure
            assert gw.publish(*encode(data("ent-other", "gw-a", 1))).is_failure
            assert gw.publish(*encode(data("ent-tls", "gw-b", 1))).is_failure
    finally:
        broker.close()


def test_password_over_tls(pg_dsn: str, pki: Pki, tls_broker: TlsMosquitto, tmp_path: Path) -> None:
    migrate.migrate(pg_dsn)
    secret = tmp_path / "mqtt.pass"
    secret.write_text(INGEST_PASSWORD + "\n")
    secret.chmod(0o600)
    cfg = _cloud(pg_dsn, port=tls_broker.password_port, tls=_tls(pki), username="cloud-ingest",
                 password_file=str(secret))
    with running(cfg), tls_publisher(tls_broker.password_port, _gateway_ctx(pki), username="gw-a",
                                     password=GATEWAY_PASSWORD) as gw:
        assert not gw.publish(*encode(data("ent-pw", "gw-a", 1))).is_failure
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM batches") == 1, what="batch over TLS")

    secret.write_text("not-the-password\n")
    with pytest.raises(BrokerError) as info:
        MqttSource(cfg.mqtt, queue_max=10).start()
    message = str(info.value)
    assert "bad user name or password" in message and f"mqtt.password_file ({secret})" in message
    assert "not-the-password" not in message


def _fails(mqtt_cfg: MqttConfig) -> str:
    with pytest.raises(BrokerError) as info:
        source = MqttSource(mqtt_cfg, queue_max=10)
        source.start()
    return str(info.value)


def test_wrong_ca(pki: Pki, tls_broker: TlsMosquitto) -> None:
    tls = _tls(pki, pki.ingest, ca=pki.other_ca.cert)
    msg = _fails(MqttConfig(host="localhost", port=tls_broker.mtls_port, tls=tls))
    assert "broker certificate not trusted" in msg
    assert f"mqtt.tls.ca_file ({pki.other_ca.cert})" in msg and "set mqtt.tls.ca_file to the CA" in msg


def test_hostname_mismatch(pki: Pki, tls_broker: TlsMosquitto) -> None:
    msg = _fails(MqttConfig(host="127.0.0.1", port=tls_broker.mtls_port, tls=_tls(pki, pki.ingest)))
    assert "host name mismatch" in msg and "'127.0.0.1'" in msg
    assert "it names localhost" in msg and "subjectAltName" in msg and "(set mqtt.host)" in msg


def test_expired_broker_certificate(pki: Pki) -> None:
    expired = TlsMosquitto(pki.ca, pki.broker_expired)
    expired.start()
    try:
        msg = _fails(MqttConfig(host="localhost", port=expired.mtls_port, tls=_tls(pki, pki.ingest)))
    finally:
        expired.close()
    assert "broker certificate expired" in msg and "renew" in msg


def test_expired_client_certificate_is_refused_before_connecting(pki: Pki) -> None:
    # port 9 (discard): nothing is contacted, the check is on the file
    msg = _fails(MqttConfig(host="localhost", port=9, tls=_tls(pki, pki.ingest_expired)))
    assert "certificate expired" in msg and f"mqtt.tls.cert_file: {pki.ingest_expired.cert}" in msg
    assert "issue a new certificate" in msg


def test_broker_refuses_our_certificate(pki: Pki, tls_broker: TlsMosquitto) -> None:
    msg = _fails(MqttConfig(host="localhost", port=tls_broker.mtls_port, tls=_tls(pki, pki.ingest_foreign)))
    assert "broker does not trust our certificate" in msg and str(pki.ingest_foreign.cert) in msg
    msg = _fails(MqttConfig(host="localhost", port=tls_broker.mtls_port, tls=_tls(pki)))
    assert "broker requires a client certificate" in msg and "mqtt.tls.cert_file" in msg


def test_tls_to_a_plain_port() -> None:
    msg = _fails(MqttConfig(host=BROKER_HOST, port=BROKER_PORT, tls=TlsSettings()))
    assert "not a TLS port" in msg and "8883" in msg


def test_key_file_readable_by_others_is_refused(pki: Pki, tmp_path: Path) -> None:
    loose = pki.ca.issue("loose", key_mode=0o644)
    msg = _fails(MqttConfig(host="localhost", port=9, tls=_tls(pki, loose)))
    assert f"chmod 600 {loose.key}" in msg and "mqtt.tls.key_file" in msg


def test_key_that_is_not_the_certificates(pki: Pki) -> None:
    mixed = TlsSettings(ca_file=str(pki.ca.cert), cert_file=str(pki.ingest.cert),
                        key_file=str(pki.gateway.key))
    msg = _fails(MqttConfig(host="localhost", port=9, tls=mixed))
    assert f"{pki.gateway.key} is not the key of {pki.ingest.cert}" in msg


def test_missing_ca_file(tmp_path: Path) -> None:
    msg = _fails(MqttConfig(host="localhost", port=9, tls=TlsSettings(ca_file=str(tmp_path / "nope.crt"))))
    assert f"mqtt.tls.ca_file: {tmp_path / 'nope.crt'}" in msg and "check the path" in msg


def test_tls_port_defaults_to_8883() -> None:
    assert MqttConfig.model_validate({"tls": {}}).port == 8883
    assert MqttConfig.model_validate({"tls": {}, "port": 18883}).port == 18883
    assert MqttConfig.model_validate({}).port == 1883
