"""Real mosquitto, started from the configuration ``cccd fleet broker-config`` writes, on loopback ports.

Terminals enroll through the real enrollment service, connect with MQTT 5 (so PUBACK reason codes tell what the
broker decided) and exchange sealed wire messages with the central server's identity.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from provkit import (
    PASSPHRASE,
    broker_dir,
    enrollment_service,
    free_port,
    mosquitto,
    new_fleet,
    run_cli,
    tls_context,
    token,
)

import provisioning
import wire
from provisioning import BrokerLayout, CrlProbe, Fleet, make_csr, probe_crl
from provisioning._pki import cert_pem, generate_key, plain_key

pytestmark = [
    pytest.mark.mosquitto,
    pytest.mark.skipif(
        shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(), reason="no mosquitto"
    ),
]

NOT_AUTHORIZED = 135
ACCEPTED = {0, 16}  # success, and "no matching subscribers" (also a success)


@dataclass
class Terminal:
    device_id: str
    state: Path

    @property
    def cert(self) -> Path:
        return self.state / "device.pem"

    @property
    def key(self) -> Path:
        return self.state / "device.key"

    def signer(self) -> wire.KeySigner:
        key = provisioning.load_identity(self.state).key
        return wire.KeySigner(key, kid=self.device_id)

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())


@dataclass
class Client:
    """A paho MQTT 5 client that records what the broker answered."""

    mqtt: mqtt.Client
    connected: threading.Event = field(default_factory=threading.Event)
    connects: int = 0
    disconnects: list[str] = field(default_factory=list)
    acks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: list[list[ReasonCode]] = field(default_factory=list)
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    acked: threading.Condition = field(default_factory=threading.Condition)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        info = self.mqtt.publish(topic, payload, qos=qos, retain=retain)
        with self.acked:
            assert self.acked.wait_for(lambda: info.mid in self.acks, timeout=5), f"no PUBACK for {topic}"
        return int(self.acks[info.mid].value)

    def subscribe(self, topic: str) -> int:
        count = len(self.subacks)
        self.mqtt.subscribe(topic, qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: len(self.subacks) > count, timeout=5)
        return int(self.subacks[-1][0].value)

    def wait_message(self, predicate: object, timeout: float = 5.0) -> mqtt.MQTTMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if predicate(message):  # type: ignore[operator]
                    return message
            time.sleep(0.02)
        raise AssertionError("message not received")

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


def connect(
    ca: Path,
    cert: Path,
    key: Path,
    port: int,
    *,
    client_id: str = "",
    will: wire.State | None = None,
    will_signer: wire.KeySigner | None = None,
) -> Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.tls_set_context(tls_context(ca, cert, key))
    record = Client(client)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if not reason.is_failure:
            record.connects += 1
            record.connected.set()

    def on_disconnect(_c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        record.disconnects.append(str(reason))
        record.connected.clear()

    def on_publish(_c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with record.acked:
            record.acks[mid] = reason
            record.acked.notify_all()

    def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: object) -> None:
        with record.acked:
            record.subacks.append(reasons)
            record.acked.notify_all()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    client.on_message = lambda _c, _u, message: record.messages.append(message)
    if will is not None and will_signer is not None:
        client.will_set(
            wire.topic_for(will.header.device_id, wire.Channel.STATE),
            wire.seal(will, signer=will_signer),
            qos=1,
            retain=True,
        )
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    assert record.connected.wait(5), "could not connect"
    return record


@dataclass
class Setup:
    fleet: Fleet
    layout: BrokerLayout
    port: int
    server_port: int
    passphrase_file: Path
    a: Terminal
    b: Terminal
    log: Path


def _header(device_id: str, seq: int) -> wire.Header:
    now = time.time_ns() // 1_000_000
    return wire.Header(id=wire.new_message_id(unix_ms=now), device_id=device_id, seq=seq, time_ms=now)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("mosquitto")
    fleet = new_fleet(tmp / "fleet")
    passphrase_file = tmp / "passphrase"
    passphrase_file.write_bytes(PASSPHRASE + b"\n")
    out = broker_dir()
    port, server_port = free_port(), free_port()
    code, _, stderr = run_cli(
        "fleet",
        "broker-config",
        "--out",
        str(out),
        "--port",
        str(port),
        "--host",
        "localhost",
        "--server-listen",
        f"127.0.0.1:{server_port}",
        "--fleet-dir",
        str(fleet.directory),
        "--passphrase-file",
        str(passphrase_file),
    )
    assert code == 0, stderr
    terminals = []
    with enrollment_service(fleet.directory, tmp) as url:
        for name in ("a", "b"):
            enrolled = asyncio.run(
                provisioning.enroll(
                    server_url=url, token=token(fleet), ca_fingerprint=fleet.root_fingerprint, state_dir=tmp / name
                )
            )
            terminals.append(Terminal(enrolled.identity.device_id, tmp / name))
    layout = BrokerLayout(out)
    log = tmp / "mosquitto.log"
    try:
        with mosquitto(layout.conf, port=port, log=log):
            yield Setup(fleet, layout, port, server_port, passphrase_file, terminals[0], terminals[1], log)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _server(setup: Setup, client_id: str) -> Client:
    return connect(
        setup.layout.ca_chain, setup.layout.client_cert, setup.layout.client_key, setup.server_port, client_id=client_id
    )


def _terminal(setup: Setup, t: Terminal, *, will: bool = False) -> Client:
    last_will = wire.State(header=_header(t.device_id, 0), status=wire.DeviceStatus.OFFLINE) if will else None
    return connect(
        setup.layout.ca_chain,
        t.cert,
        t.key,
        setup.port,
        client_id="ignored",
        will=last_will,
        will_signer=t.signer() if will else None,
    )


def test_the_broker_drops_privileges_and_reads_its_files(setup: Setup) -> None:
    if os.geteuid() != 0:
        pytest.skip("privilege drop only happens when started as root")
    pid = int(setup.layout.pid_file.read_text())
    status = Path(f"/proc/{pid}/status").read_text()
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert uid != 0  # running as the broker's own user, yet it could read its key, CRL and ACL


def test_an_enrolled_terminal_publishes_under_its_own_topics(setup: Setup) -> None:
    server = _server(setup, "ingest-1")
    assert server.subscribe(wire.server_subscriptions()[0]) < 128  # $share/ingest/cccd/v1/+/result
    terminal = _terminal(setup, setup.a, will=True)
    try:
        result = wire.AuthResult(
            header=_header(setup.a.device_id, 1), verdict=wire.Verdict.INCOMPLETE, reasons=("card_removed",)
        )
        envelope = wire.seal(result, signer=setup.a.signer())
        topic = wire.topic_for(setup.a.device_id, wire.Channel.RESULT)
        assert terminal.publish(topic, envelope) == 0
        received = server.wait_message(lambda m: m.topic == topic)
        # The server checks the signature against the certificate the broker authenticated.
        opened = wire.open_message(
            received.payload, certificate=setup.a.certificate(), identity=setup.a.device_id, topic=received.topic
        )
        assert opened == result
        heartbeat = wire.topic_for(setup.a.device_id, wire.Channel.HEARTBEAT)
        assert terminal.publish(heartbeat, b"x", qos=1) in ACCEPTED
        reply = wire.topic_for(setup.a.device_id, wire.Channel.COMMAND_REPLY)
        assert terminal.publish(reply, b"x") in ACCEPTED
    finally:
        terminal.close()
        server.close()


def test_another_terminals_topics_are_refused(setup: Setup) -> None:
    terminal = _terminal(setup, setup.a)
    try:
        for topic in (
            wire.topic_for(setup.b.device_id, wire.Channel.RESULT),  # someone else's uplink
            wire.topic_for(setup.a.device_id, wire.Channel.ACK),  # its own downlink: only the server writes it
            wire.topic_for(setup.a.device_id, wire.Channel.CONFIG),
            "cccd/v1/cccd-server/result",
            "elsewhere/topic",
        ):
            assert terminal.publish(topic, b"forged") == NOT_AUTHORIZED, topic
        assert terminal.connected.is_set()
    finally:
        terminal.close()


def test_a_terminal_reads_only_its_own_downlink(setup: Setup) -> None:
    """mosquitto 2.0 answers SUBSCRIBE with a granted QoS even where the ACL forbids reading, and enforces the
    read rule on every delivery instead: what matters is that nothing of another terminal arrives."""
    spy, other = _terminal(setup, setup.a), _terminal(setup, setup.b)
    server = _server(setup, "ingest-3")
    try:
        for topic in (wire.topic_for(setup.b.device_id, wire.Channel.ACK), "cccd/v1/+/result", "cccd/v1/#", "#"):
            spy.subscribe(topic)
        assert other.subscribe(wire.topic_for(setup.b.device_id, wire.Channel.ACK)) < 128
        assert server.publish(wire.topic_for(setup.b.device_id, wire.Channel.ACK), b"for b only") == 0
        assert other.publish(wire.topic_for(setup.b.device_id, wire.Channel.RESULT), b"b's result") in ACCEPTED
        assert other.wait_message(lambda m: m.payload == b"for b only")
        time.sleep(0.3)
        assert spy.messages == []
    finally:
        for c in (spy, other, server):
            c.close()


def test_the_server_reaches_one_terminal_only(setup: Setup) -> None:
    a, b = _terminal(setup, setup.a), _terminal(setup, setup.b)
    server = _server(setup, "ingest-2")
    try:
        for t in (a, b):
            assert t.subscribe(f"cccd/v1/{(setup.a if t is a else setup.b).device_id}/ack") < 128
        ack = wire.Ack(
            header=_header(setup.a.device_id, 1),
            result_id=wire.new_message_id(unix_ms=1),
            result_seq=1,
            status=wire.AckStatus.STORED,
            registry=wire.RegistryOutcome.PENDING,
        )
        assert server.publish(wire.topic_for(setup.a.device_id, wire.Channel.ACK), b"ack-for-a") == 0
        assert a.wait_message(lambda m: m.payload == b"ack-for-a")
        time.sleep(0.2)
        assert not b.messages
        assert ack.CHANNEL is wire.Channel.ACK
    finally:
        for c in (a, b, server):
            c.close()


def test_an_expired_certificate_cannot_connect(setup: Setup, tmp_path: Path) -> None:
    real_now = dt.datetime.now(dt.UTC)
    past = Fleet.open(setup.fleet.directory, clock=lambda: real_now - dt.timedelta(days=40))
    key = generate_key()
    grant = past.enroll(past.unlock(PASSPHRASE), token=token(past), csr_pem=make_csr(key))
    assert grant.certificate.not_valid_after_utc < real_now
    (tmp_path / "old.pem").write_bytes(cert_pem(grant.certificate))
    (tmp_path / "old.key").write_bytes(plain_key(key))
    verdict = probe_crl(
        "127.0.0.1", setup.port, ca_chain=setup.layout.ca_chain, cert=tmp_path / "old.pem", key=tmp_path / "old.key"
    )
    assert verdict is CrlProbe.CRL_EXPIRED  # the broker's alert: "certificate expired"
    with pytest.raises(AssertionError, match="could not connect"):
        connect(setup.layout.ca_chain, tmp_path / "old.pem", tmp_path / "old.key", setup.port)


def test_revocation_refuses_the_terminal_and_drops_its_live_session(setup: Setup) -> None:
    victim, bystander = _terminal(setup, setup.a), _terminal(setup, setup.b)
    try:
        code, stdout, stderr = run_cli(
            "fleet",
            "revoke",
            setup.a.device_id,
            "--json",
            "--fleet-dir",
            str(setup.fleet.directory),
            "--passphrase-file",
            str(setup.passphrase_file),
        )
        assert code == 0, stderr
        report = json.loads(stdout)
        assert report["device_id"] == setup.a.device_id
        [broker] = report["brokers"]
        assert broker["running"] is True
        assert broker["crl"] == "enforced"
        assert broker["disconnected"] == [setup.a.device_id]
        # The live session is gone ("administrative action"), and every reconnect fails on the CRL.
        deadline = time.monotonic() + 5
        while not victim.disconnects and time.monotonic() < deadline:
            time.sleep(0.05)
        assert victim.disconnects
        assert "dministrative" in victim.disconnects[0]
        time.sleep(1.5)
        assert not victim.connected.is_set()
        assert victim.connects == 1
        verdict = probe_crl("127.0.0.1", setup.port, ca_chain=setup.layout.ca_chain, cert=setup.a.cert, key=setup.a.key)
        assert verdict is CrlProbe.ENFORCED
        # Other terminals were neither dropped nor reconnected.
        assert bystander.connects == 1
        assert not bystander.disconnects
        assert bystander.publish(wire.topic_for(setup.b.device_id, wire.Channel.HEARTBEAT), b"still here") in ACCEPTED
        assert setup.a.device_id in json.loads(setup.fleet.denylist_path.read_text())["devices"]
    finally:
        victim.mqtt.loop_stop()
        bystander.close()


def test_a_crl_that_mosquitto_cannot_read_is_caught_by_the_witness(setup: Setup) -> None:
    """The trap itself: a garbage CRL at SIGHUP makes mosquitto fail open. The witness probe notices."""
    control = provisioning.MosquittoControl(setup.layout)
    crl = setup.fleet.current_crl()
    assert crl is not None
    held = setup.fleet.held_witness(crl)
    assert held is not None
    assert control.probe(held) is CrlProbe.ENFORCED
    assert control.probe(1 - held) is CrlProbe.NOT_ENFORCED
    good = setup.layout.crl.read_bytes()
    try:
        setup.layout.crl.write_bytes(b"-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n")
        assert control.reload()
        deadline = time.monotonic() + 5
        verdict = control.probe(held)
        while verdict is CrlProbe.ENFORCED and time.monotonic() < deadline:
            time.sleep(0.2)
            verdict = control.probe(held)
        assert verdict is CrlProbe.NOT_ENFORCED
    finally:
        setup.layout.crl.write_bytes(good)
    reports = provisioning.push_revocation_state(setup.fleet)
    assert [r.probe for r in reports] == [CrlProbe.ENFORCED]
    assert all(r.ok for r in reports)
    os.kill(int(setup.layout.pid_file.read_text()), 0)  # still the same broker process


@dataclass
class _DeafBroker:
    """A running broker that never gets the SIGHUP: it keeps the CRL it loaded before."""

    real: provisioning.MosquittoControl

    def reload(self) -> bool:
        return True

    def probe(self, witness: int | None = None) -> CrlProbe:
        return self.real.probe(witness)

    def disconnect(self, device_ids: list[str]) -> tuple[str, ...]:
        return ()


def test_a_reload_that_never_happened_is_reported(setup: Setup) -> None:
    """The permanent canary is refused by the old CRL too; only the witnesses can tell the new CRL is not loaded."""
    authority = setup.fleet.unlock(PASSPHRASE)
    setup.fleet.write_crl(authority)
    deaf = _DeafBroker(provisioning.MosquittoControl(setup.layout))
    assert deaf.probe() is CrlProbe.ENFORCED  # the canary alone would have said "enforced"
    [report] = provisioning.push_revocation_state(setup.fleet, controls={setup.layout.directory: deaf}, settle_s=1.0)
    assert not report.ok
    assert report.probe is CrlProbe.NOT_ENFORCED
    assert "not in force" in report.problems[0]
    # Once the broker really reloads, the same push reports the CRL in force.
    [report] = provisioning.push_revocation_state(setup.fleet)
    assert report.ok, report.problems
    assert report.probe is CrlProbe.ENFORCED
