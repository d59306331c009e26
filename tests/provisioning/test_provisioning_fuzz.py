"""Hypothesis on every provisioning function that reads hostile input: only our typed errors may come out."""

from __future__ import annotations

import contextlib
import datetime as dt

import httpx
import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provkit import PASSPHRASE, new_fleet, token

from provisioning import (
    BrokerConfigError,
    Fleet,
    InvalidRequest,
    ProvisioningError,
    Site,
    normalize_fingerprint,
    peer_certificate,
)
from provisioning._device import _check_grant, _first_config, _raise_for_refusal
from provisioning._pki import check_crl, generate_key, load_csr, make_csr
from provisioning._service import grant_json

_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5),
    max_leaves=15,
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return new_fleet(tmp_path_factory.mktemp("fuzz") / "fleet")


@_SETTINGS
@given(data=st.binary(max_size=600) | st.text(max_size=600))
def test_csr_parser(data: bytes | str) -> None:
    with contextlib.suppress(InvalidRequest):
        load_csr(data)


@_SETTINGS
@given(data=st.binary(max_size=300), prefix=st.sampled_from([b"", b"-----BEGIN CERTIFICATE REQUEST-----\n"]))
def test_csr_parser_with_a_pem_header(data: bytes, prefix: bytes) -> None:
    with contextlib.suppress(InvalidRequest):
        load_csr(prefix + data + b"\n-----END CERTIFICATE REQUEST-----\n")


@_SETTINGS
@given(text=st.text(max_size=80))
def test_site_and_fingerprint_parsers(text: str) -> None:
    with contextlib.suppress(InvalidRequest):
        assert str(Site.parse(text)) == text.strip()
    with contextlib.suppress(InvalidRequest):
        assert len(normalize_fingerprint(text)) == 64


@_SETTINGS
@given(data=st.binary(max_size=400))
def test_crl_check(fleet: Fleet, data: bytes) -> None:
    with contextlib.suppress(BrokerConfigError):
        check_crl(
            b"-----BEGIN X509 CRL-----\n" + data + b"\n-----END X509 CRL-----\n",
            issuer=fleet.issuing,
            now=dt.datetime.now(dt.UTC),
        )


@_SETTINGS
@given(
    scope=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    chain=st.lists(st.text(max_size=200), max_size=3),
)
def test_client_certificate_from_a_hostile_scope(scope: dict[str, object], chain: list[str]) -> None:
    assert peer_certificate(scope) is None or isinstance(peer_certificate(scope), x509.Certificate)
    assert peer_certificate({"extensions": {"tls": {"client_cert_chain": chain}}}) is None


@_SETTINGS
@given(
    body=st.dictionaries(st.text(max_size=15), json_values, max_size=8), status=st.sampled_from([200, 400, 403, 500])
)
def test_the_terminal_survives_a_hostile_enrollment_answer(fleet: Fleet, body: dict[str, object], status: int) -> None:
    key = generate_key()
    response = httpx.Response(status, json=body)
    try:
        _raise_for_refusal(response, "test")
        _check_grant(body, key=key, root=fleet.root)
        _first_config(body, device_id="t-x", base_url="https://h:1", fingerprint="0" * 64)
    except ProvisioningError:
        return
    pytest.fail("a made-up answer was accepted")


def test_a_real_grant_passes_the_same_checks(fleet: Fleet) -> None:
    key = generate_key()
    grant = fleet.enroll(fleet.unlock(PASSPHRASE), token=token(fleet), csr_pem=make_csr(key))
    body = grant_json(grant)
    device_id, certificate, _ = _check_grant(body, key=key, root=fleet.root)
    assert (device_id, certificate) == (grant.device_id, grant.certificate)
    assert (
        _first_config(body, device_id=device_id, base_url="https://h:1", fingerprint="0" * 64)["broker"]["port"] == 8883
    )
    with pytest.raises(ProvisioningError):
        _check_grant(body, key=generate_key(), root=fleet.root)  # someone else's key
