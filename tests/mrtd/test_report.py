"""The verification report and its verdict rule, on an OpenSSL-signed CCCD dump (tests/mrtd/openssl_dump.py)."""

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openssl_dump import CITIZEN, Dump, build_dump, dg13_bytes, lds_security_object, make_authority, sign_sod
from real_data import SOD_DIR, master_list_store

from mrtd import (
    ActiveAuthEvidence,
    Check,
    CheckStatus,
    FileId,
    LiveSession,
    TrustStore,
    Verdict,
    VerificationReport,
    parse_sod,
    verify_document,
)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Dump:
    return build_dump(tmp_path_factory.mktemp("report"))


def _store(dump: Dump) -> TrustStore:
    store = TrustStore()
    store.add_certificate(dump.csca.cert.read_bytes())
    return store


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


def _evidence(dump: Dump) -> ActiveAuthEvidence:
    return ActiveAuthEvidence(dump.challenge, dump.aa_signature)


def _resigned(dump: Dump, files: dict[FileId, bytes], work: Path) -> dict[FileId, bytes]:
    """``files`` with a fresh SOD over their data groups, signed by the dump's DSC."""
    groups = {f: d for f, d in files.items() if f.dg_number is not None}
    lds = lds_security_object(groups, cwd=work)
    return {**files, FileId.SOD: sign_sod(lds, key=dump.dsc_key, cert=dump.dsc_cert, cwd=work)}


def test_genuine_dump_with_active_authentication(dump: Dump) -> None:
    report = verify_document(dump.files, trust_store=_store(dump), at=_now(), active_auth=_evidence(dump))
    assert report.verdict is Verdict.GENUINE
    assert report.reasons == ()
    statuses = {name: check.status for name, check in report.checks.items()}
    assert statuses == {
        "passive_auth": CheckStatus.PASS,
        "chain": CheckStatus.PASS,
        "dg_hashes": CheckStatus.PASS,
        "active_auth": CheckStatus.PASS,
        "chip_auth": CheckStatus.SKIPPED,
    }
    assert report.chip_auth.reason == "ca_no_live_chip"
    holder = report.holder
    assert (holder.id_number, holder.full_name, holder.sex) == ("001090012345", "Nguyễn Văn An", "M")
    assert holder.date_of_birth == dt.date(1990, 1, 15)
    assert holder.date_of_expiry == dt.date(2030, 1, 15)
    assert (holder.father_name, holder.mother_name) == ("Nguyễn Văn Bình", "Trần Thị Cúc")
    document = report.document
    assert document.mrz[0] == "IDVNM0900123450001090012345<<1"
    assert document.document_number == "090012345"
    assert document.lds_version == "1.7"
    assert document.data_groups == ("DG1", "DG2", "DG13", "DG14", "DG15")
    assert report.parsed.dg2 is not None
    assert report.parsed.dg2.portrait.image[:3] == b"\xff\xd8\xff"


def test_report_json_shape(dump: Dump) -> None:
    report = verify_document(dump.files, trust_store=_store(dump), at=_now(), active_auth=_evidence(dump))
    data = json.loads(json.dumps(report.to_json(), ensure_ascii=False))
    assert data["verdict"] == "genuine"
    assert set(data["checks"]) == {"passive_auth", "chain", "dg_hashes", "active_auth", "chip_auth"}
    for check in data["checks"].values():
        assert check["status"] in ("pass", "fail", "skipped")
        assert check["reason"]
    assert set(data["holder"]) == {
        "id_number", "old_id_number", "full_name", "date_of_birth", "sex", "nationality", "ethnicity", "religion",
        "place_of_origin", "place_of_residence", "identifying_marks", "date_of_issue", "date_of_expiry",
        "father_name", "mother_name", "spouse_name",
    }  # fmt: skip
    assert data["holder"]["date_of_birth"] == "1990-01-15"
    assert data["holder"]["place_of_origin"] == CITIZEN["place_of_origin"]
    assert {"mrz", "document_number", "lds_version", "data_groups"} <= set(data["document"])
    assert data["document"]["dsc"]["subject"].endswith("Country: VN")
    assert data["reasons"] == []


def test_without_aa_evidence_the_dump_is_still_genuine(dump: Dump) -> None:
    report = verify_document(dump.files, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.GENUINE
    assert report.active_auth.status is CheckStatus.SKIPPED
    assert report.active_auth.reason == "aa_no_evidence"
    assert "aa_no_evidence" in report.notes


def test_a_wrong_aa_signature_is_not_genuine(dump: Dump) -> None:
    forged = ActiveAuthEvidence(bytes(8), dump.aa_signature)
    report = verify_document(dump.files, trust_store=_store(dump), at=_now(), active_auth=forged)
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.reasons == ("aa_signature_invalid",)


def test_a_replayed_aa_answer_is_not_genuine(dump: Dump) -> None:
    report = verify_document(
        dump.files, trust_store=_store(dump), at=_now(), active_auth=_evidence(dump), expected_challenge=bytes(8)
    )
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.active_auth.reason == "aa_challenge_mismatch"


CA_PASSED = Check.passed("ca_valid", "Chip authentication succeeded.")


def test_chip_authentication_outcome_from_a_live_session(dump: Dump, tmp_path: Path) -> None:
    report = verify_document(dump.files, trust_store=_store(dump), at=_now(), live=LiveSession(chip_auth=CA_PASSED))
    assert report.verdict is Verdict.GENUINE
    assert report.chip_auth.ok
    failed = Check.failed("ca_failed", "The chip could not prove it holds the DG14 key.")
    report = verify_document(dump.files, trust_store=_store(dump), at=_now(), live=LiveSession(chip_auth=failed))
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.reasons == ("ca_failed",)
    # A DG14 the SOD does not cover: the session proved the chip holds *a* key, not the issuer's.
    unsigned_dg14 = {**_resigned(dump, _without(dump, FileId.DG14), tmp_path), FileId.DG14: dump.files[FileId.DG14]}
    report = verify_document(unsigned_dg14, trust_store=_store(dump), at=_now(), live=LiveSession(chip_auth=CA_PASSED))
    assert report.chip_auth.reason == "ca_key_not_verified"
    assert report.verdict is Verdict.NOT_GENUINE


def _without(dump: Dump, *removed: FileId) -> dict[FileId, bytes]:
    return {f: d for f, d in dump.files.items() if f not in removed}


def test_a_dump_may_lack_a_key_file_but_a_live_chip_may_not_hide_one(dump: Dump) -> None:
    # The SOD lists DG15; a dump without it is still genuine (its files may simply not have been saved).
    files = _without(dump, FileId.DG15)
    report = verify_document(files, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.GENUINE
    assert "dg_absent:DG15" in report.notes
    assert report.active_auth.reason == "aa_not_available"
    # A chip on a reader that does not return it hides its active-authentication key: a clone does exactly that.
    live = verify_document(files, trust_store=_store(dump), at=_now(), live=LiveSession(chip_auth=CA_PASSED))
    assert live.verdict is Verdict.NOT_GENUINE
    assert live.reasons == ("aa_key_missing",)
    assert live.active_auth.status is CheckStatus.FAIL


def test_a_live_chip_that_hides_dg14_fails_chip_authentication(dump: Dump) -> None:
    # (The dump's EC active-authentication key needs DG14 to name its hash, so no AA evidence here.)
    files = _without(dump, FileId.DG14)
    assert verify_document(files, trust_store=_store(dump), at=_now()).genuine
    live = verify_document(files, trust_store=_store(dump), at=_now(), live=LiveSession())
    assert live.verdict is Verdict.NOT_GENUINE
    assert live.reasons == ("ca_key_missing",)
    assert live.chip_auth.reason == "ca_key_missing"


def test_a_live_chip_that_hides_both_key_files_is_not_genuine(dump: Dump) -> None:
    files = _without(dump, FileId.DG14, FileId.DG15)
    assert verify_document(files, trust_store=_store(dump), at=_now()).verdict is Verdict.GENUINE
    live = verify_document(files, trust_store=_store(dump), at=_now(), live=LiveSession())
    assert live.verdict is Verdict.NOT_GENUINE
    assert live.reasons == ("aa_key_missing", "ca_key_missing")
    assert {"dg_absent:DG14", "dg_absent:DG15"} <= set(live.notes)


def test_a_chip_with_dg15_that_will_not_sign_fails_active_authentication(dump: Dump) -> None:
    refused = LiveSession(chip_auth=CA_PASSED, aa_refusal="the chip answered 6D00 (instruction not supported)")
    report = verify_document(dump.files, trust_store=_store(dump), at=_now(), live=refused)
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.reasons == ("aa_refused",)
    assert report.active_auth.status is CheckStatus.FAIL
    assert "6D00" in report.active_auth.message


def test_a_live_chip_that_proves_nothing_is_incomplete(dump: Dump, tmp_path: Path) -> None:
    # A card whose SOD lists neither DG14 nor DG15: the data is signed, but nothing shows this chip is the original.
    files = _resigned(dump, _without(dump, FileId.DG14, FileId.DG15), tmp_path)
    dump_report = verify_document(files, trust_store=_store(dump), at=_now())
    assert dump_report.verdict is Verdict.GENUINE
    assert {"aa_not_available", "ca_not_available"} <= set(dump_report.notes)
    live = verify_document(files, trust_store=_store(dump), at=_now(), live=LiveSession())
    assert live.verdict is Verdict.INCOMPLETE
    assert live.reasons == ("chip_not_authenticated",)
    assert live.to_json()["reasons"] == ["chip_not_authenticated"]


def test_either_proof_makes_a_live_chip_genuine(dump: Dump) -> None:
    only_aa = verify_document(
        dump.files,
        trust_store=_store(dump),
        at=_now(),
        active_auth=_evidence(dump),
        expected_challenge=dump.challenge,
        live=LiveSession(),
    )
    assert only_aa.verdict is Verdict.GENUINE
    assert only_aa.chip_auth.reason == "ca_not_run"
    only_ca = verify_document(dump.files, trust_store=_store(dump), at=_now(), live=LiveSession(chip_auth=CA_PASSED))
    assert only_ca.verdict is Verdict.GENUINE
    assert only_ca.active_auth.reason == "aa_no_evidence"
    # Neither run: incomplete, although every file is there and signed.
    neither = verify_document(dump.files, trust_store=_store(dump), at=_now(), live=LiveSession())
    assert neither.verdict is Verdict.INCOMPLETE
    assert neither.reasons == ("chip_not_authenticated",)


@dataclass(frozen=True)
class _Outside:
    """A check made outside the chip, shaped like the QR ↔ chip cross-check."""

    check: Check

    def to_json(self) -> dict[str, object]:
        return {**self.check.to_json(), "fields": {"id_number": "match", "full_name": "mismatch"}}


_QR_OK = _Outside(Check.passed("qr_match", "the QR code matches the chip"))
_QR_BAD = _Outside(Check.failed("qr_mismatch:full_name", "pasted QR", more=("qr_mismatch:sex",)))
_QR_SKIPPED = _Outside(Check.skipped("qr_no_chip_id", "the chip gave no ID number"))


def _genuine(dump: Dump) -> VerificationReport:
    return verify_document(dump.files, trust_store=_store(dump), at=_now(), active_auth=_evidence(dump))


def test_a_check_made_outside_the_chip_joins_the_verdict(dump: Dump) -> None:
    report = _genuine(dump)
    matched = report.with_check("qr_match", _QR_OK)
    assert matched.verdict is Verdict.GENUINE
    assert list(matched.checks) == ["passive_auth", "chain", "dg_hashes", "active_auth", "chip_auth", "qr_match"]
    document = json.loads(json.dumps(matched.to_json()))
    assert document["checks"]["qr_match"] == {
        "status": "pass",
        "reason": "qr_match",
        "message": "the QR code matches the chip",
        "fields": {"id_number": "match", "full_name": "mismatch"},
    }
    assert "qr_match" not in report.to_json()["checks"]  # the original report is unchanged
    mismatched = report.with_check("qr_match", _QR_BAD)
    assert mismatched.verdict is Verdict.NOT_GENUINE
    assert mismatched.reasons == ("qr_mismatch:full_name", "qr_mismatch:sex")
    skipped = report.with_check("qr_match", _QR_SKIPPED)
    assert skipped.verdict is Verdict.GENUINE
    assert "qr_no_chip_id" in skipped.notes
    with pytest.raises(ValueError, match="already"):
        matched.with_check("qr_match", _QR_OK)
    with pytest.raises(ValueError, match="already"):
        report.with_check("chain", _QR_OK)


def test_an_outside_check_follows_the_same_rule_as_the_chip_checks(dump: Dump, tmp_path: Path) -> None:
    # Without a trust anchor the chip's verdict is incomplete: a passing QR does not change that, a failing one does.
    untrusted = verify_document(dump.files, trust_store=TrustStore(), at=_now())
    assert untrusted.with_check("qr_match", _QR_OK).reasons == ("no_trust_anchor",)
    assert untrusted.with_check("qr_match", _QR_OK).verdict is Verdict.INCOMPLETE
    assert untrusted.with_check("qr_match", _QR_BAD).verdict is Verdict.NOT_GENUINE
    # A QR that matches proves nothing about the chip: a live chip that proved nothing stays incomplete.
    files = _resigned(dump, _without(dump, FileId.DG14, FileId.DG15), tmp_path)
    live = verify_document(files, trust_store=_store(dump), at=_now(), live=LiveSession())
    assert live.with_check("qr_match", _QR_OK).reasons == ("chip_not_authenticated",)
    # Failures of both kinds are all listed, the chip's first.
    forged = ActiveAuthEvidence(bytes(8), dump.aa_signature)
    clone = verify_document(dump.files, trust_store=_store(dump), at=_now(), active_auth=forged)
    assert clone.with_check("qr_match", _QR_BAD).reasons == (
        "aa_signature_invalid",
        "qr_mismatch:full_name",
        "qr_mismatch:sex",
    )


def test_a_changed_dg13_is_not_genuine(dump: Dump) -> None:
    files = dict(dump.files)
    files[FileId.DG13] = dg13_bytes(dict(CITIZEN, full_name="Nguyễn Văn Ân"))
    report = verify_document(files, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.reasons == ("dg_hash_mismatch:DG13",)
    assert report.dg_hashes.reason == "dg_hash_mismatch:DG13"


def test_a_foreign_csca_is_not_genuine(dump: Dump, tmp_path: Path) -> None:
    foreign = make_authority(tmp_path, "CSCA Elsewhere", key_spec="ec:prime256v1")
    store = TrustStore()
    store.add_certificate(foreign.cert.read_bytes())
    report = verify_document(dump.files, trust_store=store, at=_now())
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.reasons == ("csca_not_found",)


def test_an_expired_dsc_is_not_genuine(dump: Dump) -> None:
    report = verify_document(dump.files, trust_store=_store(dump), at=_now() + dt.timedelta(days=3660))
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.chain.reason == "dsc_expired"


def test_missing_pieces_make_it_incomplete(dump: Dump) -> None:
    no_sod = {f: d for f, d in dump.files.items() if f is not FileId.SOD}
    report = verify_document(no_sod, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.INCOMPLETE
    assert report.reasons == ("sod_missing",)
    report = verify_document(dump.files, trust_store=TrustStore(), at=_now())
    assert report.verdict is Verdict.INCOMPLETE
    assert report.reasons == ("no_trust_anchor",)
    only_sod = {FileId.SOD: dump.files[FileId.SOD]}
    report = verify_document(only_sod, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.INCOMPLETE
    assert "holder_data_missing" in report.reasons


def test_a_failure_outranks_something_missing(dump: Dump) -> None:
    files = dict(dump.files)
    files[FileId.DG1] = files[FileId.DG1][:-1] + b"9"
    report = verify_document(files, trust_store=TrustStore(), at=_now())
    assert report.verdict is Verdict.NOT_GENUINE
    assert "dg_hash_mismatch:DG1" in report.reasons


def test_a_garbage_sod_is_not_genuine_with_a_clear_problem(dump: Dump) -> None:
    files = dict(dump.files)
    files[FileId.SOD] = b"\x77\x03abc"
    report = verify_document(files, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.passive_auth.reason == "sod_malformed"
    assert any(p.startswith("SOD:") for p in report.problems)


def test_an_unreadable_data_group_is_named(dump: Dump) -> None:
    files = dict(dump.files)
    files[FileId.DG13] = b"\x6d\x02\x30\x00"
    report = verify_document(files, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.NOT_GENUINE
    assert "unreadable:DG13" in report.notes
    assert any(p.startswith("DG13:") for p in report.problems)
    # DG1 still gives what the MRZ holds.
    assert report.holder.full_name == "NGUYEN VAN AN"


def test_holder_falls_back_to_dg1_without_dg13(dump: Dump) -> None:
    files = {f: d for f, d in dump.files.items() if f is not FileId.DG13}
    report = verify_document(files, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.GENUINE
    assert "dg_absent:DG13" in report.notes
    holder = report.holder
    assert holder.id_number == "001090012345"
    assert holder.full_name == "NGUYEN VAN AN"
    assert holder.date_of_birth == dt.date(1990, 1, 15)
    assert holder.date_of_expiry == dt.date(2030, 1, 15)
    assert (holder.sex, holder.nationality) == ("M", "VNM")
    assert holder.place_of_residence is None


def test_a_card_without_expiry(dump: Dump, tmp_path: Path) -> None:
    files = dict(dump.files)
    files[FileId.DG13] = dg13_bytes(dict(CITIZEN, date_of_expiry="Không thời hạn"), parents_layout="joint")
    report = verify_document(_resigned(dump, files, tmp_path), trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.GENUINE
    assert report.holder.date_of_expiry is None  # DG13 says no expiry; the MRZ date does not overrule it
    assert report.document.no_expiry
    assert report.to_json()["holder"]["date_of_expiry"] is None


def test_a_real_sod_alone_verifies_but_is_incomplete() -> None:
    files = {FileId.SOD: (SOD_DIR / "EF_SOD_FR.bin").read_bytes()}
    report = verify_document(files, trust_store=master_list_store(), at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    assert report.passive_auth.ok
    assert report.chain.ok
    assert report.verdict is Verdict.INCOMPLETE
    assert report.reasons == ("holder_data_missing", "no_data_groups")


_FILES = [FileId.SOD, FileId.DG1, FileId.DG13, FileId.DG14, FileId.DG15, FileId.DG2, FileId.COM]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(_FILES), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=4))
def test_any_mutated_file_still_gives_a_report(dump: Dump, file: FileId, changes: list[tuple[int, int]]) -> None:
    files = dict(dump.files)
    data = bytearray(files[file])
    for position, value in changes:
        data[position % len(data)] = value
    files[file] = bytes(data)
    report = verify_document(files, trust_store=_store(dump), at=_now(), active_auth=_evidence(dump))
    if file is FileId.COM:
        # EF.COM is not covered by the SOD: whatever it says, the verdict stands.
        assert report.verdict is Verdict.GENUINE
    elif file is FileId.SOD and report.verdict is Verdict.GENUINE:
        # Only a change outside what is signed (the CMS version, the unsigned digestAlgorithms set) can keep it genuine.
        original, mutated = parse_sod(dump.files[FileId.SOD]), parse_sod(files[FileId.SOD])
        assert mutated.signed_data.econtent == original.signed_data.econtent
        assert mutated.signer.signed_attributes == original.signer.signed_attributes
        assert mutated.signer.signature == original.signer.signature
    elif files[file] != dump.files[file]:
        assert report.verdict is Verdict.NOT_GENUINE
    json.dumps(report.to_json())


def test_a_card_past_its_expiry_gets_a_note_not_a_verdict(dump: Dump) -> None:
    """The chip can be genuine and the card no longer valid as an ID: the operator is told, the verdict unchanged."""
    now = verify_document(dump.files, trust_store=_store(dump), at=_now())
    assert "document_expired" not in now.notes
    assert now.holder.date_of_expiry == dt.date(2030, 1, 15)
    later = verify_document(dump.files, trust_store=_store(dump), at=dt.datetime(2030, 1, 16, tzinfo=dt.UTC))
    assert "document_expired" in later.notes
    assert "document_expired" not in later.reasons
    on_the_day = verify_document(dump.files, trust_store=_store(dump), at=dt.datetime(2030, 1, 15, 23, tzinfo=dt.UTC))
    assert "document_expired" not in on_the_day.notes


def test_revocation_checked_against_an_out_of_date_crl_is_noted(dump: Dump, tmp_path: Path) -> None:
    """A CRL past its nextUpdate still counts (an offline terminal may lag), but the report says so."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    _, other = dump.csca.issue_dsc("Other DSC", key_spec="ec:prime256v1", start=start, end=start + dt.timedelta(days=9))
    store = _store(dump)
    crl = store.add_crl(dump.csca.revoke(other))
    assert crl.next_update is not None
    fresh = verify_document(dump.files, trust_store=store, at=_now())
    assert fresh.verdict is Verdict.GENUINE
    assert "crl_stale" not in fresh.notes
    late = verify_document(dump.files, trust_store=store, at=crl.next_update + dt.timedelta(hours=1))
    assert "crl_stale" in late.notes
    assert "crl_stale" not in late.reasons
    assert "crl_stale" not in verify_document(dump.files, trust_store=_store(dump), at=crl.next_update).notes


def test_the_printed_holder_takes_its_name_from_dg13_alone(dump: Dump, tmp_path: Path) -> None:
    """A chip whose DG13 lacks the name shows the MRZ's (no diacritics) as the holder's, but printed text such as
    the QR code must not be held against it: that name is absent, not different."""
    order = tuple(n for n in range(1, 17) if n != 2)
    files = _resigned(dump, {**dump.files, FileId.DG13: dg13_bytes(field_order=order)}, tmp_path)
    report = verify_document(files, trust_store=_store(dump), at=_now())
    assert report.verdict is Verdict.GENUINE
    assert report.holder.full_name == "NGUYEN VAN AN"  # from the MRZ
    assert report.printed_holder.full_name is None
    assert report.printed_holder.id_number == report.holder.id_number
    whole = verify_document(dump.files, trust_store=_store(dump), at=_now())
    assert whole.printed_holder.full_name == whole.holder.full_name == "Nguyễn Văn An"
