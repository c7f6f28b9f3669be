"""The hardened broker: TLS only, no anonymous client, a till may speak only for itself."""

import json
import ssl
import threading

import paho.mqtt.client as mqtt
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from loyalty.cli import main
from sync import topics
from sync.broker_config import ADMIN_USER, SERVER_USER, read_password


def connect(made, user, password, tls=True):
    """Returns (client, reason code of CONNACK or the exception)."""
    result, done = {}, threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{tls}")
    if user:
        client.username_pw_set(user, password)
    if tls:
        client.tls_set(ca_certs=str(made.ca_file))

    def on_connect(c, u, flags, reason_code, props):
        result["rc"] = reason_code
        done.set()

    def on_disconnect(c, u, flags, reason_code, props):
        result.setdefault("rc", "closed before any answer")
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect("127.0.0.1", made.port)
    except (ssl.SSLError, OSError) as exc:
        return client, exc
    client.loop_start()
    done.wait(10)
    return client, result.get("rc")


def test_anonymous_and_wrong_password_are_refused(secure_broker):
    client, rc = connect(secure_broker, None, None)
    assert str(rc) == "Not authorized"
    client.loop_stop()
    # The password of S001-T02 does not open S001-T01's account.
    client, rc = connect(secure_broker, "S001-T01", read_password(secure_broker.directory, "S001-T02"))
    assert str(rc) == "Not authorized"
    client.loop_stop()


def test_plain_tcp_is_refused(secure_broker):
    client, outcome = connect(secure_broker, "S001-T01", read_password(secure_broker.directory, "S001-T01"), tls=False)
    client.loop_stop()
    # The TLS listener does not speak plain MQTT: the broker drops the connection without a CONNACK.
    assert outcome == "closed before any answer" or isinstance(outcome, OSError)


def test_a_till_cannot_publish_as_another(secure_broker):
    server, rc = connect(secure_broker, SERVER_USER, read_password(secure_broker.directory, SERVER_USER))
    assert str(rc) == "Success"
    got, changed = [], threading.Condition()

    def on_message(c, u, message):
        with changed:
            got.append(message.topic)
            changed.notify_all()

    server.on_message = on_message
    subscribed = threading.Event()
    server.on_subscribe = lambda *a: subscribed.set()
    server.subscribe(topics.TICKETS_SUBSCRIPTION, qos=1)
    assert subscribed.wait(10)
    till, rc = connect(secure_broker, "S001-T01", read_password(secure_broker.directory, "S001-T01"))
    assert str(rc) == "Success"
    till.publish(topics.tickets("S001-T02"), b"forged", qos=1).wait_for_publish(10)
    till.publish(topics.tickets("S001-T01"), b"own", qos=1).wait_for_publish(10)
    with changed:
        assert changed.wait_for(lambda: topics.tickets("S001-T01") in got, 10)
    # Messages of one client arrive in order: the forged one would have come first.
    assert got == [topics.tickets("S001-T01")]
    for client in (till, server):
        client.disconnect()
        client.loop_stop()


def test_a_till_cannot_report_or_ask_as_another_and_gets_only_its_replies(secure_broker):
    password = lambda user: read_password(secure_broker.directory, user)  # noqa: E731
    server, rc = connect(secure_broker, SERVER_USER, password(SERVER_USER))
    assert str(rc) == "Success"
    got, changed = [], threading.Condition()

    def collect(c, u, message):
        with changed:
            got.append((c is server, message.topic, message.payload))
            changed.notify_all()

    subscribed = threading.Semaphore(0)
    till, rc = connect(secure_broker, "S001-T01", password("S001-T01"))
    assert str(rc) == "Success"
    for client, topic in (
        (server, topics.STATUS_SUBSCRIPTION),
        (server, topics.REQUESTS_SUBSCRIPTION),
        (till, f"{topics.PREFIX}/down/+/replies"),
    ):
        client.on_message = collect
        client.on_subscribe = lambda *a: subscribed.release()
        client.subscribe(topic, qos=1)
        assert subscribed.acquire(timeout=10)
    for leaf in (topics.status, topics.requests):
        till.publish(leaf("S001-T02"), b"forged", qos=1).wait_for_publish(10)
        till.publish(leaf("S001-T01"), b"own", qos=1).wait_for_publish(10)
    server.publish(topics.replies("S001-T02"), b"for another till", qos=1).wait_for_publish(10)
    server.publish(topics.replies("S001-T01"), b"for S001-T01", qos=1).wait_for_publish(10)
    with changed:
        assert changed.wait_for(
            lambda: len(got) >= 3 and (False, topics.replies("S001-T01"), b"for S001-T01") in got, 10
        )
    # Each client's messages arrive in order: anything forged or foreign would have come first.
    assert sorted(got) == sorted(
        [
            (True, topics.status("S001-T01"), b"own"),
            (True, topics.requests("S001-T01"), b"own"),
            (False, topics.replies("S001-T01"), b"for S001-T01"),
        ]
    )
    for client in (till, server):
        client.disconnect()
        client.loop_stop()


def test_the_chain_runs_over_tls_with_credentials(secure_broker, tmp_path):
    from ..fixtures.chain import Till, start_ingestor

    ca = secure_broker.ca_file
    server_url = (
        f"mqtts://{SERVER_USER}:{read_password(secure_broker.directory, SERVER_USER)}"
        f"@127.0.0.1:{secure_broker.port}?ca={ca}"
    )
    till_url = (
        f"mqtts://S001-T01:{read_password(secure_broker.directory, 'S001-T01')}@127.0.0.1:{secure_broker.port}?ca={ca}"
    )
    ingestor = start_ingestor(tmp_path / "server.db", server_url)
    till = Till(tmp_path, "S001-T01")
    try:
        till.connect(till_url)
        till.sell(20)
        assert till.sender.wait_synced(30)
    finally:
        till.close()
        ingestor.stop()
    assert ingestor.totals.stored == 20


def test_config_command_is_idempotent_and_keeps_passwords(reachable):
    out = reachable / "broker"
    first = CliRunner().invoke(main, ["broker", "config", "--out", str(out), "--till", "S001-T01"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["new_accounts"] == ["S001-T01", "loyalty-admin", "loyalty-server"]
    password = read_password(out, "S001-T01")
    again = CliRunner().invoke(
        main, ["broker", "config", "--out", str(out), "--till", "S001-T01", "--till", "S001-T02"]
    )
    assert json.loads(again.output)["new_accounts"] == ["S001-T02"]
    assert read_password(out, "S001-T01") == password
    assert oct((out / "credentials" / "S001-T01").stat().st_mode & 0o777) == "0o600"
    bad = CliRunner().invoke(main, ["broker", "config", "--out", str(out), "--till", "till-1"])
    assert bad.exit_code == 1
    assert "Error: terminal id 'till-1' is not of the form S042-T07 (store, till)" in bad.output


def test_the_server_reads_the_rules_head_office_publishes_and_a_till_cannot_publish_rules(secure_broker):
    password = lambda user: read_password(secure_broker.directory, user)  # noqa: E731
    admin, rc = connect(secure_broker, ADMIN_USER, password(ADMIN_USER))
    assert str(rc) == "Success"
    server, rc = connect(secure_broker, SERVER_USER, password(SERVER_USER))
    assert str(rc) == "Success"
    till, rc = connect(secure_broker, "S001-T01", password("S001-T01"))
    assert str(rc) == "Success"
    got, changed, subscribed = [], threading.Condition(), threading.Event()

    def collect(c, u, message):
        with changed:
            got.append(message.payload)
            changed.notify_all()

    server.on_message = collect
    server.on_subscribe = lambda *a: subscribed.set()
    server.subscribe(topics.RULES, qos=1)
    assert subscribed.wait(10)
    till.publish(topics.RULES, b"forged rules", qos=1).wait_for_publish(10)
    admin.publish(topics.RULES, b"head office rules", qos=1).wait_for_publish(10)
    with changed:
        assert changed.wait_for(lambda: b"head office rules" in got, 10)
    assert got == [b"head office rules"]  # the till's came first, and was dropped by the broker
    for client in (admin, till, server):
        client.disconnect()
        client.loop_stop()
