"""EF.SOD parsing of the 12 real SODs in ../shared/testdata (facts from expected.json), and fuzzing."""

import contextlib
import dataclasses
import datetime as dt
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from real_data import SOD_DIR, expected

from mrtd import ParseError, PassiveAuthError
from mrtd._files import FileId
from mrtd._signatures import verify_signature
from mrtd._sod import parse_lds_security_object, parse_sod, signed_message, signer_verifies

SOD_FILES = sorted(p.name for p in SOD_DIR.glob("EF_SOD_*.bin"))
_SIGNATURE_ALGORITHMS = {
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.113549.1.1.11": "sha256WithRSA",
    "1.2.840.113549.1.1.10": "RSASSA-PSS",
    "1.2.840.113549.1.1.1": "rsaEncryption",
}


def test_all_twelve_samples_are_present() -> None:
    assert len(SOD_FILES) == 12
    for name in SOD_FILES:
        assert hashlib.sha256((SOD_DIR / name).read_bytes()).hexdigest() == expected()[name]["sha256"]


@pytest.mark.parametrize("name", SOD_FILES)
def test_real_sod_parses_to_the_documented_facts(name: str) -> None:
    facts = expected()[name]
    sod = parse_sod((SOD_DIR / name).read_bytes())
    assert sod.signed_data.econtent_type == facts["econtent_type"]
    assert sod.lds.version == facts["lds_security_object_version"]
    assert sod.lds.hash_algorithm == facts["dg_hash_algorithm"]
    assert sod.lds.data_groups == tuple(FileId.data_group(n) for n in facts["data_groups"])
    if facts["lds_version_info"]:
        lds = facts["lds_version_info"]["lds"]
        assert sod.lds.lds_version == f"{int(lds[:2])}.{int(lds[2:])}"
    else:
        assert sod.lds.lds_version is None
    assert sod.indefinite_length == facts["ber_indefinite_length"]
    signer = sod.signer
    assert signer.digest_algorithm == facts["signer_digest_algorithm"]
    assert signer.signature_algorithm.oid == facts["signer_signature_algorithm_oid"]
    assert signer.signature_algorithm.name == _SIGNATURE_ALGORITHMS[facts["signer_signature_algorithm_oid"]]
    if facts["signing_time"]:
        assert signer.signing_time == dt.datetime.fromisoformat(facts["signing_time"])
    else:
        assert signer.signing_time is None
    dsc = sod.dsc
    assert dsc is not None, "the signer must be found (MY: RDNs in another order)"
    assert dsc.sha256 == facts["dsc"]["sha256"]
    assert dsc.country == facts["dsc"]["issuer_country"]
    assert [dsc.not_before, dsc.not_after] == [dt.datetime.fromisoformat(t) for t in facts["dsc"]["validity"]]
    assert dsc.public_key().description.split()[0] == facts["dsc"]["key"].split()[0]
    # The documented message digest and signature facts hold with our code too.
    assert hashlib.new(signer.digest_algorithm, sod.signed_data.econtent).digest() == signer.message_digest
    assert signer.signed_attributes is not None
    assert verify_signature(
        dsc.public_key(),
        signer.signature_algorithm,
        signer.signed_attributes,
        signer.signature,
        digest_algorithm=signer.digest_algorithm,
    )


@pytest.mark.parametrize("name", SOD_FILES)
def test_the_signed_message_of_a_real_sod_is_bound_to_its_content(name: str) -> None:
    sod = parse_sod((SOD_DIR / name).read_bytes())
    signed, signer = sod.signed_data, sod.signer
    assert signed_message(signed, signer) == signer.signed_attributes
    assert sod.dsc is not None
    assert signer_verifies(signed, signer, sod.dsc)
    forged = bytearray(signer.signature)
    forged[-5] ^= 0x01
    assert not signer_verifies(signed, dataclasses.replace(signer, signature=bytes(forged)), sod.dsc)
    # Each broken binding between the signed attributes and the content has its own reason.
    broken = (
        (dataclasses.replace(signer, message_digest=None), signed, "message_digest_missing"),
        (signer, dataclasses.replace(signed, econtent=signed.econtent + b"\x00"), "message_digest_mismatch"),
        (dataclasses.replace(signer, content_type="1.2.840.113549.1.7.2"), signed, "content_type_mismatch"),
        (dataclasses.replace(signer, content_type=None), signed, "content_type_mismatch"),  # RFC 5652 §5.3: MUST
    )
    for changed_signer, changed_signed, reason in broken:
        with pytest.raises(PassiveAuthError) as excinfo:
            signed_message(changed_signed, changed_signer)
        assert excinfo.value.reason == reason
    # Without signed attributes the signature covers the content itself (RFC 5652 §5.4).
    assert signed_message(signed, dataclasses.replace(signer, signed_attributes=None)) == signed.econtent


def test_malaysia_sid_differs_from_the_dsc_issuer_bytes_but_matches() -> None:
    assert expected()["EF_SOD_MY.bin"]["sid_matches_dsc_issuer_bytes"] is False
    sod = parse_sod((SOD_DIR / "EF_SOD_MY.bin").read_bytes())
    assert sod.dsc is not None
    assert sod.signer.sid_issuer == sod.dsc.issuer


def test_china_uses_id_data_as_econtent_type() -> None:
    sod = parse_sod((SOD_DIR / "EF_SOD_CN.bin").read_bytes())
    assert sod.signed_data.econtent_type == "1.2.840.113549.1.7.1"
    assert sod.signer.content_type == "1.2.840.113549.1.7.1"


def test_lds_security_object_v1_and_errors() -> None:
    digest = bytes(32)
    entry = bytes.fromhex("3025020101") + bytes.fromhex("0420") + digest
    alg = bytes.fromhex("300B0609608648016503040201")
    info = bytes.fromhex("300E1304303130381306303430303030")
    body = bytes.fromhex("020101") + alg + bytes([0x30, len(entry)]) + entry + info
    lds = parse_lds_security_object(bytes([0x30, len(body)]) + body)
    assert (lds.version, lds.hash_algorithm, lds.lds_version, lds.unicode_version) == (1, "sha256", "1.8", "4.0.0")
    assert lds.dg_hashes == {1: digest}
    for broken in (
        body.replace(bytes.fromhex("020101"), bytes.fromhex("020102"), 1),  # version 2
        body.replace(bytes.fromhex("3025020101"), bytes.fromhex("3025020111"), 1),  # DG17
        body.replace(bytes.fromhex("0420"), bytes.fromhex("0320"), 1),  # BIT STRING hash
        body.replace(bytes.fromhex("0609608648016503040201"), bytes.fromhex("06092A864886F70D010101"), 1),
    ):
        with pytest.raises(ParseError):
            parse_lds_security_object(bytes([0x30, len(broken)]) + broken)


def test_ber_constructed_econtent_is_joined() -> None:
    """The GB SOD re-encoded as BER: indefinite lengths everywhere, the eContent as a two-chunk constructed OCTET
    STRING. The chunks must be joined before hashing, and the signature still verifies."""
    from asn1crypto import cms, core  # noqa: PLC0415

    from mrtd._tlv import parse_one  # noqa: PLC0415

    raw = (SOD_DIR / "EF_SOD_GB.bin").read_bytes()
    signed = cms.ContentInfo.load(parse_one(raw).value)["content"]
    econtent = parse_sod(raw).signed_data.econtent
    half = len(econtent) // 2
    chunks = core.OctetString(econtent[:half]).dump() + core.OctetString(econtent[half:]).dump()
    eoc = b"\x00\x00"
    encap = b"\x30\x80" + bytes.fromhex("0606678108010101") + b"\xa0\x80\x24\x80" + chunks + eoc + eoc + eoc
    body = signed["version"].dump() + signed["digest_algorithms"].dump() + encap
    body += signed["certificates"].dump() + signed["signer_infos"].dump()
    content_info = b"\x30\x80" + bytes.fromhex("06092A864886F70D010702") + b"\xa0\x80\x30\x80" + body + eoc * 3
    sod = parse_sod(b"\x77\x80" + content_info + eoc)
    assert sod.indefinite_length
    assert sod.signed_data.econtent == econtent
    assert sod.dsc is not None
    assert sod.signer.message_digest == hashlib.sha256(econtent).digest()


_SAMPLES = [(SOD_DIR / name).read_bytes() for name in SOD_FILES]


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300, deadline=None)
@given(
    st.sampled_from(_SAMPLES), st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 255)), min_size=1, max_size=6)
)
def test_mutated_sods_raise_only_parse_errors(sample: bytes, changes: list[tuple[int, int]]) -> None:
    data = bytearray(sample)
    for position, value in changes:
        data[position % len(data)] = value
    try:
        sod = parse_sod(bytes(data))
    except ParseError:
        return
    dsc = sod.dsc
    if dsc is not None:
        with contextlib.suppress(ParseError):
            dsc.public_key()


@settings(max_examples=200)
@given(st.sampled_from(_SAMPLES), st.integers(0, 3000))
def test_truncated_sods_raise_only_parse_errors(sample: bytes, cut: int) -> None:
    with contextlib.suppress(ParseError):
        parse_sod(sample[: cut % len(sample)])


@given(st.binary(max_size=400))
def test_random_bytes_are_not_a_sod(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_sod(b"\x77" + bytes([len(data)]) + data if len(data) < 128 else data)
