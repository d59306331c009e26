"""Personalisation: file layouts per the CCCD references, parsed by the chip core and verified end to end."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from hw.sim import ChipFaults, Citizen, Relation, TestPki, citizen, personalise, td1_mrz
from hw.sim._personalise import CardProfile, encode_dg13
from mrtd._checks import CheckStatus
from mrtd._dg1 import parse_dg1
from mrtd._dg2 import parse_dg2
from mrtd._dg13 import parse_dg13
from mrtd._dg14 import parse_dg14
from mrtd._dg15 import parse_dg15
from mrtd._ef_com import parse_ef_com
from mrtd._files import FileId
from mrtd._mrz import parse_mrz
from mrtd._report import Verdict, verify_document
from mrtd._security_infos import parse_security_infos
from mrtd._trust_store import TrustStore

NOW = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
# The CardAccess that Vietnamese apps hard-code from real cards (cccd-spec §2.1).
REAL_CARD_ACCESS = bytes.fromhex(
    "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d"
)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.create(seed="personalise")


@pytest.fixture(scope="module")
def profile(pki: TestPki) -> CardProfile:
    return personalise(citizen(2, reference_date=NOW.date()), pki=pki, seed="personalise")


def trust(pki: TestPki) -> TrustStore:
    store = TrustStore()
    store.add_certificate(pki.csca_cert.public_bytes(serialization.Encoding.DER))
    return store


def spec_citizen() -> Citizen:
    """The worked example of cccd-spec §1.3."""
    return Citizen(
        id_number="001090012345",
        full_name="Nguyễn Văn An",
        date_of_birth=dt.date(1990, 1, 15),
        sex="M",
        place_of_origin="Hà Nội",
        place_of_residence="Hà Nội",
        household_id="H1",
        relation=Relation.HEAD,
        date_of_issue=dt.date(2021, 6, 1),
        date_of_expiry=dt.date(2030, 1, 15),
    )


def test_td1_mrz_matches_the_cccd_worked_example() -> None:
    assert td1_mrz(spec_citizen()) == (
        "IDVNM0900123450001090012345<<1",
        "9001158M3001156VNM<<<<<<<<<<<8",
        "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<",
    )
    parsed = parse_mrz("\n".join(td1_mrz(spec_citizen())))
    assert parsed.id_number == "001090012345"
    assert parsed.mrz_information == "090012345090011583001156"


def test_no_expiry_card_prints_991231() -> None:
    person = dataclasses.replace(spec_citizen(), date_of_expiry=None)
    assert td1_mrz(person)[1][8:15] == "9912315"  # 9*7+9*3+1+2*7+3*3+1 = 115
    assert parse_mrz("\n".join(td1_mrz(person))).has_no_expiry


def test_card_access_is_byte_identical_to_real_cards(profile: CardProfile) -> None:
    assert profile.files[FileId.CARD_ACCESS] == REAL_CARD_ACCESS
    infos = parse_security_infos(REAL_CARD_ACCESS)
    assert infos.pace[0].parameter_id == 13


def test_every_file_parses_with_the_chip_core(profile: CardProfile) -> None:
    person = profile.citizen
    dg1 = parse_dg1(profile.files[FileId.DG1])
    assert dg1.mrz.id_number == person.id_number
    assert len(profile.files[FileId.DG1]) == 95  # cccd-spec §3
    com = parse_ef_com(profile.files[FileId.COM])
    assert com.lds_version is not None
    dg2 = parse_dg2(profile.files[FileId.DG2])
    assert len(profile.files[FileId.DG2]) == 15_000
    assert dg2 is not None
    dg13 = parse_dg13(profile.files[FileId.DG13])
    assert dg13.full_name == person.full_name
    assert dg13.date_of_birth == person.date_of_birth
    assert dg13.father_name == person.father_name
    assert dg13.mother_name == person.mother_name
    assert dg13.spouse_name == person.spouse_name
    assert dg13.old_id_number == person.old_id_number
    assert dg13.date_of_issue == person.date_of_issue
    dg14 = parse_dg14(profile.files[FileId.DG14])
    assert dg14.security_infos.chip_authentication_keys
    assert dg14.security_infos.active_authentication is not None
    assert parse_dg15(profile.files[FileId.DG15]).public_key.ec is not None


def test_dg13_layout_matches_real_card_prefixes() -> None:
    person = dataclasses.replace(spec_citizen(), father_name="Nguyễn Văn Bình", mother_name="Lê Thị Cúc")
    dg13 = encode_dg13(person)
    # The envelope prefix real cards carry (cccd-spec §4.1) and the field prefixes of §4.2.
    assert bytes.fromhex("020101060628d316010008") in dg13
    assert bytes.fromhex("3011020101130c") + b"001090012345" in dg13
    assert bytes.fromhex("300f020103130a") + b"15/01/1990" in dg13
    assert bytes.fromhex("30080201040c03") + b"Nam" in dg13
    assert bytes.fromhex("300f0201050c0a") + "Việt Nam".encode() in dg13
    assert bytes.fromhex("300302010e") in dg13  # no spouse
    father = "Nguyễn Văn Bình".encode()
    assert bytes([0x30, len(father) + 2, 0x0C, len(father)]) + father in dg13  # each parent in its own SEQUENCE
    assert b"\x02\x01\x0f" not in dg13  # no old ID, no field 15
    parsed = parse_dg13(dg13)
    assert (parsed.father_name, parsed.mother_name) == ("Nguyễn Văn Bình", "Lê Thị Cúc")


def test_sod_verifies_with_openssl(profile: CardProfile, pki: TestPki, tmp_path: Path) -> None:
    sod = profile.files[FileId.SOD]
    assert sod[0] == 0x77
    (tmp_path / "sod.der").write_bytes(sod[4:])
    (tmp_path / "csca.pem").write_bytes(pki.csca_pem())
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "sod.der"), "-binary",
         "-CAfile", str(tmp_path / "csca.pem"), "-purpose", "any", "-out", str(tmp_path / "lds.der")],
        capture_output=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"CMS Verification successful" in result.stderr


def test_genuine_card_verifies(profile: CardProfile, pki: TestPki) -> None:
    report = verify_document(profile.files, trust_store=trust(pki), at=NOW)
    assert report.verdict is Verdict.GENUINE, report.to_json()["checks"]
    assert report.holder.id_number == profile.citizen.id_number
    assert report.holder.place_of_residence == profile.citizen.place_of_residence


@pytest.mark.parametrize(
    ("fault", "check", "reason"),
    [
        ("changed-dg", "dg_hashes", "dg_hash_mismatch"),
        ("foreign-csca", "chain", "csca_not_found"),
        ("expired-dsc", "chain", "dsc_expired"),
    ],
)
def test_faults_make_the_document_not_genuine(pki: TestPki, fault: str, check: str, reason: str) -> None:
    profile = personalise(citizen(2, reference_date=NOW.date()), pki=pki, seed="personalise",
                          faults=ChipFaults.parse([fault]), portrait_size=None)  # fmt: skip
    report = verify_document(profile.files, trust_store=trust(pki), at=NOW)
    assert report.verdict is Verdict.NOT_GENUINE
    assert report.checks[check].status is CheckStatus.FAIL
    assert report.checks[check].reason.startswith(reason)
