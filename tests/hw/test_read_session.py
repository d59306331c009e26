"""A whole read through the in-process reader: every fault mode gives the outcome a terminal must report."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw import CardRemoved, MemoryReader, NoCard
from hw._reader_session import keys_from_id, read_and_verify
from hw.sim import ChipFaults, ChipRemoved, TestPki, VirtualChip, citizen, personalise
from hw.sim._personalise import CardProfile
from mrtd import Can, CommandAPDU, FileId, FileStatus, ResponseAPDU, TrustStore, WrongAccessKey

NOW = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.create(seed="session")


@pytest.fixture(scope="module")
def store(pki: TestPki) -> TrustStore:
    trust = TrustStore()
    trust.add_certificate(pki.csca_cert.public_bytes(serialization.Encoding.DER))
    return trust


def make(pki: TestPki, *faults: str, aa: str = "ec") -> CardProfile:
    return personalise(
        citizen(8), pki=pki, seed="session", faults=ChipFaults.parse(faults), aa_algorithm=aa, portrait_size=5000
    )


async def read(profile: CardProfile, store: TrustStore, *, portrait: bool = False):  # type: ignore[no-untyped-def]
    person = profile.citizen
    keys = keys_from_id(person.id_number, person.date_of_birth, issued=person.date_of_issue)
    return await read_and_verify(MemoryReader(VirtualChip(profile)), keys, trust_store=store, at=NOW, portrait=portrait)


@pytest.mark.parametrize(
    ("faults", "aa", "protocol"),
    [
        ((), "ec", "PACE"),
        ((), "rsa", "PACE"),
        (("no-pace",), "ec", "BAC"),
        (("pace-refused",), "ec", "BAC"),
        (("small-le",), "ec", "PACE"),
        (("no-chip-auth", "no-pace"), "rsa", "BAC"),
    ],
)
async def test_genuine_cards(pki: TestPki, store: TrustStore, faults: tuple[str, ...], aa: str, protocol: str) -> None:
    profile = make(pki, *faults, aa=aa)
    verification = await read(profile, store, portrait=True)
    report = verification.report
    assert report.genuine, report.to_json()["checks"]
    assert verification.result.access.value == protocol
    assert report.checks["active_auth"].reason == "aa_signature_valid"
    expected_ca = "skipped" if "no-chip-auth" in faults else "pass"
    assert report.checks["chip_auth"].status.value == expected_ca
    assert verification.portrait == report.parsed.dg2.faces[0].image
    assert verification.result.files[FileId.DG13] == profile.files[FileId.DG13]


async def test_small_le_chip_costs_more_commands(pki: TestPki, store: TrustStore) -> None:
    normal = await read(make(pki), store, portrait=True)
    small = await read(make(pki, "small-le"), store, portrait=True)
    # A 5 KB DG2 in 223-byte pieces (at least 23 reads) instead of one extended read.
    assert small.result.total.apdus >= normal.result.total.apdus + 22


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        (("clone",), "aa_signature_invalid"),
        (("clone", "no-pace"), "aa_signature_invalid"),
        (("hidden-keys",), "aa_key_missing"),
        (("hidden-keys", "no-pace"), "ca_key_missing"),
        (("changed-dg",), "dg_hash_mismatch:DG13"),
        (("foreign-csca",), "csca_not_found"),
        (("expired-dsc",), "dsc_expired"),
    ],
)
async def test_forgeries_are_not_genuine(pki: TestPki, store: TrustStore, faults: tuple[str, ...], reason: str) -> None:
    report = (await read(make(pki, *faults), store)).report
    assert report.verdict.value == "not_genuine"
    assert reason in report.reasons


async def test_clone_also_fails_chip_authentication(pki: TestPki, store: TrustStore) -> None:
    report = (await read(make(pki, "clone"), store)).report
    assert report.checks["chip_auth"].reason == "ca_failed"


async def test_a_chip_hiding_its_key_files_is_a_clone(pki: TestPki, store: TrustStore) -> None:
    # Every file it returns is signed and unchanged; the SOD lists DG14 and DG15, the chip answers 6A82 for both.
    verification = await read(make(pki, "hidden-keys"), store)
    assert verification.result.file_status[FileId.DG14] is FileStatus.ABSENT
    assert verification.result.file_status[FileId.DG15] is FileStatus.ABSENT
    report = verification.report
    assert report.checks["dg_hashes"].ok
    assert report.verdict.value == "not_genuine"
    assert report.reasons == ("aa_key_missing", "ca_key_missing")


async def test_a_chip_with_no_key_at_all_proves_nothing(pki: TestPki, store: TrustStore) -> None:
    # A card issued without active or chip authentication: the data is signed, but any chip could carry it.
    profile = make(pki, "no-active-auth", "no-chip-auth")
    assert FileId.DG15 not in profile.files
    report = (await read(profile, store)).report
    assert report.checks["dg_hashes"].ok
    assert report.checks["active_auth"].reason == "aa_not_available"
    assert report.checks["chip_auth"].reason == "ca_not_available"
    assert report.verdict.value == "incomplete"
    assert report.reasons == ("chip_not_authenticated",)


async def test_wrong_key_and_removed_card(pki: TestPki, store: TrustStore) -> None:
    with pytest.raises(WrongAccessKey):
        await read(make(pki, "wrong-key"), store)
    with pytest.raises(WrongAccessKey):
        await read(make(pki, "wrong-key", "no-pace"), store)
    with pytest.raises(CardRemoved):
        await read(make(pki, "removed-after=20"), store)
    with pytest.raises(NoCard):
        await read_and_verify(MemoryReader(), [Can("123456")], trust_store=store)


class _SilentOnAA(VirtualChip):
    """A copy that has the files but will not sign: it answers INTERNAL AUTHENTICATE with 6D00."""

    def transmit(self, raw: bytes) -> bytes:
        sm = self.secure_messaging
        if sm is not None and len(raw) > 1 and raw[1] == 0x88:
            self.apdu_count += 1
            sm.unprotect_command(CommandAPDU.decode(raw))
            return sm.protect_response(ResponseAPDU(b"", 0x6D00), ins=0x88).encode()
        return super().transmit(raw)


async def test_a_chip_that_will_not_sign_is_not_genuine(pki: TestPki, store: TrustStore) -> None:
    profile = make(pki, "no-chip-auth", "no-pace")
    person = profile.citizen
    keys = keys_from_id(person.id_number, person.date_of_birth, issued=person.date_of_issue)
    verification = await read_and_verify(MemoryReader(_SilentOnAA(profile)), keys, trust_store=store, at=NOW)
    assert verification.report.verdict.value == "not_genuine"
    assert verification.report.checks["active_auth"].reason == "aa_refused"
    assert verification.report.reasons == ("aa_refused",)


class _BehindAShortApduReader(VirtualChip):
    """A chip whose ATR announces extended length, read through a reader that cannot pass extended APDUs: the
    command fails at the transport, with no status word, as if the card had left the field (it has not)."""

    extended_attempts = 0

    def transmit(self, raw: bytes) -> bytes:
        if len(raw) >= 7 and raw[4] == 0x00:
            self.extended_attempts += 1
            raise ChipRemoved()
        return super().transmit(raw)


async def test_a_reader_that_fails_extended_commands_gets_short_ones(pki: TestPki, store: TrustStore) -> None:
    profile = make(pki)
    chip = _BehindAShortApduReader(profile)
    reader = MemoryReader(chip)
    async with reader.connect() as connection:
        assert connection.extended_length  # what the ATR says
    person = profile.citizen
    keys = keys_from_id(person.id_number, person.date_of_birth, issued=person.date_of_issue)
    steps: list[str] = []
    verification = await read_and_verify(reader, keys, trust_store=store, at=NOW, portrait=True, progress=steps.append)
    assert verification.report.genuine
    assert verification.portrait == verification.report.parsed.dg2.faces[0].image
    assert chip.extended_attempts == 1
    assert "reading again with short commands" in steps
    # Told to use extended length, the read does not second-guess it.
    with pytest.raises(CardRemoved):
        await read_and_verify(reader, keys, trust_store=store, at=NOW, extended_length=True)


@pytest.fixture(scope="module")
def plain_profile(pki: TestPki) -> CardProfile:
    return make(pki)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    commands=st.lists(
        st.one_of(
            st.binary(min_size=0, max_size=300),
            # Well-formed headers of the instructions the chip knows, with random bodies.
            st.tuples(
                st.sampled_from([0x00, 0x0C, 0x10]),
                st.sampled_from([0xA4, 0xB0, 0xB1, 0x84, 0x82, 0x22, 0x86, 0x88]),
                st.binary(min_size=2, max_size=2),
                st.binary(max_size=80),
            ).map(lambda t: bytes([t[0], t[1]]) + t[2] + (bytes([len(t[3])]) + t[3] if t[3] else b"")),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_hostile_commands_never_break_the_chip(plain_profile: CardProfile, commands: list[bytes]) -> None:
    chip = VirtualChip(plain_profile)
    chip.power_on()
    for command in commands:
        try:
            response = chip.transmit(command)
        except ChipRemoved:  # pragma: no cover - no removal fault here
            pytest.fail("the chip left the field without a removal fault")
        assert len(response) >= 2
