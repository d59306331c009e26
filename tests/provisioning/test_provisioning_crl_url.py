"""A fleet whose certificates name a CRL distribution point, and the plain-HTTP publisher behind it: what EMQX needs
to check revocation itself, judged by OpenSSL fetching the CRL from the distribution point on its own."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from provkit import FAST_KDF_ROUNDS, PASSPHRASE, Clock, free_port, new_fleet, token

from provisioning import BrokerSettings, Fleet, InvalidRequest, Role, make_csr, write_broker_config
from provisioning._crl_http import answer, start_crl_publisher
from provisioning._errors import ServiceUnavailable
from provisioning._fleet import check_crl_url
from provisioning._pki import generate_key


@pytest.mark.parametrize(
    "url",
    ["http://crl.example/v1/crl", "http://10.0.0.5:8080/fleet.crl", "http://[::1]:8080/v1/crl"],
)
def test_plain_http_urls_with_a_path_are_crl_urls(url: str) -> None:
    assert check_crl_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://crl.example/v1/crl",  # a CRL over TLS would need the validation it serves
        "ldap://crl.example/cn=crl",
        "http://crl.example",
        "http://crl.example/",
        "http:///v1/crl",
        "http://user:pw@crl.example/v1/crl",
        "http://crl.example/v1/crl?x=1",
        "http://crl.example/v1/crl#f",
        "http://crl.example:99999/v1/crl",
        "http://crl.example/v1 crl",
        "http://crl.example/" + "a" * 300,
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest):
        check_crl_url(url)


def _fleet_with_url(directory: Path, url: str) -> Fleet:
    return Fleet.init(directory, PASSPHRASE, clock=Clock(), kdf_rounds=FAST_KDF_ROUNDS, crl_url=url)


def _distribution_points(cert: x509.Certificate) -> list[str]:
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return [name.value for point in points for name in point.full_name or ()]


def test_every_certificate_names_the_url_and_the_published_crl_names_it_back(tmp_path: Path) -> None:
    url = "http://crl.example:8080/v1/crl"
    fleet = _fleet_with_url(tmp_path / "fleet", url)
    authority = fleet.unlock(PASSPHRASE)
    grant = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    fleet.renew(authority, current=grant.certificate, csr_pem=make_csr(generate_key()))
    write_broker_config(fleet, authority, tmp_path / "broker", BrokerSettings(port=18883, hosts=("broker.example",)))
    leaves = [r for r in fleet.store.certificates() if r.role not in (Role.ROOT, Role.ISSUING)]
    assert {r.role for r in leaves} >= {Role.DEVICE, Role.CANARY, Role.BROKER, Role.SERVER_CLIENT}
    for record in leaves:
        assert _distribution_points(x509.load_pem_x509_certificate(record.pem)) == [url], record.role

    fleet.revoke(grant.device_id)
    fleet.write_crl(authority)
    published = fleet.published_crl()
    plain = fleet.current_crl()
    assert published is not None
    assert plain is not None
    scope = published.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert scope.critical
    assert [name.value for name in scope.value.full_name or ()] == [url]
    # mosquitto reads the CRL without the extension, which also covers certificates that name no distribution point.
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert published.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == (
        plain.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    )
    assert {r.serial_number for r in published} == {r.serial_number for r in plain}
    assert grant.certificate.serial_number in {r.serial_number for r in published}
    assert url in (tmp_path / "broker" / "emqx" / "README.md").read_text()
    conf = (tmp_path / "broker" / "emqx" / "emqx.conf").read_text()
    assert conf.count("enable_crl_check = true") == 2  # both listeners


def test_a_fleet_without_url_names_none_and_publishes_its_plain_crl(tmp_path: Path) -> None:
    fleet = new_fleet(tmp_path / "fleet")
    authority = fleet.unlock(PASSPHRASE)
    grant = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    with pytest.raises(x509.ExtensionNotFound):
        grant.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    published = fleet.published_crl()
    assert published is not None
    assert published == fleet.current_crl()
    with pytest.raises(ServiceUnavailable, match="no CRL URL"):
        asyncio.run(start_crl_publisher(fleet, host="127.0.0.1", port=free_port()))


@pytest.fixture
def published(tmp_path: Path) -> Iterator[tuple[Fleet, str]]:
    """A fleet with a CRL URL on loopback, and its publisher running in a thread of its own."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/crl"
    fleet = _fleet_with_url(tmp_path / "fleet", url)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(start_crl_publisher(fleet, host="127.0.0.1", port=port))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield fleet, url
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is part of the documented setup")
def test_openssl_fetches_the_crl_from_the_distribution_point(published: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, _ = published
    authority = fleet.unlock(PASSPHRASE)
    victim = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    bystander = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    paths = {}
    for name, grant in (("victim", victim), ("bystander", bystander)):
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_bytes(grant.certificate.public_bytes(serialization.Encoding.PEM))

    def verify(name: str) -> subprocess.CompletedProcess[str]:
        command = ["openssl", "verify", "-crl_check", "-crl_download", "-CAfile", str(fleet.chain_path)]
        return subprocess.run([*command, str(paths[name])], capture_output=True, text=True, check=False, timeout=30)

    assert verify("victim").returncode == 0, verify("victim").stderr
    fleet.revoke(victim.device_id)
    fleet.write_crl(authority)
    refused = verify("victim")
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr
    assert verify("bystander").returncode == 0


def test_the_publisher_answers_the_crl_and_nothing_else(published: tuple[Fleet, str]) -> None:
    fleet, url = published
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"] == "application/pkix-crl"
        crl = x509.load_der_x509_crl(response.read())
    assert crl.is_signature_valid(fleet.issuing.public_key())  # type: ignore[arg-type]
    for wrong, status in ((url.replace("/v1/crl", "/v1/ca"), 404), (url + "/x", 404)):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(wrong, timeout=5)
        assert refused.value.code == status
        refused.value.close()
    with pytest.raises(urllib.error.HTTPError) as posted:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=5)
    assert posted.value.code == 405
    posted.value.close()


def test_answers_to_odd_requests() -> None:
    def crl() -> bytes:
        return b"\x30\x03\x02\x01\x00"

    assert answer(b"HEAD /v1/crl HTTP/1.1\r\n\r\n", path="/v1/crl", crl=crl).endswith(b"\r\n\r\n")
    assert answer(b"GET /v1/crl HTTP/1.0\r\n\r\n", path="/v1/crl", crl=crl).endswith(crl())
    assert answer(b"GET /v1/crl?fresh=1 HTTP/1.1\r\n\r\n", path="/v1/crl", crl=crl).startswith(b"HTTP/1.1 200")
    assert answer(b"GET /v1/crl HTTP/1.1\r\n\r\n", path="/v1/crl", crl=lambda: None).startswith(b"HTTP/1.1 503")
    assert answer(b"GET /v1/crl\r\n\r\n", path="/v1/crl", crl=crl).startswith(b"HTTP/1.1 400")
    assert answer(b"\xff\xfe\r\n\r\n", path="/v1/crl", crl=crl).startswith(b"HTTP/1.1 400")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_request_head_gets_an_http_answer(head: bytes) -> None:
    response = answer(head + b"\r\n\r\n", path="/v1/crl", crl=lambda: b"crl")
    assert response.startswith(b"HTTP/1.1 ")
    assert b"\r\n\r\n" in response


def test_a_url_set_later_reaches_every_terminal_at_renewal_and_only_then_turns_on_emqx(
    fleet: Fleet, tmp_path: Path
) -> None:
    authority = fleet.unlock(PASSPHRASE)
    settings = BrokerSettings(port=18883, hosts=("broker.example",))
    old_key = generate_key()
    old = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(old_key))
    url = "http://crl.example:8080/v1/crl"
    fleet.set_crl_url(authority, url)
    assert fleet.crl_url == url
    published = fleet.published_crl()
    assert published is not None
    assert published.extensions.get_extension_for_class(x509.IssuingDistributionPoint).critical
    new = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    assert _distribution_points(new.certificate) == [url]
    assert fleet.terminals_without_crl_url() == [old.device_id]

    layout = write_broker_config(fleet, authority, tmp_path / "broker", settings)
    conf = (layout.emqx / "emqx.conf").read_text()
    assert "enable_crl_check = false" in conf
    assert "1 terminal certificate(s) issued before" in conf

    renewed = fleet.renew(authority, current=old.certificate, csr_pem=make_csr(generate_key()))
    assert _distribution_points(renewed.certificate) == [url]
    assert fleet.terminals_without_crl_url() == []
    layout = write_broker_config(fleet, authority, tmp_path / "broker", settings)
    assert (layout.emqx / "emqx.conf").read_text().count("enable_crl_check = true") == 2

    with pytest.raises(InvalidRequest, match="already name"):
        fleet.set_crl_url(authority, "http://elsewhere.example/v1/crl")
    fleet.set_crl_url(authority, url)  # the same URL again changes nothing
