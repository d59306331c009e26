"""The trust store on the real DE and NL master lists (signatures verified), PEM/DER files, folders and CRLs."""

import contextlib
import datetime as dt
import hashlib
import logging
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openssl_dump import make_authority, run, tlv
from real_data import DE_ML, DE_ROOT, IDN_CSCA, ML_DIR, NL_ML, NL_ROOT, VN_CSCA, master_list_store

from mrtd import ParseError, TrustStoreError
from mrtd._certificates import parse_certificate
from mrtd._trust_store import TrustSource, TrustStore, load_trust_store

VN_SHA256 = "6b5fa6fe45cc4e855a73760413e08b7a9ac50a27722c702f3909a90facc991bd"


def test_both_master_lists_load_with_their_signatures_verified() -> None:
    store = master_list_store()
    lists = {Path(m.origin).name: m for m in store.master_lists}
    de, nl = lists[DE_ML.name], lists[NL_ML.name]
    assert (de.certificates, nl.certificates) == (588, 411)
    assert de.signer.common_name == "CSCA Master List Signer"
    assert de.signer_issuer.common_name == "csca-germany"
    assert nl.signer.common_name == "Masterlist Signer NL"
    assert nl.signer_issuer.common_name == "CSCA NL"
    assert de.signing_time == dt.datetime(2026, 5, 28, 6, 28, 45, tzinfo=dt.UTC)
    # asn1crypto decodes the 6 + 3 certificates that pyca/cryptography refuses, so none is skipped.
    assert de.skipped == nl.skipped == 0
    hashes = {a.certificate.sha256 for a in store.anchors}
    assert VN_SHA256 in hashes
    # Each certificate is stored once, whichever list carried it.
    assert len(hashes) == len(store)


def test_the_vietnamese_csca_from_the_lists_is_explicit_brainpool_and_self_signed() -> None:
    anchors = [a for a in master_list_store().anchors if a.certificate.sha256 == VN_SHA256]
    assert anchors
    assert anchors[0].source is TrustSource.MASTER_LIST
    cert = anchors[0].certificate
    assert cert.public_key().description == "EC brainpoolP512r1"
    assert cert.is_signed_by(cert)
    assert cert.subject_key_id == bytes.fromhex("88918f5a25ece37a3e04c52d38a4f2b5123c85c7")
    assert cert.der == VN_CSCA.read_bytes()


def test_certificates_cryptography_cannot_parse_are_usable() -> None:
    austria = [a.certificate for a in master_list_store().anchors if a.certificate.common_name == "CSCA-AUSTRIA"]
    assert austria
    for cert in austria:
        cert.public_key()


def test_loading_both_lists_is_fast_enough_for_a_terminal_start() -> None:
    start = time.perf_counter()
    load_trust_store([DE_ROOT, NL_ROOT, DE_ML, NL_ML])
    assert time.perf_counter() - start < 5.0


def test_a_master_list_without_its_root_is_refused() -> None:
    with pytest.raises(TrustStoreError, match="not issued by any trusted CSCA"):
        load_trust_store([NL_ML])
    with pytest.raises(TrustStoreError, match="not issued by any trusted CSCA"):
        load_trust_store([NL_ROOT, DE_ML])


def test_the_order_of_paths_does_not_matter_and_lists_vouch_for_each_other() -> None:
    # CSCA NL, which signed the NL list's signer, is in the German list: the DE root alone is enough.
    store = load_trust_store([NL_ML, DE_ML, DE_ROOT])
    assert len(store.master_lists) == 2


def _flip(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def test_a_tampered_master_list_is_refused() -> None:
    data = NL_ML.read_bytes()
    root = NL_ROOT.read_bytes()
    # A byte inside the certificate list changes the content digest.
    store = TrustStore()
    store.add_certificate(root)
    with pytest.raises(TrustStoreError, match="message digest"):
        store.add_master_list(_flip(data, len(data) // 2))
    # The signature itself is the last field of the file.
    with pytest.raises(TrustStoreError, match="signature does not verify"):
        store.add_master_list(_flip(data, len(data) - 5))
    assert len(store) == 1


def test_a_master_list_file_is_not_taken_for_a_certificate() -> None:
    store = TrustStore()
    with pytest.raises(TrustStoreError):
        store.add_certificate(DE_ML.read_bytes())
    with pytest.raises(TrustStoreError, match="not a CSCA master list"):
        store.add_master_list(VN_CSCA.read_bytes())


def test_a_folder_loads_top_level_files_and_skips_what_is_not_pki(tmp_path: Path) -> None:
    store = load_trust_store([ML_DIR])
    names = {Path(m.origin).name for m in store.master_lists}
    assert names == {DE_ML.name, NL_ML.name}
    hashes = {a.certificate.sha256 for a in store.anchors}
    idn = hashlib.sha256(IDN_CSCA.read_bytes()).hexdigest()
    assert idn not in hashes  # extra_csca/ is a sub-folder: not loaded
    assert VN_SHA256 in hashes


def test_pem_der_and_bundles(tmp_path: Path) -> None:
    der = VN_CSCA.read_bytes()
    pem = run("x509", "-inform", "DER", "-in", str(VN_CSCA), cwd=tmp_path)
    idn_pem = run("x509", "-inform", "DER", "-in", str(IDN_CSCA), cwd=tmp_path)
    (tmp_path / "bundle.pem").write_bytes(pem + b"\n" + idn_pem)
    (tmp_path / "vn.der").write_bytes(der)
    store = load_trust_store([tmp_path / "bundle.pem", tmp_path / "vn.der"])
    assert len(store) == 2  # the DER copy of the VN CSCA is the same certificate
    single = TrustStore()
    assert single.add_certificate(pem).sha256 == VN_SHA256


def test_bad_trust_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match="does not exist"):
        load_trust_store([tmp_path / "missing.pem"])
    (tmp_path / "notes.txt").write_text("not a certificate")
    with pytest.raises(TrustStoreError, match="not a certificate, master list or CRL"):
        load_trust_store([tmp_path / "notes.txt"])
    (tmp_path / "broken.cer").write_bytes(VN_CSCA.read_bytes()[:-40])
    with pytest.raises(TrustStoreError):
        load_trust_store([tmp_path])


def test_lookup_by_issuer_name_and_authority_key_id() -> None:
    store = master_list_store()
    vn = parse_certificate(VN_CSCA.read_bytes())
    issuers = store.issuers_of(vn)
    assert [a.certificate.sha256 for a in issuers] == [VN_SHA256]


def test_crls_are_accepted_only_from_a_trusted_csca(tmp_path: Path) -> None:
    authority = make_authority(tmp_path / "ca", "CSCA CRL Test", key_spec="ec:prime256v1")
    now = dt.datetime.now(dt.UTC)
    _, dsc = authority.issue_dsc("DS CRL", key_spec="ec:prime256v1", start=now, end=now + dt.timedelta(days=30))
    crl = authority.revoke(dsc)
    store = TrustStore()
    with pytest.raises(TrustStoreError, match="not a trusted CSCA"):
        store.add_crl(crl)
    store.add_certificate(authority.cert.read_bytes())
    with pytest.raises(TrustStoreError, match="does not verify"):
        store.add_crl(_flip(crl, len(crl) - 3))
    loaded = store.add_crl(crl)
    assert len(loaded.revoked) == 1
    revoked = store.revocation_of(parse_certificate(run("x509", "-in", str(dsc), "-outform", "DER", cwd=tmp_path)))
    assert revoked is not None
    # A CRL file given as a path is recognised by its content (PEM here).
    (tmp_path / "list.pem").write_bytes(run("crl", "-inform", "DER", "-outform", "PEM", cwd=tmp_path, stdin=crl))
    store_from_files = load_trust_store([tmp_path / "list.pem", authority.cert])
    assert len(store_from_files.crls) == 1


ML_SIGNER_EKU = "2.23.136.1.1.3"


def _sign_master_list(work: Path, key: Path, cert: Path, *certificates: bytes) -> bytes:
    """``openssl cms -sign`` over a CscaMasterList (eContentType 2.23.136.1.1.2) carrying ``certificates``."""
    (work / "ml-content.der").write_bytes(tlv(0x30, bytes.fromhex("020100") + tlv(0x31, b"".join(certificates))))
    sign = ["cms", "-sign", "-nodetach", "-binary", "-econtent_type", "2.23.136.1.1.2", "-in", "ml-content.der"]
    signer = ["-signer", str(cert), "-inkey", str(key), "-md", "sha256"]
    run(*sign, *signer, "-outform", "DER", "-out", "list.ml", cwd=work)
    return (work / "list.ml").read_bytes()


@pytest.fixture(scope="module")
def small_master_list(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A master list made by ``openssl cms -sign`` (eContentType 2.23.136.1.1.2) carrying the VN and ID CSCAs,
    signed by a list signer that a test CSCA issued. Returns (the list, the test CSCA's certificate)."""
    work = tmp_path_factory.mktemp("ml")
    root = make_authority(work / "root", "CSCA List Root", key_spec="ec-explicit:brainpoolP384r1")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    key, cert = root.issue_dsc(
        "Master List Signer",
        key_spec="ec:prime256v1",
        start=now,
        end=now + dt.timedelta(days=90),
        extended_key_usage=ML_SIGNER_EKU,
    )
    return _sign_master_list(work, key, cert, VN_CSCA.read_bytes(), IDN_CSCA.read_bytes()), root.cert_der


def test_only_a_master_list_signer_may_sign_a_master_list(tmp_path: Path) -> None:
    """A document signer under a trusted CSCA must not be able to make a CSCA of its own trusted: the list's signer
    needs the master-list-signer purpose (ICAO 9303-12), as the German and Dutch signers have."""
    root = make_authority(tmp_path / "root", "CSCA Root", key_spec="ec:prime256v1")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    key, cert = root.issue_dsc("Document Signer", key_spec="ec:prime256v1", start=now, end=now + dt.timedelta(days=90))
    forged = _sign_master_list(tmp_path, key, cert, VN_CSCA.read_bytes())
    store = TrustStore()
    store.add_certificate(root.cert_der)
    with pytest.raises(TrustStoreError, match="not a master list signer"):
        store.add_master_list(forged, origin="forged.ml")
    assert len(store) == 1


def test_a_revoked_master_list_signer_spoils_the_trust_store(tmp_path: Path) -> None:
    root = make_authority(tmp_path / "root", "CSCA Root", key_spec="ec:prime256v1")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    end = now + dt.timedelta(days=90)
    key, cert = root.issue_dsc(
        "List Signer", key_spec="ec:prime256v1", start=now, end=end, extended_key_usage=ML_SIGNER_EKU
    )
    (tmp_path / "list.ml").write_bytes(_sign_master_list(tmp_path, key, cert, VN_CSCA.read_bytes()))
    assert len(load_trust_store([root.cert, tmp_path / "list.ml"])) == 2
    (tmp_path / "root.crl").write_bytes(root.revoke(cert))
    with pytest.raises(TrustStoreError, match="revoked"):
        load_trust_store([root.cert, tmp_path / "list.ml", tmp_path / "root.crl"])


def test_a_folder_may_hold_crls_of_countries_not_trusted_here(tmp_path: Path) -> None:
    """The ICAO PKD's CRLs come as one folder for every country: those of CSCAs not trusted here are skipped; one
    named on its own is still an error."""
    ours = make_authority(tmp_path / "ours", "CSCA Ours", key_spec="ec:prime256v1")
    theirs = make_authority(tmp_path / "theirs", "CSCA Theirs", key_spec="ec:prime256v1")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    _, their_dsc = theirs.issue_dsc("Their DSC", key_spec="ec:prime256v1", start=now, end=now + dt.timedelta(days=9))
    folder = tmp_path / "trust"
    folder.mkdir()
    (folder / "ours.pem").write_bytes(ours.cert.read_bytes())
    (folder / "theirs.crl").write_bytes(theirs.revoke(their_dsc))
    store = load_trust_store([folder])
    assert (len(store), len(store.crls)) == (1, 0)
    with pytest.raises(TrustStoreError, match="not a trusted CSCA"):
        load_trust_store([ours.cert, folder / "theirs.crl"])


def test_a_master_list_made_by_openssl(small_master_list: tuple[bytes, bytes]) -> None:
    data, root = small_master_list
    store = TrustStore()
    store.add_certificate(root)
    info = store.add_master_list(data, origin="list.ml")
    assert (info.certificates, info.added) == (2, 2)
    assert info.signer.common_name == "Master List Signer"
    assert VN_SHA256 in {a.certificate.sha256 for a in store.anchors}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_master_lists_are_refused_not_crashed(
    small_master_list: tuple[bytes, bytes], changes: list[tuple[int, int]]
) -> None:
    data, root = small_master_list
    changed = bytearray(data)
    for position, value in changes:
        changed[position % len(changed)] = value
    store = TrustStore()
    store.add_certificate(root)
    try:
        store.add_master_list(bytes(changed))
    except TrustStoreError:
        assert len(store) == 1  # never half-loaded
        return
    # Only a change outside the signed bytes (the CMS version, say) can leave the list acceptable.
    assert len(store) == 3


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 1600), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_certificates_raise_only_parse_errors(changes: list[tuple[int, int]]) -> None:
    data = bytearray(VN_CSCA.read_bytes())
    for position, value in changes:
        data[position % len(data)] = value
    try:
        cert = parse_certificate(bytes(data))
    except ParseError:
        return
    assert cert.subject_text
    with contextlib.suppress(ParseError):
        cert.public_key()


def test_an_undecodable_certificate_in_a_signed_list_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A list whose signature verifies but which carries one certificate we cannot decode: the rest still loads."""
    root = make_authority(tmp_path / "root", "CSCA Skip Root", key_spec="ec:prime256v1")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    end = now + dt.timedelta(days=9)
    key, cert = root.issue_dsc(
        "List Signer", key_spec="ec:prime256v1", start=now, end=end, extended_key_usage=ML_SIGNER_EKU
    )
    broken = tlv(0x30, tlv(0x30, bytes.fromhex("020101")) + tlv(0x30, b"") + tlv(0x03, b"\x00"))
    content = tlv(0x30, bytes.fromhex("020100") + tlv(0x31, VN_CSCA.read_bytes() + broken))
    (tmp_path / "content.der").write_bytes(content)
    sign = ["cms", "-sign", "-nodetach", "-binary", "-econtent_type", "2.23.136.1.1.2", "-in", "content.der"]
    run(*sign, "-signer", str(cert), "-inkey", str(key), "-outform", "DER", "-out", "list.ml", cwd=tmp_path)
    store = TrustStore()
    store.add_certificate(root.cert_der)
    with caplog.at_level(logging.DEBUG, logger="mrtd._trust_store"):
        info = store.add_master_list((tmp_path / "list.ml").read_bytes(), origin="skip.ml")
    assert (info.certificates, info.added, info.skipped) == (2, 1, 1)
    assert any("skipping a certificate" in record.message for record in caplog.records)
    assert all(record.levelno == logging.DEBUG for record in caplog.records)
