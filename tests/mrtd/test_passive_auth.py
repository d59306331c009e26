"""Passive authentication: the 12 real SODs against the real master lists, and dumps signed by OpenSSL."""

import datetime as dt
from pathlib import Path

import pytest
from openssl_dump import Dump, build_dump, lds_security_object, make_authority, sign_sod, tlv
from real_data import SOD_DIR, expected, master_list_store, store_with_extra_csca

from mrtd import PassiveAuthError
from mrtd._checks import CheckStatus
from mrtd._files import FileId
from mrtd._passive_auth import passive_authentication
from mrtd._sod import parse_sod
from mrtd._trust_store import TrustStore

SOD_FILES = sorted(p.name for p in SOD_DIR.glob("EF_SOD_*.bin"))


def _csca_hashes_in_the_lists(name: str) -> set[str]:
    found = expected()[name]["csca_verifying_dsc"]
    return {sha for sha, info in found.items() if any("masterlists/" in f and ".ml" in f for f in info["found_in"])}


def _when(name: str) -> dt.datetime:
    """A day on which the sample's DSC is valid (its signing time, or a month into its validity)."""
    facts = expected()[name]
    if facts["signing_time"]:
        return dt.datetime.fromisoformat(facts["signing_time"])
    return dt.datetime.fromisoformat(facts["dsc"]["validity"][0]) + dt.timedelta(days=30)


@pytest.mark.parametrize("name", SOD_FILES)
def test_real_sod_verifies_against_the_master_lists_where_its_csca_is_there(name: str) -> None:
    sod = parse_sod((SOD_DIR / name).read_bytes())
    result = passive_authentication(sod, {}, trust_store=master_list_store(), at=_when(name))
    assert result.signature.status is CheckStatus.PASS
    assert result.signature.reason == "sod_signature_valid"
    in_lists = _csca_hashes_in_the_lists(name)
    if in_lists:
        assert result.chain.reason == "chain_valid", result.chain.message
        assert result.csca is not None
        assert result.csca.sha256 in in_lists
    else:
        # expected.json: the Indonesian CSCA is in neither list.
        assert name == "EF_SOD_ID.bin"
        assert result.chain.status is CheckStatus.FAIL
        assert result.chain.reason == "csca_not_found"
    assert result.dg_hashes.reason == "no_data_groups"
    assert {f.dg_number for f in result.absent_groups} == set(expected()[name]["data_groups"])


def test_indonesia_verifies_with_the_extra_csca() -> None:
    sod = parse_sod((SOD_DIR / "EF_SOD_ID.bin").read_bytes())
    result = passive_authentication(sod, {}, trust_store=store_with_extra_csca(), at=_when("EF_SOD_ID.bin"))
    assert result.chain.reason == "chain_valid"
    assert result.csca is not None
    assert result.csca.sha256 == "7fa32cd7257d6e095242e49f2718f8dae85e2f0eb8dc34ca191fde4ff2be4982"


def test_a_real_dsc_is_expired_after_its_validity() -> None:
    sod = parse_sod((SOD_DIR / "EF_SOD_FR.bin").read_bytes())  # DSC valid until 2027-10-18
    result = passive_authentication(sod, {}, trust_store=master_list_store(), at=dt.datetime(2028, 1, 1, tzinfo=dt.UTC))
    assert result.chain.reason == "dsc_expired"
    with pytest.raises(PassiveAuthError) as excinfo:
        result.raise_for_failure()
    assert excinfo.value.reason == "dsc_expired"


def test_a_real_sod_with_a_flipped_signature_byte_fails() -> None:
    data = bytearray((SOD_DIR / "EF_SOD_US.bin").read_bytes())
    sod = parse_sod(bytes(data))
    position = bytes(data).rfind(sod.signer.signature)
    data[position + 10] ^= 0x01
    result = passive_authentication(
        parse_sod(bytes(data)), {}, trust_store=master_list_store(), at=_when("EF_SOD_US.bin")
    )
    assert result.signature.reason == "sod_signature_invalid"


# --- dumps made by OpenSSL -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def brainpool_dump(tmp_path_factory: pytest.TempPathFactory) -> Dump:
    return build_dump(tmp_path_factory.mktemp("brainpool"))


def _store(*certs: Path) -> TrustStore:
    store = TrustStore()
    for cert in certs:
        store.add_certificate(cert.read_bytes())
    return store


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


def _check(dump: Dump, files: dict[FileId, bytes] | None = None, store: TrustStore | None = None):  # type: ignore[no-untyped-def]
    files = files if files is not None else dump.files
    return passive_authentication(
        parse_sod(files[FileId.SOD]),
        files,
        trust_store=store if store is not None else _store(dump.csca.cert),
        at=_now(),
    )


def test_openssl_dump_with_explicit_brainpool_csca_passes(brainpool_dump: Dump) -> None:
    result = _check(brainpool_dump)
    assert result.ok
    assert result.csca is not None
    assert result.csca.public_key().description == "EC brainpoolP256r1"
    assert {f.label for f in result.verified_groups} == {"DG1", "DG2", "DG13", "DG14", "DG15"}


def test_a_changed_dg13_is_reported_by_name(brainpool_dump: Dump) -> None:
    files = dict(brainpool_dump.files)
    dg13 = bytearray(files[FileId.DG13])
    dg13[40] ^= 0x01
    files[FileId.DG13] = bytes(dg13)
    result = _check(brainpool_dump, files)
    assert result.signature.ok
    assert result.chain.ok
    assert result.dg_hashes.reason == "dg_hash_mismatch:DG13"
    assert not result.ok


def test_a_data_group_outside_the_sod_fails(brainpool_dump: Dump) -> None:
    files = dict(brainpool_dump.files)
    files[FileId.DG3] = tlv(0x63, b"\x00")
    assert _check(brainpool_dump, files).dg_hashes.reason == "dg_not_in_sod:DG3"


def test_a_data_group_in_the_sod_but_not_read_is_only_reported(brainpool_dump: Dump) -> None:
    files = dict(brainpool_dump.files)
    del files[FileId.DG2]
    result = _check(brainpool_dump, files)
    assert result.ok
    assert result.absent_groups == (FileId.DG2,)


@pytest.mark.parametrize("fill", [b"\x00", b"\xff"])
def test_padding_after_a_data_group_is_tolerated(brainpool_dump: Dump, fill: bytes) -> None:
    files = dict(brainpool_dump.files)
    files[FileId.DG1] = files[FileId.DG1] + fill * 16
    assert _check(brainpool_dump, files).dg_hashes.ok


@pytest.mark.parametrize("tail", [b"\x00\x00\x01", b"more text", b"\xff\x00"])
def test_other_bytes_after_a_data_group_are_not_padding(brainpool_dump: Dump, tail: bytes) -> None:
    files = dict(brainpool_dump.files)
    files[FileId.DG1] = files[FileId.DG1] + tail
    result = _check(brainpool_dump, files)
    assert result.dg_hashes.reason == "dg_hash_mismatch:DG1"


def test_a_foreign_csca_is_not_found(brainpool_dump: Dump, tmp_path: Path) -> None:
    foreign = make_authority(tmp_path / "foreign", "CSCA Somewhere Else", key_spec="ec:prime256v1")
    result = _check(brainpool_dump, store=_store(foreign.cert))
    assert result.signature.ok
    assert result.chain.reason == "csca_not_found"


def test_an_impostor_csca_with_the_same_name_does_not_sign_the_dsc(brainpool_dump: Dump, tmp_path: Path) -> None:
    impostor = make_authority(tmp_path / "impostor", brainpool_dump.csca.name, key_spec="ec:brainpoolP256r1")
    result = _check(brainpool_dump, store=_store(impostor.cert))
    # Found by name (its key identifier differs), then refused: its key did not sign the DSC.
    assert result.chain.reason == "dsc_signature_invalid"


def test_an_expired_dsc(brainpool_dump: Dump, tmp_path: Path) -> None:
    dump = build_dump(
        tmp_path,
        authority=brainpool_dump.csca,
        dsc_start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        dsc_end=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
    )
    result = _check(dump)
    assert result.signature.ok
    assert result.chain.reason == "dsc_expired"
    assert "2021-01-01" in result.chain.message


def test_a_revoked_dsc(brainpool_dump: Dump, tmp_path: Path) -> None:
    authority = make_authority(tmp_path / "ca", "CSCA Revoking", key_spec="ec:prime256v1")
    dump = build_dump(tmp_path / "dump", authority=authority)
    store = _store(authority.cert)
    assert _check(dump, store=store).chain.ok
    store.add_crl(authority.revoke(dump.dsc_cert))
    assert _check(dump, store=store).chain.reason == "dsc_revoked"


@pytest.mark.parametrize(("usage", "reason"), [("keyAgreement", "dsc_key_usage"), (None, "chain_valid")])
def test_dsc_key_usage(brainpool_dump: Dump, tmp_path: Path, usage: str | None, reason: str) -> None:
    """A keyUsage without digitalSignature fails; no keyUsage at all restricts nothing (RFC 5280)."""
    authority = brainpool_dump.csca
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    key, cert = authority.issue_dsc(
        f"DS {usage}", key_spec="ec:prime256v1", start=now, end=now + dt.timedelta(days=90), key_usage=usage
    )
    files = {f: d for f, d in brainpool_dump.files.items() if f is not FileId.SOD}
    lds = lds_security_object({f: d for f, d in files.items() if f.dg_number}, cwd=tmp_path)
    files[FileId.SOD] = sign_sod(lds, key=key, cert=cert, cwd=tmp_path)
    result = _check(brainpool_dump, files)
    assert result.chain.reason == reason
    assert result.dsc is not None
    assert result.dsc.key_usage == (frozenset({"key_agreement"}) if usage else None)


def test_rsa_pss_sod_and_rsa_csca_made_by_openssl(tmp_path: Path) -> None:
    dump = build_dump(
        tmp_path,
        csca_key="rsa:3072",
        dsc_key="rsa:2048",
        sign_extra=("-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:32"),
    )
    sod = parse_sod(dump.files[FileId.SOD])
    assert sod.signer.signature_algorithm.name == "RSASSA-PSS"
    result = _check(dump)
    assert result.ok, (result.signature, result.chain, result.dg_hashes)


def test_no_trust_anchor_is_skipped_not_failed(brainpool_dump: Dump) -> None:
    result = _check(brainpool_dump, store=TrustStore())
    assert result.chain.status is CheckStatus.SKIPPED
    assert result.chain.reason == "no_trust_anchor"


def test_the_time_must_be_timezone_aware(brainpool_dump: Dump) -> None:
    sod = parse_sod(brainpool_dump.files[FileId.SOD])
    with pytest.raises(ValueError, match="timezone"):
        passive_authentication(sod, {}, trust_store=TrustStore(), at=dt.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "extra",
    [("-noattr",), ("-keyid",), ("-md", "sha384"), ("-nocerts",)],
    ids=["no-signed-attributes", "signer-by-ski", "sha384", "no-certificates"],
)
def test_openssl_cms_variants(brainpool_dump: Dump, tmp_path: Path, extra: tuple[str, ...]) -> None:
    """SODs signed with other ``openssl cms`` choices: no signed attributes (the signature covers the content), the
    signer named by subject key identifier, another digest, and no certificates (the DSC is then missing)."""
    files = {f: d for f, d in brainpool_dump.files.items() if f is not FileId.SOD}
    lds = lds_security_object({f: d for f, d in files.items() if f.dg_number}, cwd=tmp_path)
    files[FileId.SOD] = sign_sod(
        lds, key=brainpool_dump.dsc_key, cert=brainpool_dump.dsc_cert, cwd=tmp_path, extra=extra
    )
    result = _check(brainpool_dump, files)
    if extra == ("-nocerts",):
        assert result.signature.reason == "dsc_not_found"
        assert result.chain.status is CheckStatus.SKIPPED
    else:
        assert result.ok, (result.signature, result.chain)
