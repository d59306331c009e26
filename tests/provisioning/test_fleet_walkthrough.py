"""The walkthrough of docs/fleet.md, replayed with instruments that share no code with us.

Our side runs as a person would run it: the ``cccd`` command (``fleet init``, ``token create``, ``broker-config``,
``serve``, ``agent enroll``, ``revoke``) and ``mosquitto -c DIR/mosquitto.conf``. What is observed goes through
Debian's ``mosquitto_pub`` / ``mosquitto_sub`` (MQTT 5, so the PUBACK reason codes show what the broker decided),
``openssl`` (``verify``, ``s_client``, ``req``, ``crl``) and ``curl`` against the enrollment API. The one certificate
we cannot get from the fleet, an expired one, is made with ``cryptography`` and the issuing CA's key. Every process
is started here and stopped by its PID.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from provkit import broker_dir, free_port, mosquitto, stop, wait_for_port

import wire
from provisioning import Fleet, Site, load_identity

TOOLS = ("mosquitto_pub", "mosquitto_sub", "openssl", "curl", "stdbuf")
pytestmark = [
    pytest.mark.mosquitto,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(), reason="no mosquitto"
    ),
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in TOOLS), reason=f"the walkthrough's instruments: {', '.join(TOOLS)}"
    ),
]

SITE = "79/760/team-3"
PASSPHRASE = "walkthrough passphrase, long enough"
NOT_AUTHORIZED = 135
ADMINISTRATIVE_ACTION = 152
_PUBACK = re.compile(r"received PUBACK \(Mid: \d+, RC:(\d+)\)")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", re.DOTALL)


def _cccd_command() -> list[str]:
    script = Path(sys.executable).with_name("cccd")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from cccd.cli import main; main()"]


def run(*command: str | Path, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, input=stdin, capture_output=True, text=True, check=False, timeout=60
    )


def cccd(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run(*_cccd_command(), *args)


@dataclass(frozen=True)
class Identity:
    """A certificate and key as the MQTT clients take them."""

    name: str
    cert: Path
    key: Path


@dataclass(frozen=True)
class World:
    tmp: Path
    fleet: Path
    passphrase: Path
    broker: Path
    port: int
    server_port: int
    enroll_url: str
    fingerprint: str
    terminals: dict[str, Identity]
    server: Identity

    @property
    def root(self) -> Path:
        return self.fleet / "root-ca.pem"

    @property
    def issuing(self) -> Path:
        return self.fleet / "issuing-ca.pem"

    @property
    def ca_chain(self) -> Path:
        return self.broker / "ca-chain.pem"


def _terminal(state: Path) -> Identity:
    device_id = json.loads((state / "config.json").read_text())["device_id"]
    return Identity(device_id, state / "device.pem", state / "device.key")


def pub(
    world: World,
    who: Identity | None,
    topic: str,
    *,
    message: str = "x",
    file: Path | None = None,
    server_listener: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``mosquitto_pub`` at QoS 1 with MQTT 5 and ``-d``, as terminal ``who`` (None: no certificate at all)."""
    port = world.server_port if server_listener else world.port
    command: list[str | Path] = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "--cafile", world.ca_chain]
    if who is not None:
        command += ["--cert", who.cert, "--key", who.key]
    if server_listener:
        command += ["-i", f"walkthrough-{time.monotonic_ns()}"]
    command += ["-V", "mqttv5", "-q", "1", "-d", "-t", topic]
    command += ["-f", file] if file is not None else ["-m", message]
    return run(*command)


def handshake(world: World, who: Identity) -> str:
    """What ``openssl s_client`` hears from the terminals' listener with this certificate. It sends nothing and
    waits (``-ign_eof``), so under TLS 1.3 the broker's verdict on the client certificate arrives as an alert
    instead of racing an MQTT CONNECT."""
    heard = run(
        *("openssl", "s_client", "-connect", f"127.0.0.1:{world.port}", "-CAfile", world.ca_chain),
        *("-cert", who.cert, "-key", who.key, "-ign_eof"),
        stdin="",
    )
    return heard.stdout + heard.stderr


def puback(result: subprocess.CompletedProcess[str]) -> int:
    match = _PUBACK.search(result.stdout + result.stderr)
    assert match is not None, result.stdout + result.stderr
    return int(match.group(1))


class Sub:
    """A ``mosquitto_sub -d`` in the background, its output line-buffered into a file that the test reads."""

    def __init__(self, world: World, who: Identity, topics: list[str], *, server_listener: bool = False) -> None:
        self.log = world.tmp / f"sub-{time.monotonic_ns()}.log"
        port = world.server_port if server_listener else world.port
        command = ["stdbuf", "-oL", "-eL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port)]
        command += ["--cafile", str(world.ca_chain), "--cert", str(who.cert), "--key", str(who.key)]
        command += ["-V", "mqttv5", "-q", "1", "-d", "-F", "%t %x"]
        if server_listener:
            command += ["-i", f"walkthrough-sub-{time.monotonic_ns()}"]
        for topic in topics:
            command += ["-t", topic]
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        self.wait_for("received SUBACK")

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not seen:\n{self.output}")
            time.sleep(0.05)

    def messages(self) -> dict[str, list[bytes]]:
        """Topic -> payloads received, from the ``%t %x`` lines."""
        received: dict[str, list[bytes]] = {}
        for line in self.output.splitlines():
            parts = line.split(" ")
            if len(parts) == 2 and parts[0].startswith("cccd/") and re.fullmatch(r"[0-9a-f]*", parts[1]):
                received.setdefault(parts[0], []).append(bytes.fromhex(parts[1]))
        return received

    def stop(self) -> None:
        stop(self.process)


def _enroll_with_cccd(world_tmp: Path, url: str, fingerprint: str, fleet_dir: Path, name: str) -> Identity:
    created = cccd("fleet", "token", "create", "--site", SITE, "--fleet-dir", fleet_dir, "--json")
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    state = world_tmp / name
    enrolled = cccd(
        *("agent", "enroll", "--server", url, "--token", token),
        *("--ca-fingerprint", fingerprint, "--state-dir", state, "--site", SITE),
    )
    assert enrolled.returncode == 0, enrolled.stderr
    identity = _terminal(state)
    assert enrolled.stdout.strip() == identity.name
    assert (state / "device.key").stat().st_mode & 0o777 == 0o600
    return identity


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("walkthrough")
    fleet_dir, broker = tmp / "fleet", broker_dir()
    passphrase = tmp / "pass"
    passphrase.write_text(PASSPHRASE + "\n")
    passphrase.chmod(0o600)
    port, server_port, enroll_port, crl_port = free_port(), free_port(), free_port(), free_port()
    # Certificates name the CRL's URL (for EMQX); mosquitto, run here, must take them as well as any.
    crl_url = f"http://127.0.0.1:{crl_port}/v1/crl"

    init = cccd("fleet", "init", "--fleet-dir", fleet_dir, "--passphrase-file", passphrase, "--crl-url", crl_url)
    assert init.returncode == 0, init.stderr
    fingerprint = init.stdout.strip()
    # What the installer may paste instead: openssl's colon-separated upper-case form.
    openssl_fp = run("openssl", "x509", "-in", fleet_dir / "root-ca.pem", "-noout", "-fingerprint", "-sha256")
    pasted = openssl_fp.stdout.strip().split("=", 1)[1]
    assert pasted.replace(":", "").lower() == fingerprint

    configured = cccd(
        *("fleet", "broker-config", "--out", broker, "--port", str(port), "--host", "localhost"),
        *("--server-listen", f"127.0.0.1:{server_port}", "--fleet-dir", fleet_dir, "--passphrase-file", passphrase),
    )
    assert configured.returncode == 0, configured.stderr

    serve_log = tmp / "serve.log"
    with serve_log.open("wb") as sink:
        service = subprocess.Popen(
            [
                *_cccd_command(),
                *("fleet", "serve", "--listen", f"127.0.0.1:{enroll_port}", "--crl-listen", f"127.0.0.1:{crl_port}"),
                *("--fleet-dir", str(fleet_dir), "--passphrase-file", str(passphrase)),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(enroll_port, process=service, log=serve_log)
        url = f"https://127.0.0.1:{enroll_port}"
        terminals = {
            name: _enroll_with_cccd(tmp, url, pasted, fleet_dir, name) for name in ("a", "b", "victim", "bystander")
        }
        server = Identity("cccd-server", broker / "server-client.pem", broker / "server-client.key")
        with mosquitto(broker / "mosquitto.conf", port=port, log=tmp / "mosquitto.log"):
            yield World(tmp, fleet_dir, passphrase, broker, port, server_port, url, fingerprint, terminals, server)
    finally:
        stop(service)
        shutil.rmtree(broker, ignore_errors=True)


def test_the_first_config_names_the_configured_broker(world: World) -> None:
    config = json.loads((world.tmp / "a" / "config.json").read_text())
    assert config["broker"] == {"host": "localhost", "port": world.port}
    assert config["site"] == SITE
    assert config["enrollment"]["ca_fingerprint"] == world.fingerprint


def test_a_terminal_publishes_under_its_own_topics_and_the_server_receives(world: World, tmp_path: Path) -> None:
    a = world.terminals["a"]
    server = Sub(world, world.server, ["cccd/v1/+/result", "cccd/v1/+/heartbeat"], server_listener=True)
    try:
        # A real sealed result, signed with the key the terminal made for itself.
        identity = load_identity(world.tmp / "a")
        now = time.time_ns() // 1_000_000
        header = wire.Header(id=wire.new_message_id(unix_ms=now), device_id=a.name, seq=1, time_ms=now)
        result = wire.AuthResult(header=header, verdict=wire.Verdict.INCOMPLETE, reasons=("card_removed",))
        (tmp_path / "envelope").write_bytes(wire.seal(result, signer=wire.KeySigner(identity.key, kid=a.name)))
        topic = f"cccd/v1/{a.name}/result"
        assert puback(pub(world, a, topic, file=tmp_path / "envelope")) == 0
        assert puback(pub(world, a, f"cccd/v1/{a.name}/heartbeat", message="hb")) == 0
        server.wait_for(f"cccd/v1/{a.name}/heartbeat ")
        [received] = server.messages()[topic]
        opened = wire.open_message(received, certificate=identity.certificate, identity=a.name, topic=topic)
        assert opened == result
    finally:
        server.stop()


def test_another_terminals_topics_are_refused(world: World) -> None:
    a, b = world.terminals["a"], world.terminals["b"]
    server = Sub(world, world.server, ["cccd/v1/#"], server_listener=True)
    try:
        for topic in (f"cccd/v1/{b.name}/result", f"cccd/v1/{b.name}/state", f"cccd/v1/{a.name}/ack", "other/topic"):
            assert puback(pub(world, a, topic, message="forged")) == NOT_AUTHORIZED, topic
        # A message b may send marks the point by which anything a forged would already have been delivered.
        assert puback(pub(world, b, f"cccd/v1/{b.name}/result", message="marker")) == 0
        server.wait_for(f"cccd/v1/{b.name}/result {b'marker'.hex()}")
        delivered = [p for payloads in server.messages().values() for p in payloads]
        assert b"forged" not in delivered
    finally:
        server.stop()


def test_a_terminal_reads_nothing_of_another(world: World) -> None:
    a, b = world.terminals["a"], world.terminals["b"]
    topics = [f"cccd/v1/{b.name}/ack", f"cccd/v1/{b.name}/cmd", "cccd/v1/+/cmd", "$share/g/cccd/v1/+/ack", "#"]
    spy = Sub(world, a, topics)
    owner = Sub(world, b, [f"cccd/v1/{b.name}/ack", f"cccd/v1/{b.name}/cmd"])
    try:
        for channel in ("ack", "cmd"):
            sent = pub(
                world, world.server, f"cccd/v1/{b.name}/{channel}", message=f"{channel} for b", server_listener=True
            )
            assert puback(sent) == 0
        owner.wait_for(f"cccd/v1/{b.name}/cmd {b'cmd for b'.hex()}")
        time.sleep(0.3)
        assert "received PUBLISH" not in spy.output
        assert spy.messages() == {}
    finally:
        spy.stop()
        owner.stop()


def test_no_certificate_or_a_foreign_one_is_refused_at_the_handshake(world: World, tmp_path: Path) -> None:
    a = world.terminals["a"]
    made = run(
        *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"),
        *("-keyout", tmp_path / "foreign.key", "-out", tmp_path / "foreign.pem", "-subj", f"/CN={a.name}"),
    )
    assert made.returncode == 0, made.stderr
    for who in (None, Identity(a.name, tmp_path / "foreign.pem", tmp_path / "foreign.key")):
        refused = pub(world, who, f"cccd/v1/{a.name}/result")
        assert refused.returncode != 0
        assert "CONNACK" not in refused.stdout + refused.stderr


def test_an_expired_certificate_cannot_connect(world: World, tmp_path: Path) -> None:
    """The fleet issues nothing shorter than an hour; an expired terminal certificate is made here with the issuing
    CA's own key, exactly as the fleet would have made it a month ago."""
    a = world.terminals["a"]
    issuing_key, _, _ = pkcs12.load_key_and_certificates(
        (world.fleet / "issuing-ca.p12").read_bytes(), PASSPHRASE.encode()
    )
    assert isinstance(issuing_key, ec.EllipticCurvePrivateKey)
    issuing = x509.load_pem_x509_certificate(world.issuing.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, a.name)]))
        .issuer_name(issuing.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=31))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuing_key.public_key()), critical=False)
        .sign(issuing_key, hashes.SHA256())
    )
    expired = Identity(a.name, tmp_path / "expired.pem", tmp_path / "expired.key")
    expired.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    expired.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    verdict = run("openssl", "verify", "-CAfile", world.root, "-untrusted", world.issuing, expired.cert)
    assert "certificate has expired" in verdict.stdout + verdict.stderr
    refused = pub(world, expired, f"cccd/v1/{a.name}/result")
    assert refused.returncode != 0
    assert "CONNACK" not in refused.stdout + refused.stderr
    assert "alert certificate expired" in handshake(world, expired)


def _curl(world: World, path: str, body: dict[str, str], *, cert: Identity | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    command: list[str | Path] = ["curl", "-sS", "--cacert", world.root, "-H", "content-type: application/json"]
    if cert is not None:
        command += ["--cert", cert.cert, "--key", cert.key]
    command += ["--data-binary", "@-", "-w", "\n%{http_code}", f"{world.enroll_url}{path}"]
    answer = run(*command, stdin=json.dumps(body))
    assert answer.returncode == 0, answer.stderr
    text, _, status = answer.stdout.rpartition("\n")
    return int(status), json.loads(text)


def _csr(directory: Path, name: str) -> str:
    made = run(
        *("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"),
        *("-keyout", directory / f"{name}.key", "-out", directory / f"{name}.csr", "-subj", "/CN=asked-for"),
    )
    assert made.returncode == 0, made.stderr
    return (directory / f"{name}.csr").read_text()


def test_enrollment_over_curl_one_time_expiring_site_bound(world: World, tmp_path: Path) -> None:
    def new_token(*, past: bool = False, site: str = SITE) -> str:
        if past:  # made two hours ago with one hour to live
            earlier = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
            return (
                Fleet.open(world.fleet, clock=lambda: earlier)
                .create_token(Site.parse(site), ttl=dt.timedelta(hours=1))
                .token
            )
        created = cccd("fleet", "token", "create", "--site", site, "--fleet-dir", world.fleet, "--json")
        return str(json.loads(created.stdout)["token"])

    csr = _csr(tmp_path, "curl")
    token = new_token()
    status, grant = _curl(world, "/v1/enroll", {"token": token, "csr": csr})
    assert status == 200, grant
    assert grant["device_id"] != "asked-for"  # the fleet names the terminal, not the CSR
    assert grant["site"] == SITE
    assert grant["broker"] == {"host": "localhost", "port": world.port}
    (tmp_path / "curl.pem").write_text(grant["certificate"])
    key_of_cert = run("openssl", "x509", "-in", tmp_path / "curl.pem", "-noout", "-pubkey").stdout
    key_of_csr = run("openssl", "pkey", "-in", tmp_path / "curl.key", "-pubout").stdout
    assert key_of_cert == key_of_csr  # the certificate is for the key that never left "the terminal"

    # The token is spent, but the terminal that holds the key can fetch its answer again (lost on the way, say).
    status, again = _curl(world, "/v1/enroll/recover", {"token": token, "csr": csr})
    assert status == 200, again
    assert (again["device_id"], again["certificate"]) == (grant["device_id"], grant["certificate"])
    status, other = _curl(world, "/v1/enroll/recover", {"token": token, "csr": _csr(tmp_path, "another-key")})
    assert (status, other["error"]) == (403, "token_used")
    refusals = {
        "token_used": {"token": token, "csr": csr},
        "token_expired": {"token": new_token(past=True), "csr": csr},
        "token_wrong_site": {"token": new_token(site="01/00004"), "csr": csr, "site": SITE},
        "token_unknown": {"token": "cccd-enroll-made-up", "csr": csr},
    }
    for code, body in refusals.items():
        status, answer = _curl(world, "/v1/enroll", body)
        assert (status, answer["error"]) == (403, code), answer
        assert answer["detail"]
    status, answer = _curl(world, "/v1/enroll", {"token": new_token(), "csr": "not a CSR"})
    assert (status, answer["error"]) == (400, "invalid_request")


def _ext(certificate: Path) -> str:
    shown = run(
        *("openssl", "x509", "-in", certificate, "-noout", "-ext"),
        "basicConstraints,keyUsage,extendedKeyUsage,subjectAltName,authorityKeyIdentifier,subjectKeyIdentifier",
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def _ski(certificate: Path) -> str:
    lines = _ext(certificate).splitlines()
    return lines[lines.index("X509v3 Subject Key Identifier: ") + 1].strip()


def test_openssl_verifies_every_certificate_the_fleet_issued(world: World, tmp_path: Path) -> None:
    # The enrollment service's certificate, as any TLS client receives it.
    shown = run("openssl", "s_client", "-connect", world.enroll_url.removeprefix("https://"), "-showcerts", stdin="")
    (tmp_path / "enrollment.pem").write_text(_PEM.findall(shown.stdout)[0])
    (tmp_path / "broker.pem").write_text(_PEM.findall((world.broker / "server.pem").read_text())[0])
    (tmp_path / "server-client.pem").write_text(_PEM.findall(world.server.cert.read_text())[0])
    # A renewal, over curl and mutual TLS with terminal b's certificate.
    status, renewed = _curl(world, "/v1/renew", {"csr": _csr(tmp_path, "next")}, cert=world.terminals["b"])
    assert status == 200, renewed
    (tmp_path / "renewed.pem").write_text(renewed["certificate"])

    clients = [t.cert for t in world.terminals.values()]
    clients += [tmp_path / "server-client.pem", tmp_path / "renewed.pem", world.fleet / "crl-canary.pem"]
    servers = {tmp_path / "broker.pem": "localhost", tmp_path / "enrollment.pem": "localhost"}
    chain = ["-CAfile", world.root, "-untrusted", world.issuing]
    for certificate in clients:
        verdict = run("openssl", "verify", "-x509_strict", "-purpose", "sslclient", *chain, certificate)
        assert verdict.returncode == 0, verdict.stdout + verdict.stderr
        wrong = run("openssl", "verify", "-x509_strict", "-purpose", "sslserver", *chain, certificate)
        assert wrong.returncode != 0  # a terminal certificate cannot serve TLS
    for certificate, host in servers.items():
        verdict = run(
            *("openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname", host, *chain),
            certificate,
        )
        assert verdict.returncode == 0, verdict.stdout + verdict.stderr
        by_ip = run("openssl", "verify", "-x509_strict", "-verify_ip", "127.0.0.1", *chain, certificate)
        assert by_ip.returncode == 0, by_ip.stdout + by_ip.stderr
    issuing = run("openssl", "verify", "-x509_strict", "-CAfile", world.root, world.issuing)
    assert issuing.returncode == 0, issuing.stdout + issuing.stderr

    # The profile a strict client expects.
    root, issuing_ski = _ext(world.root), _ski(world.issuing)
    assert "X509v3 Basic Constraints: critical\n    CA:TRUE, pathlen:1" in root
    assert "X509v3 Basic Constraints: critical\n    CA:TRUE, pathlen:0" in _ext(world.issuing)
    for text in (root, _ext(world.issuing)):
        assert "X509v3 Key Usage: critical\n    Digital Signature, Certificate Sign, CRL Sign" in text
    assert _ski(world.root) in _ext(world.issuing).split("Authority Key Identifier")[1]
    for certificate in [*clients, *servers]:
        text = _ext(certificate)
        assert "X509v3 Basic Constraints: critical\n    CA:FALSE" in text, certificate
        assert "X509v3 Key Usage: critical\n    Digital Signature\n" in text, certificate
        assert issuing_ski in text.split("Authority Key Identifier")[1], certificate
        assert "X509v3 Subject Key Identifier" in text
        usage = "TLS Web Server Authentication" if certificate in servers else "TLS Web Client Authentication"
        assert f"X509v3 Extended Key Usage: \n    {usage}\n" in text, certificate
        assert "X509v3 Subject Alternative Name" in text
    for terminal in world.terminals.values():
        assert f"URI:urn:cccd:device:{terminal.name}" in _ext(terminal.cert)
    assert "DNS:localhost" in _ext(tmp_path / "broker.pem")
    assert "IP Address:127.0.0.1" in _ext(tmp_path / "broker.pem")


def test_revocation_refuses_and_drops_the_terminal_and_no_other(world: World) -> None:
    victim, bystander = world.terminals["victim"], world.terminals["bystander"]
    victim_sub = Sub(world, victim, [f"cccd/v1/{victim.name}/cmd"])
    bystander_sub = Sub(world, bystander, [f"cccd/v1/{bystander.name}/cmd"])
    try:
        revoked = cccd(
            *("fleet", "revoke", victim.name, "--json"),
            *("--fleet-dir", world.fleet, "--passphrase-file", world.passphrase),
        )
        assert revoked.returncode == 0, revoked.stderr
        [broker] = json.loads(revoked.stdout)["brokers"]
        assert (broker["running"], broker["crl"], broker["disconnected"]) == (True, "enforced", [victim.name])

        victim_sub.wait_for(f"Received DISCONNECT ({ADMINISTRATIVE_ACTION})")
        refused = pub(world, victim, f"cccd/v1/{victim.name}/result")
        assert refused.returncode != 0
        assert "CONNACK" not in refused.stdout + refused.stderr
        assert "alert certificate revoked" in handshake(world, victim)
        crl = run(
            *("openssl", "verify", "-crl_check", "-CRLfile", world.broker / "crl.pem"),
            *("-CAfile", world.root, "-untrusted", world.issuing, victim.cert),
        )
        assert "certificate revoked" in crl.stdout + crl.stderr
        # What EMQX does: fetch the CRL from the distribution point the certificate names.
        for who, verdict in ((victim, "certificate revoked"), (bystander, ": OK")):
            fetched = run("openssl", "verify", "-crl_check", "-crl_download", "-CAfile", world.ca_chain, who.cert)
            assert verdict in fetched.stdout + fetched.stderr, who.name
        crl_ok = run(
            "openssl", "crl", "-in", world.broker / "crl.pem", "-CAfile", world.fleet / "ca-chain.pem", "-noout"
        )
        assert "verify OK" in crl_ok.stdout + crl_ok.stderr

        # The other terminal kept its one session and still gets its messages.
        sent = pub(world, world.server, f"cccd/v1/{bystander.name}/cmd", message="after", server_listener=True)
        assert puback(sent) == 0
        bystander_sub.wait_for(f"cccd/v1/{bystander.name}/cmd {b'after'.hex()}")
        assert bystander_sub.output.count("received CONNACK") == 1
        assert bystander_sub.process.poll() is None
        assert victim.name in json.loads((world.fleet / "denylist.json").read_text())["devices"]
    finally:
        victim_sub.stop()
        bystander_sub.stop()
