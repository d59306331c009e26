"""Broker configuration files, and the checks a CRL must pass before it replaces the broker's."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from provkit import PASSPHRASE, Clock, new_fleet, run_cli, token
from pyhocon import ConfigFactory

import provisioning
import wire
from provisioning import (
    BrokerConfigError,
    BrokerLayout,
    BrokerSettings,
    Fleet,
    default_broker_hosts,
    install_revocation_state,
    make_csr,
    refresh_crl_if_due,
    render_acl,
    write_broker_config,
)
from provisioning._files import blocked_ancestor, make_parents
from provisioning._pki import build_crl, crl_pem, generate_key


@pytest.fixture
def layout(fleet: Fleet, tmp_path: Path) -> BrokerLayout:
    settings = BrokerSettings(port=18883, hosts=("broker.fleet.example", "192.0.2.10"))
    return write_broker_config(fleet, fleet.unlock(PASSPHRASE), tmp_path / "broker", settings)


def _directives(conf: str) -> list[str]:
    return [line for line in conf.splitlines() if line and not line.startswith("#")]


def test_mosquitto_conf_has_everything_the_issue_asks_for(layout: BrokerLayout) -> None:
    conf = layout.conf.read_text()
    lines = _directives(conf)
    for required in (
        "allow_anonymous false",
        "require_certificate true",
        "use_identity_as_username true",
        "use_username_as_clientid true",
        "persistence true",
        f"acl_file {layout.acl}",
        f"crlfile {layout.crl}",
        f"cafile {layout.ca_chain}",
        f"certfile {layout.server_cert}",
        f"keyfile {layout.server_key}",
        f"pid_file {layout.pid_file}",
        "listener 18883",
        "listener 18884 127.0.0.1",
    ):
        assert required in lines, required
    assert any(line.startswith("max_packet_size ") for line in lines)
    assert int(next(line for line in lines if line.startswith("max_packet_size")).split()[1]) > (
        wire.DEFAULT_LIMITS.max_envelope
    )
    assert any(line.startswith("max_queued_messages ") for line in lines)
    assert any(line.startswith("max_queued_bytes ") for line in lines)
    # Every file the configuration names exists.
    for line in lines:
        key, _, value = line.partition(" ")
        if key in ("acl_file", "cafile", "certfile", "keyfile", "crlfile"):
            assert Path(value).is_file(), line
    manifest = json.loads(layout.manifest.read_text())
    assert manifest["port"] == 18883
    assert manifest["server_listen"] == ["127.0.0.1", 18884]


def test_the_acl_confines_each_terminal_to_its_own_topics() -> None:
    acl = render_acl(revoked=["t-revoked000000000"])
    patterns = [line for line in acl.splitlines() if line.startswith("pattern")]
    writes = {line.split()[2] for line in patterns if line.split()[1] == "write"}
    reads = {line.split()[2] for line in patterns if line.split()[1] == "read"}
    assert writes == {f"cccd/v1/%u/{c.value}" for c in wire.Channel if c.direction is wire.Direction.UPLINK}
    assert reads == {"cccd/v1/%u/ack", "cccd/v1/%u/config", "cccd/v1/%u/trust", "cccd/v1/%u/cmd"}
    assert all("+" not in p and "#" not in p and "readwrite" not in p for p in patterns)
    server_section = acl.split("user cccd-server", 1)[1].split("user t-revoked000000000", 1)[0]
    assert "topic read cccd/v1/+/result" in server_section
    assert "topic write cccd/v1/+/ack" in server_section
    assert "topic readwrite $CONTROL/dynamic-security/v1" in server_section
    assert re.search(r"user t-revoked000000000\ntopic deny #", acl)


def test_secrets_have_private_modes(layout: BrokerLayout) -> None:
    for path in (layout.client_key, layout.canary_key):
        assert path.stat().st_mode & 0o777 == 0o600
    assert layout.server_key.stat().st_mode & 0o077 in (0o000, 0o040)  # at most readable by the broker's group
    assert layout.crl.stat().st_mode & 0o777 == 0o644  # a CRL is public; unreadable would make mosquitto fail open


def test_emqx_equivalent_is_written(layout: BrokerLayout) -> None:
    conf = (layout.emqx / "emqx.conf").read_text()
    for fragment in (
        "verify = verify_peer",
        "fail_if_no_peer_cert = true",
        # Certificates of a fleet without --crl-url name no distribution point, and EMQX's check fails closed.
        "enable_crl_check = false",
        "peer_cert_as_username = cn",
        "peer_cert_as_clientid = cn",
        "no_match = deny",
        'bind = "0.0.0.0:18883"',
        'bind = "127.0.0.1:18884"',
    ):
        assert fragment in conf, fragment
    acl = (layout.emqx / "acl.conf").read_text()
    assert '{allow, all, publish, ["cccd/v1/${username}/result"' in acl
    assert acl.rstrip().endswith("{deny, all}.")


def test_emqx_reads_its_configuration_as_we_mean_it(layout: BrokerLayout) -> None:
    # pyhocon, a HOCON reader that shares nothing with us, sees the settings at the paths EMQX 5 reads them from.
    conf = ConfigFactory.parse_file(str(layout.emqx / "emqx.conf"))
    for listener, bind in (("default", "0.0.0.0:18883"), ("internal", "127.0.0.1:18884")):
        ssl = conf.get(f"listeners.ssl.{listener}.ssl_options")
        assert conf.get(f"listeners.ssl.{listener}.bind") == bind
        assert (ssl["verify"], ssl["fail_if_no_peer_cert"]) == ("verify_peer", True)
        assert ssl["enable_crl_check"] is False  # no distribution point in this fleet's certificates
        for name in ("cacertfile", "certfile", "keyfile"):
            assert Path(ssl[name]).is_file(), name
    assert [conf.get(f"listeners.{kind}.default.enable") for kind in ("tcp", "ws", "wss")] == [False] * 3
    assert (conf.get("mqtt.peer_cert_as_username"), conf.get("mqtt.peer_cert_as_clientid")) == ("cn", "cn")
    assert conf.get("zones.internal.mqtt.peer_cert_as_clientid") == "disabled"
    assert conf.get("listeners.ssl.internal.zone") == "internal"
    assert conf.get("authorization.no_match") == "deny"
    [source] = conf.get("authorization.sources")
    assert (source["type"], source["enable"]) == ("file", True)
    assert Path(source["path"]) == layout.emqx / "acl.conf"


def test_revocation_rewrites_crl_and_acl_in_place(fleet: Fleet, layout: BrokerLayout) -> None:
    authority = fleet.unlock(PASSPHRASE)
    grant = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    fleet.revoke(grant.device_id)
    fleet.write_crl(authority)
    install_revocation_state(fleet, layout)
    assert f"user {grant.device_id}\ntopic deny #" in layout.acl.read_text()
    assert f'{{deny, {{username, "{grant.device_id}"}}, all, ["#"]}}.' in (layout.emqx / "acl.conf").read_text()
    assert layout.crl.read_bytes() == fleet.crl_path.read_bytes()


class _BrokerOfAnotherUser:
    """A running broker this process may not signal."""

    def reload(self) -> bool:
        raise PermissionError(1, "Operation not permitted")

    def probe(self, witness: int | None = None) -> provisioning.CrlProbe:
        raise AssertionError("nothing to probe: it never reloaded")

    def disconnect(self, device_ids: list[str]) -> tuple[str, ...]:
        return ()


def test_a_broker_that_may_not_be_signalled_is_a_problem_not_a_traceback(fleet: Fleet, layout: BrokerLayout) -> None:
    [report] = provisioning.push_revocation_state(fleet, controls={layout.directory: _BrokerOfAnotherUser()})
    assert not report.ok
    assert report.probe is None
    assert "permission denied" in report.problems[0]
    assert layout.crl.read_bytes() == fleet.crl_path.read_bytes()  # installed all the same, for its next start


@pytest.mark.parametrize("manifest", ['{"port": "eighty"}', '{"server_listen": ["127.0.0.1"]}', "[]", "{"])
def test_a_damaged_manifest_is_reported_not_a_traceback(fleet: Fleet, layout: BrokerLayout, manifest: str) -> None:
    layout.manifest.write_text(manifest)
    with pytest.raises(BrokerConfigError, match=r"broker\.json"):
        install_revocation_state(fleet, layout)


def _install(fleet: Fleet, layout: BrokerLayout, data: bytes) -> None:
    fleet.crl_path.write_bytes(data)
    install_revocation_state(fleet, layout)


def test_a_bad_crl_never_replaces_the_good_one(fleet: Fleet, layout: BrokerLayout, clock: Clock) -> None:
    authority = fleet.unlock(PASSPHRASE)
    good = layout.crl.read_bytes()
    grant = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    fleet.revoke(grant.device_id)
    other = new_fleet(fleet.directory.parent / "other")
    other_authority = other.unlock(PASSPHRASE)
    revoked = fleet.revoked_serials()
    stale = build_crl(
        authority, [r for r in revoked if r[0] != grant.certificate.serial_number], number=90, now=clock.now
    )
    expiring = build_crl(authority, revoked, number=91, now=clock.now, lifetime=dt.timedelta(hours=2))
    foreign = build_crl(other_authority, revoked, number=92, now=clock.now)
    cases = {
        b"": "parse",
        good[: len(good) // 2]: "parse",  # half-written
        b"garbage": "parse",
        crl_pem(stale): "does not revoke",  # misses the terminal just revoked
        crl_pem(expiring): "nextUpdate",  # would lock every terminal out soon
        crl_pem(foreign): "signature does not verify",  # another fleet's CA, with the same name
    }
    for data, message in cases.items():
        with pytest.raises(BrokerConfigError, match=message):
            _install(fleet, layout, data)
        assert layout.crl.read_bytes() == good
    assert not list(layout.directory.glob(".crl.pem.*"))  # no temporary files left behind


def test_the_crl_is_resigned_and_pushed_well_before_next_update(
    fleet: Fleet, layout: BrokerLayout, clock: Clock
) -> None:
    authority = fleet.unlock(PASSPHRASE)
    first = x509.load_pem_x509_crl(layout.crl.read_bytes())
    assert refresh_crl_if_due(fleet, authority) is None  # fresh: nothing to do
    clock.advance(dt.timedelta(days=11))  # 19 of 30 days left: inside the 20-day margin
    reports = refresh_crl_if_due(fleet, authority)
    assert reports is not None
    assert [(r.directory, r.running) for r in reports] == [(layout.directory, False)]  # no broker running here
    second = x509.load_pem_x509_crl(layout.crl.read_bytes())
    assert second.next_update_utc > first.next_update_utc + dt.timedelta(days=10)
    assert second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > (
        first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    )


def test_broker_config_needs_a_host(fleet: Fleet, tmp_path: Path) -> None:
    with pytest.raises(BrokerConfigError):
        write_broker_config(fleet, fleet.unlock(PASSPHRASE), tmp_path / "b", BrokerSettings(hosts=()))


def test_default_broker_names_are_this_machines_not_localhost() -> None:
    """Terminals are told the first name: on a machine whose /etc/hosts makes the FQDN "localhost" (Debian's
    default when the hostname maps to 127.0.x.1), that would send every terminal to itself."""
    assert default_broker_hosts(fqdn="localhost", hostname="vm") == ("vm",)
    assert default_broker_hosts(fqdn="mqtt.fleet.example", hostname="mqtt") == ("mqtt.fleet.example", "mqtt")
    assert default_broker_hosts(fqdn="localhost.localdomain", hostname="pi") == ("pi",)
    assert default_broker_hosts(fqdn="gw", hostname="gw") == ("gw",)
    assert default_broker_hosts(fqdn="localhost", hostname="localhost") == ("localhost",)
    assert default_broker_hosts(fqdn="", hostname="") == ("localhost",)


def test_broker_config_without_host_names_this_machine(fleet: Fleet, tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_bytes(PASSPHRASE)
    out = tmp_path / "broker"
    code, _, stderr = run_cli(
        "fleet",
        "broker-config",
        *("--out", str(out), "--port", "18883"),
        *("--fleet-dir", str(fleet.directory), "--passphrase-file", str(passphrase)),
    )
    assert code == 0, stderr
    expected = default_broker_hosts(fqdn=socket.getfqdn(), hostname=socket.gethostname())
    server = x509.load_pem_x509_certificate(BrokerLayout(out).server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(expected) <= set(names.get_values_for_type(x509.DNSName))
    assert "localhost" in names.get_values_for_type(x509.DNSName)  # the server's own listener is on loopback
    assert Fleet.open(fleet.directory).broker_address == (expected[0], 18883)


def test_the_terminals_listener_can_be_bound_to_one_address(fleet: Fleet, tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_bytes(PASSPHRASE)
    common = ("--port", "18883", "--host", "localhost", "--fleet-dir", str(fleet.directory))
    common += ("--passphrase-file", str(passphrase))
    code, _, stderr = run_cli("fleet", "broker-config", "--out", str(tmp_path / "b"), "--bind", "127.0.0.1", *common)
    assert code == 0, stderr
    conf = BrokerLayout(tmp_path / "b").conf.read_text()
    assert re.search(r"^listener 18883 127\.0\.0\.1$", conf, re.MULTILINE)
    code, _, stderr = run_cli("fleet", "broker-config", "--out", str(tmp_path / "c"), "--bind", "my-host", *common)
    assert code == 2
    assert "IP address" in stderr


def test_directories_on_the_way_stay_traversable_under_a_strict_umask(tmp_path: Path) -> None:
    """``fleet init`` under umask 077 must not leave /var/lib/cccd-edge 0700: mosquitto, as its own user, could not
    reach the broker directory next to the fleet."""
    previous = os.umask(0o077)
    try:
        make_parents(tmp_path / "a" / "b" / "fleet")
    finally:
        os.umask(previous)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o755
    assert not (tmp_path / "a" / "b" / "fleet").exists()


def test_a_directory_the_broker_user_cannot_enter_is_found() -> None:
    user = "nobody"
    pytest.importorskip("pwd").getpwnam(user)
    # Under /tmp, not pytest's base directory, which is private to the user running the tests.
    base = Path(tempfile.mkdtemp(prefix="cccd-reach-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        outer = base / "outer"
        inner = outer / "broker"
        inner.mkdir(parents=True)
        assert blocked_ancestor(inner, user) is None
        os.chmod(outer, 0o700)
        assert blocked_ancestor(inner, user) == outer
        os.chmod(outer, 0o711)
        assert blocked_ancestor(inner, user) is None
        assert blocked_ancestor(inner / "missing", user) == inner / "missing"
        assert blocked_ancestor(inner, "root") is None  # root enters anything
    finally:
        shutil.rmtree(base)


def test_a_deleted_broker_folder_is_forgotten_not_recreated(fleet: Fleet, layout: BrokerLayout) -> None:
    assert layout.directory in fleet.broker_dirs
    shutil.rmtree(layout.directory)
    [report] = provisioning.push_revocation_state(fleet)
    assert report.ok
    assert "forgotten" in report.warnings[0]
    assert not layout.directory.exists()
    assert layout.directory not in fleet.broker_dirs
    assert provisioning.push_revocation_state(fleet) == []
