"""Gateway identity in the cloud, against a real database: the first message binds a gateway to
its enterprise, a gateway speaking for another enterprise (or moving its devices there) is a
dead letter that registers nothing, admins register and move gateways, and a publisher the
broker names must be the gateway's identity."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from click.testing import CliRunner, Result
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud_ingest import migrate
from cloud_ingest.cli import main
from cloud_ingest.config import CloudConfig, DatabaseConfig, IngestConfig, MqttConfig
from cloud_ingest.delivery import Delivery
from cloud_ingest.ingestor import Ingestor
from tests.cloud_ingest.helpers import T0, birth, data, encode, rows, running, scalar, wait_until
from tests.support import Mosquitto
from wire.json_v1 import BirthMessage, DataMessage

pytestmark = pytest.mark.integration


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def db(pg_dsn: str) -> Iterator[str]:
    migrate.migrate(pg_dsn)
    yield pg_dsn


def _ingestor(dsn: str, **ingest: Any) -> Ingestor:
    return Ingestor(CloudConfig(database=DatabaseConfig(dsn=dsn), ingest=IngestConfig(**ingest)),
                    stop=threading.Event())


def _deliver(ing: Ingestor, *msgs: DataMessage | BirthMessage, publisher: tuple[str, ...] = ()) -> None:
    ds = [Delivery(t, p, i, 1, 0, T0, publisher=publisher) for i, (t, p) in enumerate(map(encode, msgs))]
    assert ing.handle(ds)


def _dead(dsn: str) -> list[tuple[Any, ...]]:
    return rows(dsn, "SELECT reason, enterprise, gateway, detail FROM dead_letters ORDER BY id")


def test_first_message_binds_and_another_enterprise_is_refused(db: str) -> None:
    ing = _ingestor(db)
    _deliver(ing, birth("ent-a", "gw1"), data("ent-a", "gw1", 1))
    assert rows(db, "SELECT gateway, enterprise, bound_by FROM gateway_bindings") == [
        ("gw1", "ent-a", "first_message")]
    # the same gateway id, with topic and payload agreeing, speaking for another enterprise
    _deliver(ing, birth("ent-b", "gw1"), data("ent-b", "gw1", 2))
    dead = _dead(db)
    assert [(r, e, g) for r, e, g, _ in dead] == [("identity_mismatch", "ent-b", "gw1")] * 2
    assert "gateway gw1 belongs to enterprise ent-a" in dead[0][3]
    assert "its devices dev0, dev1 would move from ent-a" in dead[0][3]  # the birth's devices
    assert "cloud-ingest gateways move gw1 --to ent-b" in dead[1][3]
    # stored nowhere else: nothing registered for ent-b, the devices stay with ent-a
    assert rows(db, "SELECT code FROM enterprises") == [("ent-a",)]
    assert rows(db, "SELECT DISTINCT e.code FROM devices d JOIN enterprises e ON e.id = d.enterprise_id") == [
        ("ent-a",)]
    assert scalar(db, "SELECT count(*) FROM batches") == 1
    assert scalar(db, "SELECT count(*) FROM samples") == 10
    assert ing.stats.identity_rejected == 2 and ing.stats.dead_letters == 2
    # another worker, with nothing cached, says the same
    other = _ingestor(db)
    _deliver(other, data("ent-b", "gw1", 3))
    assert other.stats.identity_rejected == 1 and scalar(db, "SELECT count(*) FROM batches") == 1
    # replaying the refused messages does not bind anything either
    assert rows(db, "SELECT enterprise FROM gateway_bindings") == [("ent-a",)]


def test_an_admin_moves_a_gateway(db: str) -> None:
    ing = _ingestor(db)
    _deliver(ing, data("ent-a", "gw1", 1))
    out = cli("gateways", "move", "--dsn", db, "gw1", "--to", "ent-b", "--note", "sold to ent-b")
    assert out.exit_code == 0 and "gw1 ent-a → ent-b" in out.output
    # the worker's cache still says ent-a: a mismatch is read again before it is refused
    _deliver(ing, data("ent-b", "gw1", 2))
    _deliver(ing, data("ent-a", "gw1", 3))
    assert rows(db, "SELECT enterprise, seq FROM v_batches ORDER BY seq") == [("ent-a", 1), ("ent-b", 2)]
    assert [(r, e) for r, e, _, _ in _dead(db)] == [("identity_mismatch", "ent-a")]
    assert rows(db, "SELECT from_enterprise, to_enterprise, note FROM gateway_binding_changes") == [
        ("ent-a", "ent-b", "sold to ent-b")]
    listed = cli("gateways", "list", "--dsn", db)
    assert "gw1" in listed.output and "ent-b" in listed.output and "admin" in listed.output
    assert cli("gateways", "move", "--dsn", db, "nope", "--to", "ent-b").exit_code == 1


def test_registered_only(db: str) -> None:
    ing = _ingestor(db, gateway_binding="registered")
    _deliver(ing, data("ent-r", "gw-r", 1))
    assert [(r, g) for r, _, g, _ in _dead(db)] == [("unregistered_gateway", "gw-r")]
    assert "cloud-ingest gateways register --gateway gw-r --enterprise ent-r" in _dead(db)[0][3]
    assert scalar(db, "SELECT count(*) FROM gateways") == 0
    out = cli("gateways", "register", "--dsn", db, "--gateway", "gw-r", "--enterprise", "ent-r")
    assert out.exit_code == 0 and "bound: gateway gw-r → enterprise ent-r" in out.output
    _deliver(ing, data("ent-r", "gw-r", 1))
    assert scalar(db, "SELECT count(*) FROM batches") == 1
    again = cli("gateways", "register", "--dsn", db, "--gateway", "gw-r", "--enterprise", "ent-r")
    assert again.exit_code == 0 and "already bound" in again.output
    clash = cli("gateways", "register", "--dsn", db, "--gateway", "gw-r", "--enterprise", "ent-x")
    assert clash.exit_code == 1 and "is bound to enterprise ent-r" in clash.output
    bad = CliRunner().invoke(main, ["gateways", "register", "--dsn", db, "--gateway", "gw/1",
                                    "--enterprise", "e"])
    assert bad.exit_code == 2 and "letters, digits" in bad.output


def test_existing_registry_is_bound_by_the_migration(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn, target=15)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO enterprises (code) VALUES ('e1'), ('e2')")
        conn.execute("INSERT INTO gateways (enterprise_id, code) SELECT id, 'gw-one' FROM enterprises"
                     " WHERE code = 'e1'")
        conn.execute("INSERT INTO gateways (enterprise_id, code) SELECT id, 'gw-both' FROM enterprises")
    migrate.migrate(pg_dsn)
    assert rows(pg_dsn, "SELECT gateway, enterprise, bound_by FROM gateway_bindings") == [
        ("gw-one", "e1", "migration")]
    out = cli("gateways", "list", "--dsn", pg_dsn, "--unbound")
    assert out.output.strip() == "gw-both  (seen under e1, e2)"


def test_generated_acl(db: str) -> None:
    cli("gateways", "register", "--dsn", db, "--gateway", "gw-a", "--enterprise", "ent-a",
        "--identity", "cn-gw-a")
    acl = cli("gateways", "acl", "--dsn", db).output
    assert "user cloud-ingest\ntopic read shopfloor/v1/#" in acl
    assert "user cn-gw-a\ntopic write shopfloor/v1/ent-a/gw-a/birth\n" in acl
    assert "topic write spBv1.0/+/DDATA/gw-a/+" in acl and "topic read spBv1.0/+/NCMD/gw-a" in acl


def _publish_with(port: int, topic: str, payload: bytes, props: list[tuple[str, str]]) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub-props", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    p = Properties(PacketTypes.PUBLISH)
    if props:
        p.UserProperty = props
    c.publish(topic, payload, qos=1, properties=p).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def test_publisher_named_by_the_broker(db: str, own_broker: Mosquitto) -> None:
    """What Mosquitto's add-properties plugin does (append ``$client_username``) is played here by
    the publisher itself: Debian's mosquitto 2.0 does not ship the plugin."""
    cfg = CloudConfig(database=DatabaseConfig(dsn=db), ingest=IngestConfig(writers=1),
                      mqtt=MqttConfig(host="127.0.0.1", port=own_broker.port, persistent_session=False,
                                      publisher_property="$client_username"))
    with running(cfg):
        _publish_with(own_broker.port, *encode(data("ent-p", "gw-p", 1)), [("$client_username", "gw-p")])
        # a client that forges the property: the broker's own value comes last and differs
        _publish_with(own_broker.port, *encode(data("ent-p", "gw-p", 2)),
                      [("$client_username", "gw-p"), ("$client_username", "gw-intruder")])
        _publish_with(own_broker.port, *encode(data("ent-p", "gw-p", 3)), [])
        wait_until(lambda: scalar(db, "SELECT count(*) FROM dead_letters") == 2, what="two refused")
    assert scalar(db, "SELECT count(*) FROM batches") == 1
    dead = _dead(db)
    assert [r for r, *_ in dead] == ["publisher_mismatch"] * 2
    assert "published by gw-intruder, but gateway gw-p has identity gw-p" in dead[0][3]
    assert "the broker named no publisher in user property '$client_username'" in dead[1][3]
