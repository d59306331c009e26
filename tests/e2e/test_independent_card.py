"""``cccd card read`` through real pcscd against an eMRTD chip written independently of ours (``independent_card.py``).

The card shares no code with the reader: BAC only (no EF.CardAccess), RSA active authentication, no DG14, DG13 by its
own encoder, and an EF.SOD that ``openssl cms -sign`` made under an ``openssl``-made CSCA (RSA and EC P-256). It plays
on vpcd's second slot (``Virtual PCD 00 01``) from a thread; the reader reaches it through pyscard → pcscd → vpcd.

The first tests check the card itself against ICAO 9303-11 Appendix D and the worked CCCD example of cccd-spec §1.3,
without pcscd, so that a verdict from the reader is judged against a card that is right.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from independent_card import (
    FID_COM,
    FID_DG,
    FID_SOD,
    CardImage,
    IndependentChip,
    OpenSslPki,
    Person,
    Quirks,
    SodStyle,
    VpcdLink,
    bac_keys,
    dg13,
    ef_com,
    iso9796_2_recover,
    iso9796_2_sign,
    person_with_everything,
    person_without_expiry,
    personalise,
    retail_mac,
    tiny_jpeg,
)
from typer.testing import CliRunner

import hw._reader_pcsc
from cccd.cli import app
from hw import PcscReader, ReaderState
from hw._reader_pcscd import PcscDaemon, pcscd_usable, running_pcscd

READER = "Virtual PCD 00 01"
PORT = 35964
HOLDER_FIELDS = (
    "id_number", "old_id_number", "full_name", "sex", "nationality", "ethnicity", "religion", "place_of_origin",
    "place_of_residence", "identifying_marks", "father_name", "mother_name", "spouse_name",
)  # fmt: skip


# --- the card against published vectors (no pcscd) -----------------------------------------------------------------


def appendix_d_chip() -> IndependentChip:
    """The chip of ICAO 9303-11 Appendix D: MRZ L898902C<3 / 690806 / 940623, RND.IC and K.IC of D.3."""
    person = dataclasses.replace(
        person_with_everything(),
        id_number="000L898902C<",  # document number = the last 9 characters
        date_of_birth=dt.date(1969, 8, 6),
        date_of_expiry=dt.date(1994, 6, 23),
    )
    files = {FID_COM: ef_com([1, 2])}  # 60 14 ...: the EF.COM of Appendix D.4
    image = CardImage(person, files, rsa.generate_private_key(public_exponent=65537, key_size=1024), Path())
    randoms = iter([bytes.fromhex("4608F91988702212"), bytes.fromhex("0B4F80323EB3191CB04970CB4052790B")])
    return IndependentChip(image, rng=lambda n: next(randoms))


def exchange(chip: IndependentChip, command: str) -> str:
    return chip.process(bytes.fromhex(command)).hex().upper()


def test_card_reproduces_icao_appendix_d() -> None:
    assert bac_keys("L898902C", "690806", "940623") == (
        bytes.fromhex("AB94FDECF2674FDFB9B391F85D7F76F2"),
        bytes.fromhex("7962D9ECE03D1ACD4C76089DCE131543"),
    )
    chip = appendix_d_chip()
    assert exchange(chip, "00A4040C07A0000002471001") == "9000"
    assert exchange(chip, "0084000008") == "4608F919887022129000"
    external_authenticate = (
        "008200002872C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2" + "5F1448EEA8AD90A7" + "28"
    )
    assert exchange(chip, external_authenticate) == (
        "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F" + "2F2D235D074D7449" + "9000"
    )
    # D.4: SELECT EF.COM and READ BINARY of its first 4 bytes under secure messaging.
    assert exchange(chip, "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800") == (
        "990290008E08FA855A5D4C50A8ED9000"
    )
    assert exchange(chip, "0CB000000D9701048E08ED6705417E96BA5500") == (
        "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"
    )


def test_card_keeps_access_control_like_a_chip() -> None:
    chip = appendix_d_chip()
    assert exchange(chip, "00A4020C02011C") == "6A82"  # no EF.CardAccess: a BAC-only chip
    assert exchange(chip, "00A4040C07A0000002471001") == "9000"
    assert exchange(chip, "00A4020C020101") == "6982"  # DG1 before BAC
    assert exchange(chip, "00B09E0008") == "6982"  # EF.COM by SFI before BAC
    assert exchange(chip, "0088000008" + "00" * 8 + "00") == "6982"
    exchange(chip, "0084000008")
    assert exchange(chip, "0082000028" + "00" * 40 + "28") == "6300"  # wrong key: the MAC does not verify
    assert exchange(chip, "0082000028" + "00" * 40 + "28") == "6985"  # the challenge was used up
    chip = appendix_d_chip()
    exchange(chip, "00A4040C07A0000002471001")
    exchange(chip, "0084000008")
    exchange(chip, "008200002872C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A728")
    assert chip.authenticated
    # A MAC that does not verify: 6988 in clear, and the session is over.
    assert exchange(chip, "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F700") == "6988"
    assert not chip.authenticated


def test_card_answers_6282_under_mac_past_the_end_and_forgets_everything_on_power_off() -> None:
    chip = appendix_d_chip()
    exchange(chip, "00A4040C07A0000002471001")
    exchange(chip, "0084000008")
    exchange(chip, "008200002872C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A728")
    exchange(chip, "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800")
    sm = chip._sm
    assert sm is not None
    # READ BINARY at offset 16 with Le = 8 on the 22-byte EF.COM, protected by hand with the chip's own session.
    ssc = (sm.ssc + 1).to_bytes(8, "big")
    header = bytes.fromhex("0CB00010") + bytes.fromhex("80000000")
    do97 = bytes.fromhex("970108")
    mac = retail_mac(sm.ks_mac, ssc + header + do97)
    answer = chip.process(bytes.fromhex("0CB000100D") + do97 + b"\x8e\x08" + mac + b"\x00")
    assert answer[-2:] == b"\x62\x82"
    assert b"\x99\x02\x62\x82" in answer  # the status word is protected too
    assert answer[-12:-10] == b"\x8e\x08"
    chip.power_cycle()
    assert not chip.authenticated
    assert exchange(chip, "00A4020C020101") == "6A82"  # back in the MF, no application selected


def test_card_mrz_matches_the_worked_cccd_example() -> None:
    person = dataclasses.replace(
        person_with_everything(),
        id_number="001090012345",
        mrz_name="NGUYEN<<VAN<AN",
        date_of_birth=dt.date(1990, 1, 15),
        sex="M",
        date_of_expiry=dt.date(2030, 1, 15),
    )
    assert person.td1() == (
        "IDVNM0900123450001090012345<<1",
        "9001158M3001156VNM<<<<<<<<<<<8",
        "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<",
    )
    assert bac_keys(person.document_number, person.mrz_birth, person.mrz_expiry) == (
        bytes.fromhex("755b8629c24ad5a7f42ff16231fb0e94"),
        bytes.fromhex("f14926a2cbe06886b3c2f7575745f42f"),
    )


def test_card_dg13_uses_the_published_field_prefixes_and_aa_signs_iso9796_2() -> None:
    person = person_with_everything()
    data = dg13(person)
    assert data.startswith(bytes.fromhex("6D"))
    assert bytes.fromhex("3011020101130C") + person.id_number.encode() in data  # field 1 as on real cards
    assert bytes.fromhex("300F020103130A") + b"14/03/1988" in data  # field 3
    assert bytes.fromhex("300E02010F1309") + b"025931764" in data  # field 15, old CMND
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    challenge = bytes.fromhex("0011223344556677")
    for hash_name in ("sha1", "sha256"):
        signature = iso9796_2_sign(key, challenge, hash_name=hash_name)
        assert len(signature) == 128
        assert iso9796_2_recover(key.public_key(), signature, challenge, hash_name=hash_name)
        assert not iso9796_2_recover(key.public_key(), signature, bytes(8), hash_name=hash_name)


# --- through pcscd ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pcscd() -> Iterator[PcscDaemon]:
    """pcscd as the tests in tests/hw have it: the running one, or ours (stopped by its PID afterwards)."""
    if not pcscd_usable():
        pytest.skip("pcscd and vsmartcard-vpcd are not installed")
    with running_pcscd(wait_for_reader=READER) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, OpenSslPki]:
    base = tmp_path_factory.mktemp("openssl-pki")
    return {
        "rsa": OpenSslPki.create(base / "rsa", kind="rsa"),
        "ec": OpenSslPki.create(base / "ec", kind="ec"),
        "foreign": OpenSslPki.create(base / "foreign", kind="ec", name="Foreign"),
        "rsa-pss": OpenSslPki.create(base / "rsa-pss", kind="rsa-pss"),
        "ec-explicit": OpenSslPki.create(base / "ec-explicit", kind="ec-explicit"),
    }


@pytest.fixture(scope="module")
def with_everything(pkis: dict[str, OpenSslPki]) -> CardImage:
    """A married holder with an old CMND, under the RSA CSCA."""
    return personalise(person_with_everything(), pkis["rsa"])


@pytest.fixture(scope="module")
def without_expiry(pkis: dict[str, OpenSslPki]) -> CardImage:
    """An unmarried holder without old CMND or expiry, both parents in one SEQUENCE, under the EC CSCA."""
    return personalise(person_without_expiry(), pkis["ec"], parents="together")


class Slot:
    """vpcd's second slot: ``play`` places a card (returning once pcscd reports it), ``take`` removes it.

    A card with the ATR of the one already there is swapped in behind the same connection: pcscd powers the card up
    for every reader connection, so the read still meets a fresh chip, and the tests skip pcscd's 400 ms polls.
    """

    def __init__(self) -> None:
        self.link: VpcdLink | None = None

    def play(self, chip: IndependentChip, *, leave_after: int | None = None, mute_after: int | None = None) -> VpcdLink:
        faulty = leave_after is not None or mute_after is not None
        if self.link is not None and self.link.connected and not faulty and self.link.chip.atr == chip.atr:
            self.link.swap(chip)
            return self.link
        self.take()
        link = VpcdLink(chip, port=PORT, leave_after=leave_after, mute_after=mute_after).start()
        self.link = link
        # The ATR is this card's own: a card something else placed on the slot is never mistaken for it.
        self._wait(lambda state, atr: state is ReaderState.CARD_PRESENT and atr == chip.atr)
        return link

    def take(self) -> None:
        link, self.link = self.link, None
        if link is None:
            return
        link.stop()
        self._wait(lambda state, atr: state is ReaderState.EMPTY)
        if link.leave_after is not None or link.mute_after is not None:
            # pcscd 1.9.9 marks a reader empty when a transmit finds the card gone, but its polling thread only
            # notices at its next 400 ms poll; a card placed before that is never powered up. Wait one poll.
            time.sleep(0.5)

    @staticmethod
    def _wait(done: Any) -> None:
        async def watch() -> None:
            async with asyncio.timeout(8):
                async for event in PcscReader(READER, poll_interval=0.05).events():
                    if done(event.state, event.atr):
                        return

        asyncio.run(watch())


@pytest.fixture(scope="module")
def slot(pcscd: PcscDaemon) -> Iterator[Slot]:
    slot = Slot()
    yield slot
    slot.take()


def read(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["card", "read", "--reader", READER, *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not an outcome: show its traceback
    return result.exit_code, result.stdout, result.stderr


def read_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = read(*args, "--json")
    try:
        return code, json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"exit {code}, no JSON document: {out!r} {err!r}")


def id_and_dob(person: Person) -> list[str]:
    return ["--id", person.id_number, "--dob", person.date_of_birth.isoformat()]


def assert_holder(document: dict[str, Any], person: Person) -> None:
    holder = document["holder"]
    for name in HOLDER_FIELDS:
        assert holder[name] == getattr(person, name), name
    assert holder["date_of_birth"] == person.date_of_birth.isoformat()
    assert holder["date_of_issue"] == person.date_of_issue.isoformat()
    assert holder["date_of_expiry"] == (person.date_of_expiry.isoformat() if person.date_of_expiry else None)
    assert document["document"]["no_expiry"] is (person.date_of_expiry is None)
    assert document["document"]["mrz"] == list(person.td1())
    assert document["document"]["document_number"] == person.document_number


def assert_genuine_bac(document: dict[str, Any], link: VpcdLink) -> None:
    assert document["verdict"] == "genuine", (document["reasons"], link.transcript())
    statuses = {name: check["status"] for name, check in document["checks"].items() if name != "qr_match"}
    assert statuses == {
        "passive_auth": "pass",
        "chain": "pass",
        "dg_hashes": "pass",
        "active_auth": "pass",
        "chip_auth": "skipped",  # no DG14 on this card
    }
    assert document["session"]["protocol"] == "BAC"
    # Exact-length reads: the reader never runs past the end of a file.
    reads = [e.response for e in link.trace if e.command[1] == 0xB0]
    assert reads
    assert all(r.endswith(b"\x90\x00") for r in reads)


@pytest.mark.pcscd
def test_genuine_card_read_by_the_cccd_command_from_id_and_birth_date(
    slot: Slot, with_everything: CardImage, tmp_path: Path
) -> None:
    person = with_everything.person
    link = slot.play(IndependentChip(with_everything))
    photo = tmp_path / "face.jpg"
    cccd = Path(sys.executable).with_name("cccd")
    trust = str(with_everything.csca_pem)
    command = [str(cccd), "card", "read", "--reader", READER, *id_and_dob(person), "--trust", trust, "--json"]
    completed = subprocess.run([*command, "--photo", str(photo)], capture_output=True, timeout=60, check=False)
    assert completed.returncode == 0, (completed.stdout.decode(), completed.stderr.decode(), link.transcript())
    document = json.loads(completed.stdout)
    assert_genuine_bac(document, link)
    assert_holder(document, person)
    assert unicodedata.is_normalized("NFC", document["holder"]["full_name"])
    assert document["document"]["sod_data_groups"] == ["DG1", "DG2", "DG13", "DG15"]
    assert document["document"]["csca"]["subject"].startswith("Common Name: Independent CSCA RSA")
    assert photo.read_bytes() == tiny_jpeg()
    session = document["session"]
    assert session["password"] == "MRZ"
    assert session["apdus"] == len(link.trace)


@pytest.mark.pcscd
def test_mrz_lines_open_a_card_without_expiry(slot: Slot, without_expiry: CardImage) -> None:
    person = without_expiry.person
    link = slot.play(IndependentChip(without_expiry))
    code, document = read_json("--mrz", *person.td1(), "--trust", str(without_expiry.csca_pem))
    assert code == 0, link.transcript()
    assert_genuine_bac(document, link)
    assert_holder(document, person)
    assert document["holder"]["spouse_name"] is None
    assert document["holder"]["old_id_number"] is None


@pytest.mark.pcscd
@pytest.mark.parametrize("number", ["document", "id"])
def test_document_number_birth_and_expiry(slot: Slot, without_expiry: CardImage, number: str) -> None:
    person = without_expiry.person
    link = slot.play(IndependentChip(without_expiry))
    given = person.document_number if number == "document" else person.id_number
    code, document = read_json("--doc-number", given, "--dob", person.date_of_birth.isoformat(), "--expiry", "none",
                               "--trust", str(without_expiry.csca_pem))  # fmt: skip
    assert code == 0
    assert_genuine_bac(document, link)
    assert_holder(document, person)


@pytest.mark.pcscd
def test_qr_text_opens_the_card_and_matches_the_chip(slot: Slot, with_everything: CardImage) -> None:
    person = with_everything.person
    link = slot.play(IndependentChip(with_everything))
    code, document = read_json("--qr-text", person.qr_text(), "--trust", str(with_everything.csca_pem))
    assert code == 0
    assert_genuine_bac(document, link)
    assert_holder(document, person)
    qr = document["checks"]["qr_match"]
    assert qr["status"] == "pass"
    assert set(qr["fields"].values()) == {"match"}


@pytest.mark.pcscd
def test_human_output(slot: Slot, with_everything: CardImage) -> None:
    person = with_everything.person
    slot.play(IndependentChip(with_everything))
    code, out, _ = read(*id_and_dob(person), "--trust", str(with_everything.csca_pem))
    assert code == 0
    assert "GENUINE" in out
    assert person.full_name in out
    assert "session: BAC" in out


@pytest.mark.pcscd
def test_clone_is_not_genuine(slot: Slot, with_everything: CardImage) -> None:
    person = with_everything.person
    link = slot.play(IndependentChip(with_everything.cloned()))
    code, document = read_json(*id_and_dob(person), "--trust", str(with_everything.csca_pem))
    assert code == 1, (document, link.transcript())
    assert document["verdict"] == "not_genuine"
    assert document["reasons"] == ["aa_signature_invalid"]
    assert document["checks"]["active_auth"]["status"] == "fail"
    # Everything but the chip's key is the original's: the data verifies, the chip does not.
    assert document["checks"]["dg_hashes"]["status"] == "pass"
    assert document["session"]["protocol"] == "BAC"
    assert any(e.command[1] == 0x88 for e in link.trace)


@pytest.mark.pcscd
def test_wrong_key_is_a_clear_message_and_exit_1(slot: Slot, without_expiry: CardImage) -> None:
    person = without_expiry.person
    link = slot.play(IndependentChip(without_expiry))
    trust = str(without_expiry.csca_pem)
    code, out, err = read("--doc-number", person.document_number, "--dob", "1958-11-03", "--expiry", "none",
                          "--trust", trust)  # fmt: skip
    assert code == 1
    assert "does not open this card" in err
    assert "Traceback" not in out + err
    assert link.trace[-1].response == b"\x63\x00"
    code, document = read_json("--id", person.id_number, "--dob", "1958-11-03", "--trust", trust)
    assert code == 1
    assert document["verdict"] is None
    assert document["error"]["kind"] == "wrong_access_key"
    assert "MRZ key" in document["error"]["message"]


@pytest.mark.pcscd
def test_trust_decides_the_chain(slot: Slot, pkis: dict[str, OpenSslPki], without_expiry: CardImage) -> None:
    person = without_expiry.person
    slot.play(IndependentChip(without_expiry))
    code, document = read_json(*id_and_dob(person), "--trust", str(pkis["foreign"].csca_pem))
    assert code == 1
    assert document["verdict"] == "not_genuine"
    assert "csca_not_found" in document["reasons"]
    code, document = read_json(*id_and_dob(person))
    assert code == 1
    assert document["verdict"] == "incomplete"
    assert document["checks"]["chain"]["reason"] == "no_trust_anchor"
    # Both CSCAs given: the card's own one is found among them.
    code, document = read_json(*id_and_dob(person), "--trust", str(pkis["foreign"].csca_pem),
                               "--trust", str(without_expiry.csca_pem))  # fmt: skip
    assert code == 0
    assert document["verdict"] == "genuine"


SOD_STYLES = {
    "rsa-pss-sod": ("rsa", SodStyle(pss=True)),
    "rsa-pss-certificates": ("rsa-pss", SodStyle()),
    "explicit-curve-certificates": ("ec-explicit", SodStyle()),
    "sha1-hashes": ("ec", SodStyle(hash_name="sha1", md="sha1")),
    "sha512-null-parameters": ("rsa", SodStyle(hash_name="sha512", md="sha512", null_parameters=True)),
    "lds-1.8": ("ec", SodStyle(v1=True)),
    "signer-by-key-id-with-csca": ("rsa", SodStyle(keyid=True, with_csca=True)),
}


@pytest.mark.pcscd
@pytest.mark.parametrize("style", list(SOD_STYLES))
def test_sods_openssl_signs_in_other_ways(slot: Slot, pkis: dict[str, OpenSslPki], style: str) -> None:
    kind, sod = SOD_STYLES[style]
    person = person_with_everything()
    image = personalise(person, pkis[kind], sod=sod)
    link = slot.play(IndependentChip(image))
    code, document = read_json(*id_and_dob(person), "--trust", str(image.csca_pem))
    assert code == 0
    assert_genuine_bac(document, link)
    assert_holder(document, person)


QUIRKS = {
    "no-do99-on-success": Quirks(no_do99_on_success=True),
    "le-up-to-df": Quirks(max_le=0xDF),
    "le-up-to-80": Quirks(max_le=0x80),
    "6700-past-the-end": Quirks(eof_6700=True),
    "select-p2-0c-only": Quirks(select_p2_0c_only=True),
    "select-application-p2-00-only": Quirks(select_aid_p2_00_only=True),
    "select-ef-p1-00-only": Quirks(select_ef_p1_00_only=True),
    "errors-in-clear": Quirks(plain_errors=True),
    "extended-length-in-atr": Quirks(atr_extended_length=True),
    "aa-sha256": Quirks(aa_hash="sha256"),
    "t0-get-response": Quirks(get_response=True),
    "t0-get-response-short-le": Quirks(get_response=True, extended_length=False),
}


@pytest.mark.pcscd
@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_chips_with_habits(slot: Slot, with_everything: CardImage, quirk: str) -> None:
    person = with_everything.person
    link = slot.play(IndependentChip(with_everything, quirks=QUIRKS[quirk]))
    code, document = read_json(*id_and_dob(person), "--trust", str(with_everything.csca_pem))
    assert code == 0, link.transcript()
    assert document["verdict"] == "genuine"
    assert_holder(document, person)


@pytest.mark.pcscd
def test_nfd_text_der_sorted_dg13_and_a_2048_bit_aa_key(slot: Slot, pkis: dict[str, OpenSslPki]) -> None:
    person = person_with_everything()
    image = personalise(person, pkis["ec"], normalisation="NFD", der_set_order=True, aa_bits=2048)
    assert unicodedata.normalize("NFD", person.full_name).encode() in image.files[FID_DG[13]]
    link = slot.play(IndependentChip(image))
    code, document = read_json(*id_and_dob(person), "--trust", str(image.csca_pem))
    assert code == 0
    assert_genuine_bac(document, link)
    assert_holder(document, person)  # NFC again
    internal_authenticate = next(e.command for e in link.trace if e.command[1] == 0x88)
    assert internal_authenticate[4] == 0  # an extended APDU: 256 signature bytes do not fit a short SM answer


@pytest.mark.pcscd
def test_a_2048_bit_aa_key_on_a_chip_without_extended_length(slot: Slot, pkis: dict[str, OpenSslPki]) -> None:
    # Without extended length and without 61xx chaining such a chip cannot answer INTERNAL AUTHENTICATE under secure
    # messaging at all (6700 in clear, then a short answer that cannot hold the signature): the card is reported,
    # with its data, as not genuine because the chip did not sign.
    person = person_with_everything()
    image = personalise(person, pkis["ec"], aa_bits=2048)
    slot.play(IndependentChip(image, quirks=Quirks(extended_length=False)))
    code, document = read_json(*id_and_dob(person), "--trust", str(image.csca_pem))
    assert code == 1
    assert document["verdict"] == "not_genuine"
    assert document["reasons"] == ["aa_refused"]
    assert "6700" in document["checks"]["active_auth"]["message"]
    assert_holder(document, person)


@pytest.mark.pcscd
def test_a_chip_that_announces_extended_length_and_refuses_it_in_clear(slot: Slot, with_everything: CardImage) -> None:
    """The ATR promises extended length, the chip answers an extended READ BINARY with 6700 in clear (secure
    messaging ends): the reader opens it again and reads on with short commands."""
    person = with_everything.person
    link = slot.play(IndependentChip(with_everything, quirks=Quirks(atr_extended_length=True, extended_length=False)))
    code, document = read_json(*id_and_dob(person), "--trust", str(with_everything.csca_pem))
    assert code == 0, link.transcript()
    assert document["verdict"] == "genuine"
    assert_holder(document, person)
    extended = [e for e in link.trace if len(e.command) > 7 and e.command[4] == 0 and e.command[1] == 0xB0]
    assert extended  # it was asked the long way first
    assert extended[0].response == b"\x67\x00"


@pytest.mark.pcscd
def test_a_chip_that_will_not_open_twice_still_gives_its_data(slot: Slot, pkis: dict[str, OpenSslPki]) -> None:
    """Asking active authentication again needs a second BAC; a chip that refuses it must not cost the report."""
    person = person_with_everything()
    image = personalise(person, pkis["ec"], aa_bits=2048)
    link = slot.play(IndependentChip(image, quirks=Quirks(extended_length=False, one_session=True)))
    code, document = read_json(*id_and_dob(person), "--trust", str(image.csca_pem))
    assert code == 1, link.transcript()
    assert document["verdict"] == "not_genuine"
    assert document["reasons"] == ["aa_refused"]
    assert "opening the chip again" in document["checks"]["active_auth"]["message"]
    assert_holder(document, person)


@pytest.mark.pcscd
def test_a_2048_bit_aa_key_on_a_chip_that_chains_long_answers(slot: Slot, pkis: dict[str, OpenSslPki]) -> None:
    """A T=0-style chip: no extended length, but a long answer comes through 61xx and GET RESPONSE. The extended
    INTERNAL AUTHENTICATE it refuses (6700 in clear) must not make a genuine card a clone: the reader opens the chip
    again and asks with a short Le 00."""
    person = person_with_everything()
    image = personalise(person, pkis["ec"], aa_bits=2048)
    link = slot.play(IndependentChip(image, quirks=Quirks(extended_length=False, get_response=True)))
    code, document = read_json(*id_and_dob(person), "--trust", str(image.csca_pem))
    assert code == 0, link.transcript()
    assert document["verdict"] == "genuine"
    assert document["checks"]["active_auth"]["status"] == "pass"
    assert_holder(document, person)
    asked = [e.command for e in link.trace if len(e.command) > 1 and e.command[1] == 0x88]
    assert len(asked) == 2
    assert asked[0][4] == 0  # extended first (the ATR leaves it open), refused
    assert asked[1][4] != 0  # then short, whose 256-byte signature arrives in pieces
    assert asked[1][-1] == 0  # Le 00
    session = document["session"]
    assert session["get_responses"] > 0
    assert session["apdus"] == len(link.trace)  # every exchange on the link, GET RESPONSEs included


@pytest.mark.pcscd
def test_a_birth_date_known_only_by_its_year(slot: Slot, pkis: dict[str, OpenSslPki]) -> None:
    """ICAO 9303-3 prints an unknown day and month of birth as ``<<``; the BAC key is made from them as printed."""
    person = dataclasses.replace(person_with_everything(), birth_day_unknown=True)
    assert person.td1()[1].startswith("88<<<<")
    image = personalise(person, pkis["ec"])
    link = slot.play(IndependentChip(image))
    trust = ["--trust", str(image.csca_pem)]
    code, document = read_json("--mrz", *person.td1(), *trust)
    assert code == 0, link.transcript()
    assert_genuine_bac(document, link)
    assert person.date_of_expiry is not None
    expiry = person.date_of_expiry.isoformat()
    code, document = read_json("--doc-number", person.document_number, "--dob", "1988", "--expiry", expiry, *trust)
    assert code == 0
    assert document["verdict"] == "genuine"


@pytest.mark.pcscd
def test_a_mistyped_mrz_is_bad_input_with_a_reason(slot: Slot, with_everything: CardImage) -> None:
    line1, line2, line3 = with_everything.person.td1()
    typo = line2[:3] + str((int(line2[3]) + 1) % 10) + line2[4:]  # one digit of the birth date, check digit kept
    code, out, err = read("--mrz", line1, typo, line3, "--trust", str(with_everything.csca_pem), "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["kind"] == "bad_input"
    assert "check digit of date_of_birth" in error["message"]
    assert "check what was typed" in err


@pytest.mark.pcscd
def test_every_read_is_a_fresh_session(slot: Slot, with_everything: CardImage) -> None:
    chip = IndependentChip(with_everything)
    link = slot.play(chip)
    args = [*id_and_dob(with_everything.person), "--trust", str(with_everything.csca_pem)]
    sessions = chip.sessions
    first, _ = read_json(*args)
    second, _ = read_json(*args)
    assert (first, second) == (0, 0)
    assert chip.sessions >= sessions + 2  # pcscd powered the card up for each connection
    assert 0x01 in link.controls


@pytest.mark.pcscd
def test_a_card_that_stops_answering_ends_the_read(
    slot: Slot, with_everything: CardImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung chip must not hang the terminal: the command's deadline passes, the read ends like a removal."""
    monkeypatch.setattr(hw._reader_pcsc, "TRANSMIT_TIMEOUT_S", 1.0)
    slot.play(IndependentChip(with_everything), mute_after=10)
    started = time.monotonic()
    code, out, _ = read(*id_and_dob(with_everything.person), "--trust", str(with_everything.csca_pem), "--json")
    assert time.monotonic() - started < 8
    assert code == 3
    error = json.loads(out)["error"]
    assert error["kind"] == "card_removed"
    assert "stopped answering" in error["message"]
    slot.take()  # the card's connection closes: pcscd, blocked in the mute command, lets go of the reader
    link = slot.play(IndependentChip(with_everything))
    code, out, err = read(*id_and_dob(with_everything.person), "--trust", str(with_everything.csca_pem), "--json")
    assert code == 0, (out, err, link.transcript())
    assert json.loads(out)["verdict"] == "genuine"


@pytest.mark.pcscd
def test_card_pulled_mid_read_gives_no_verdict(slot: Slot, with_everything: CardImage) -> None:
    slot.play(IndependentChip(with_everything), leave_after=12)
    code, out, err = read(*id_and_dob(with_everything.person), "--trust", str(with_everything.csca_pem), "--json")
    assert code == 3
    assert json.loads(out)["error"]["kind"] == "card_removed"
    assert "place it" in err


def test_the_sod_lists_what_the_card_carries(with_everything: CardImage) -> None:
    # The card and its EF.SOD agree, so a verdict other than genuine is the reader's doing.
    files = with_everything.files
    assert set(files) == {FID_COM, FID_SOD, FID_DG[1], FID_DG[2], FID_DG[13], FID_DG[15]}
    assert files[FID_SOD][0] == 0x77
    assert files[FID_COM] == ef_com([1, 2, 13, 15])
