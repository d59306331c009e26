"""The CCCD QR parser: the published layouts, every validation rule, fuzzing, and the chip access material."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import CccdQr, CccdQrError, QrForm, QrRejectReason, parse_cccd_qr
from mrtd import NO_EXPIRY, PROVINCE_CODES, Sex, id_century_sex

TODAY = dt.date(2026, 1, 1)
# The worked example of ../shared/reference/deps.md §5 (fictitious person): 117 characters, 140 UTF-8 bytes.
SAMPLE = (
    "001099012345|123456789|Nguyễn Văn An|01011999|Nam|"
    "Số 1 Đường Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh|15082021"
)


def parse(text: str | bytes) -> CccdQr:
    return parse_cccd_qr(text, today=TODAY)


def reject(text: str | bytes) -> QrRejectReason:
    with pytest.raises(CccdQrError) as info:
        parse(text)
    return info.value.reason


def test_seven_field_form_of_2021_cards() -> None:
    qr = parse(SAMPLE)
    assert qr.form is QrForm.CCCD_2021
    assert qr.id_number == "001099012345"
    assert qr.old_id_number == "123456789"
    assert qr.full_name == "Nguyễn Văn An"
    assert qr.date_of_birth == dt.date(1999, 1, 1)
    assert qr.sex == "M"
    assert qr.place_of_residence == "Số 1 Đường Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh"
    assert qr.date_of_issue == dt.date(2021, 8, 15)
    assert qr.extra_fields == ()
    assert qr.province_code == "001"
    assert PROVINCE_CODES[qr.province_code] == "Hà Nội"


def test_raw_utf8_bytes_are_accepted_like_text() -> None:
    assert parse(SAMPLE.encode("utf-8")) == parse(SAMPLE)


def test_eleven_field_form_of_2024_cards_keeps_its_extra_fields() -> None:
    # As on a 2024 sample: the 4 extra fields empty (…|ddmmyyyy||||), or holding parents' names.
    empty = parse("079304001234||Trần Thị Bích Ngọc|29022004|Nữ|Phường Thảo Điền, Thành phố Thủ Đức|04102024||||")
    assert empty.form is QrForm.CAN_CUOC_2024
    assert empty.old_id_number is None
    assert empty.date_of_birth == dt.date(2004, 2, 29)
    assert empty.extra_fields == ("", "", "", "")
    named = parse("079304001234||Trần Thị Bích Ngọc|29022004|Nữ|Thủ Đức|04102024|||Trần Văn Bảy|Lê Thị Tám")
    assert named.extra_fields == ("", "", "Trần Văn Bảy", "Lê Thị Tám")
    assert named.to_fields()["extra_fields"] == ["", "", "Trần Văn Bảy", "Lê Thị Tám"]


def test_six_field_variant_without_old_id_is_tolerated() -> None:
    qr = parse("001099012345|Nguyễn Văn An|01011999|Nam|Hà Nội|15082021")
    assert qr.form is QrForm.WITHOUT_OLD_ID
    assert qr.old_id_number is None
    assert qr.full_name == "Nguyễn Văn An"


def test_empty_old_id_field_means_no_cmnd() -> None:
    assert parse(SAMPLE.replace("|123456789|", "||")).old_id_number is None


def test_decomposed_text_is_normalised_to_nfc() -> None:
    nfd = unicodedata.normalize("NFD", SAMPLE)
    assert nfd != SAMPLE
    qr = parse(nfd)
    assert qr.full_name == "Nguyễn Văn An"
    assert unicodedata.is_normalized("NFC", qr.place_of_residence)
    assert qr.sex == "M"


def test_female_holder_and_sex_spellings() -> None:
    text = "001199012345||Lê Thị Hoa|01011999|Nữ|Hà Nội|15082021"
    assert parse(text).sex == "F"
    assert parse(text.replace("|Nữ|", "|NỮ|")).sex == "F"
    assert reject(text.replace("|Nữ|", "|Nu|")) is QrRejectReason.SEX
    assert reject(text.replace("|Nữ|", "|F|")) is QrRejectReason.SEX


def test_surrounding_whitespace_and_bom_are_ignored() -> None:
    assert parse("\ufeff" + SAMPLE + "\r\n") == parse(SAMPLE)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", QrRejectReason.FIELD_COUNT),
        ("hello world", QrRejectReason.FIELD_COUNT),
        ("https://example.test/qr?id=1", QrRejectReason.FIELD_COUNT),
        (SAMPLE + "|extra", QrRejectReason.FIELD_COUNT),
        (SAMPLE + "|||", QrRejectReason.FIELD_COUNT),
        (SAMPLE.replace("001099012345", "00109901234"), QrRejectReason.ID_NUMBER),
        (SAMPLE.replace("001099012345", "0010990123456"), QrRejectReason.ID_NUMBER),
        (SAMPLE.replace("001099012345", "00109901234a"), QrRejectReason.ID_NUMBER),
        (SAMPLE.replace("001099012345", "００1099012345"), QrRejectReason.ID_NUMBER),
        (SAMPLE.replace("001099012345", "003099012345"), QrRejectReason.PROVINCE_CODE),
        (SAMPLE.replace("001099012345", "100099012345"), QrRejectReason.PROVINCE_CODE),
        (SAMPLE.replace("|123456789|", "|12345678|"), QrRejectReason.OLD_ID_NUMBER),
        (SAMPLE.replace("|123456789|", "|001099012345|"), QrRejectReason.OLD_ID_NUMBER),
        (SAMPLE.replace("|123456789|", "|000000000|"), QrRejectReason.OLD_ID_NUMBER),
        (SAMPLE.replace("Nguyễn Văn An", ""), QrRejectReason.FULL_NAME),
        (SAMPLE.replace("Nguyễn Văn An", "Nguyễn Văn 4n"), QrRejectReason.FULL_NAME),
        (SAMPLE.replace("Nguyễn Văn An", "阮文安"), QrRejectReason.FULL_NAME),
        (SAMPLE.replace("Nguyễn Văn An", "Nguyễn " * 20), QrRejectReason.FULL_NAME),
        (SAMPLE.replace("01011999", "1011999"), QrRejectReason.DATE_OF_BIRTH),
        (SAMPLE.replace("01011999", "31021999"), QrRejectReason.DATE_OF_BIRTH),
        (SAMPLE.replace("01011999", "01131999"), QrRejectReason.DATE_OF_BIRTH),
        (SAMPLE.replace("01011999", "1999-01-01"), QrRejectReason.DATE_OF_BIRTH),
        (SAMPLE.replace("|Nam|", "||"), QrRejectReason.SEX),
        (
            SAMPLE.replace("Số 1 Đường Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh", ""),
            QrRejectReason.PLACE_OF_RESIDENCE,
        ),
        (SAMPLE.replace("15082021", "15082031"), QrRejectReason.DATE_OF_ISSUE),
        (SAMPLE.replace("15082021", "30022021"), QrRejectReason.DATE_OF_ISSUE),
        (SAMPLE.replace("15082021", "15082015"), QrRejectReason.DATE_OF_ISSUE),
        (SAMPLE.replace("Nguyễn Văn An", "Nguyễn\x00Văn An"), QrRejectReason.NOT_TEXT),
        (SAMPLE.replace("Nguyễn Văn An", "Nguyễn\u200bVăn An"), QrRejectReason.NOT_TEXT),
        (SAMPLE.replace("Nguyễn Văn An", "Nguy\ufffdn Văn An"), QrRejectReason.NOT_TEXT),
    ],
)
def test_invalid_payloads_are_rejected_with_their_reason(text: str, reason: QrRejectReason) -> None:
    assert reject(text) is reason


@pytest.mark.parametrize(
    "text",
    [
        # Century digit says 21st century (2), the date of birth is in the 20th.
        SAMPLE.replace("001099012345", "001299012345"),
        # Sex digit says female (1), the QR says Nam.
        SAMPLE.replace("001099012345", "001199012345"),
        # Birth-year digits say 1998, the date of birth is 1999.
        SAMPLE.replace("001099012345", "001098012345"),
        # A single misread digit in the date of birth's year.
        SAMPLE.replace("01011999", "01011989"),
    ],
)
def test_id_that_disagrees_with_date_of_birth_or_sex_is_rejected(text: str) -> None:
    assert reject(text) is QrRejectReason.ID_INCONSISTENT


def test_dates_in_the_future_or_before_birth_are_rejected() -> None:
    assert reject(SAMPLE.replace("01011999", "01012027").replace("001099", "001227")) is QrRejectReason.DATE_OF_BIRTH
    # Issued before the holder was born (born 2019, card dated 2018).
    text = "001219012345||Nguyễn An|01012019|Nam|Hà Nội|01012018"
    assert reject(text) is QrRejectReason.DATE_OF_ISSUE
    # One day of slack for clocks on either side of midnight.
    assert parse_cccd_qr(SAMPLE.replace("15082021", "02012026"), today=TODAY).date_of_issue == dt.date(2026, 1, 2)


def test_non_utf8_bytes_and_oversized_payloads_are_rejected() -> None:
    assert reject(SAMPLE.encode("utf-16")) is QrRejectReason.NOT_TEXT
    # A single-byte code page's byte where UTF-8 needs three: not UTF-8.
    assert reject(SAMPLE.encode("utf-8").replace("ễ".encode(), b"\xe1")) is QrRejectReason.NOT_TEXT
    assert reject(b"1" * 5000) is QrRejectReason.TOO_LONG
    assert reject("1" * 5000) is QrRejectReason.TOO_LONG


def test_error_message_names_the_reason_and_does_not_echo_personal_data() -> None:
    with pytest.raises(CccdQrError) as info:
        parse(SAMPLE.replace("001099012345", "001299012345"))
    message = str(info.value)
    assert message.startswith("id_inconsistent:")
    assert "001299012345" not in message
    assert "Nguyễn" not in message


def test_ethnic_minority_names_with_apostrophes_and_hyphens() -> None:
    assert parse(SAMPLE.replace("Nguyễn Văn An", "Y-Moan Êban")).full_name == "Y-Moan Êban"
    text = "066199012345||H'Hen Niê|01011999|Nữ|Buôn Ko Tam, Xã Ea Tu, Đắk Lắk|15082021"
    assert parse(text).full_name == "H'Hen Niê"


def test_fields_for_json_and_canonical_text() -> None:
    qr = parse(SAMPLE)
    assert qr.to_fields() == {
        "id_number": "001099012345",
        "old_id_number": "123456789",
        "full_name": "Nguyễn Văn An",
        "date_of_birth": "1999-01-01",
        "sex": "M",
        "place_of_residence": "Số 1 Đường Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh",
        "date_of_issue": "2021-08-15",
        "form": "7-field",
    }
    assert qr.to_text() == SAMPLE
    holder = qr.to_holder()
    assert (holder.id_number, holder.full_name, holder.sex) == ("001099012345", "Nguyễn Văn An", "M")


# --- chip access material ------------------------------------------------------------------------------------------


def test_can_and_bac_document_number_come_from_the_id() -> None:
    access = parse(SAMPLE).chip_access()
    assert access.can == "012345"
    assert access.document_number == "099012345"
    first = access.bac_inputs()[0]
    assert (first.document_number, first.date_of_birth) == ("099012345", "990101")


def qr_of(born: dt.date, issued: dt.date) -> CccdQr:
    """A QR of someone born on ``born`` whose card was issued on ``issued`` (only the dates matter here)."""
    return CccdQr("001099012345", None, "Nguyễn Văn An", born, "M", "Hà Nội", issued, QrForm.CCCD_2021)


def expiry_candidates(born: dt.date, issued: dt.date) -> tuple[dt.date | None, ...]:
    """The expiry dates the terminal derives from a QR to open the chip."""
    return qr_of(born, issued).chip_access().expiry_candidates


@pytest.mark.parametrize(
    ("born", "issued", "expected_first"),
    [
        # Issued at 22: expires on the 25th birthday.
        (dt.date(1999, 1, 1), dt.date(2021, 8, 15), dt.date(2024, 1, 1)),
        # Issued at 31: expires at 40.
        (dt.date(1990, 5, 5), dt.date(2021, 6, 1), dt.date(2030, 5, 5)),
        # Issued at 45: expires at 60.
        (dt.date(1976, 3, 9), dt.date(2021, 3, 1), dt.date(2036, 3, 9)),
        # Issued at 61: no expiry.
        (dt.date(1960, 7, 7), dt.date(2021, 7, 1), None),
        # Issued on the 25th birthday itself (the renewal): next milestone, 40.
        (dt.date(1997, 4, 2), dt.date(2022, 4, 2), dt.date(2037, 4, 2)),
        # Issued within the two years before 25: valid until 40 (Art. 21(2)).
        (dt.date(1997, 4, 2), dt.date(2021, 1, 20), dt.date(2037, 4, 2)),
        # Issued at 58: within two years of 60, so no expiry.
        (dt.date(1963, 9, 9), dt.date(2021, 10, 1), None),
        # A child's thẻ Căn cước (2023 Law): expires at 14.
        (dt.date(2015, 6, 1), dt.date(2024, 8, 1), dt.date(2029, 6, 1)),
    ],
)
def test_expiry_candidates_follow_the_renewal_ages(
    born: dt.date, issued: dt.date, expected_first: dt.date | None
) -> None:
    candidates = expiry_candidates(born, issued)
    assert candidates[0] == expected_first
    assert [b.date_of_expiry for b in qr_of(born, issued).chip_access().bac_inputs()] == [
        "991231" if day is None else day.strftime("%y%m%d") for day in candidates
    ]
    assert len(set(candidates)) == len(candidates)
    assert all(candidate is None or candidate > issued for candidate in candidates)
    # Every renewal birthday after the issue date, and "no expiry", are among the candidates.
    ages = (14, 25, 40, 60) if issued >= dt.date(2024, 7, 1) else (25, 40, 60)
    for age in ages:
        milestone = born.replace(year=born.year + age)
        if milestone > issued:
            assert milestone in candidates
    assert None in candidates


def test_grace_reading_lists_the_plain_reading_second() -> None:
    candidates = expiry_candidates(dt.date(1997, 4, 2), dt.date(2021, 1, 20))
    assert candidates[:2] == (dt.date(2037, 4, 2), dt.date(2022, 4, 2))


def test_bac_expiry_of_a_card_without_expiry_is_991231() -> None:
    qr = parse("001060012345||Phạm Văn Lão|07071960|Nam|Hà Nội|01072021")
    bac = qr.chip_access().bac_inputs()
    assert bac[0].date_of_expiry == NO_EXPIRY == "991231"
    assert bac[0].date_of_birth == "600707"


def test_leap_day_birthdays_get_both_renewal_dates() -> None:
    candidates = expiry_candidates(dt.date(2004, 2, 29), dt.date(2024, 10, 4))
    assert candidates[0] == dt.date(2029, 2, 28)
    assert dt.date(2029, 3, 1) in candidates


# --- fuzzing ------------------------------------------------------------------------------------------------------


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=400), st.binary(max_size=600)))
def test_arbitrary_input_gives_a_valid_card_or_a_typed_error(data: str | bytes) -> None:
    outcome = _parse_or_reason(data)
    if isinstance(outcome, CccdQr):
        _assert_consistent(outcome)
    else:
        assert isinstance(outcome, QrRejectReason)


_FIELD = st.one_of(
    st.text(alphabet="0123456789", min_size=0, max_size=14),
    st.sampled_from(["Nam", "Nữ", "", "Nguyễn Văn An", "01011999", "31122000", "29022001", "001099012345"]),
    st.text(max_size=30),
)


@settings(max_examples=400)
@given(st.lists(_FIELD, min_size=5, max_size=12))
def test_pipe_separated_garbage_gives_a_valid_card_or_a_typed_error(fields: list[str]) -> None:
    outcome = _parse_or_reason("|".join(fields))
    if isinstance(outcome, CccdQr):
        _assert_consistent(outcome)
    else:
        assert isinstance(outcome, QrRejectReason)


def _parse_or_reason(data: str | bytes) -> CccdQr | QrRejectReason:
    """The parsed card, or the reason of the typed error; any other exception propagates and fails the test."""
    try:
        return parse(data)
    except CccdQrError as exc:
        return exc.reason


def _assert_consistent(qr: CccdQr) -> None:
    century, sex = id_century_sex(int(qr.id_number[3]))
    assert qr.id_number[:3] in PROVINCE_CODES
    assert century <= qr.date_of_birth.year < century + 100
    assert qr.sex == sex
    assert qr.date_of_birth <= qr.date_of_issue <= TODAY + dt.timedelta(days=1)
    assert unicodedata.is_normalized("NFC", qr.full_name + qr.place_of_residence)


_VIETNAMESE_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
_WORD = st.text(alphabet=_VIETNAMESE_LETTERS, min_size=1, max_size=7).map(str.capitalize)
_NAME = st.lists(_WORD, min_size=2, max_size=5).map(" ".join).filter(lambda name: len(name) <= 100)
_RESIDENCE = (
    st.text(
        alphabet=st.characters(categories=("L", "N", "Zs", "Pd", "Po"), exclude_characters="|"),
        min_size=1,
        max_size=300,
    )
    .map(lambda text: unicodedata.normalize("NFC", text).strip())
    .filter(bool)
)


@st.composite
def valid_cards(draw: st.DrawFn) -> CccdQr:
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    sex: Sex = "M" if draw(st.booleans()) else "F"
    digit = 2 * ((born.year - 1900) // 100) + (0 if sex == "M" else 1)
    province = draw(st.sampled_from(sorted(PROVINCE_CODES)))
    serial = draw(st.integers(0, 999_999))
    issued = draw(st.dates(min_value=max(born, dt.date(2016, 1, 1)), max_value=TODAY))
    form = draw(st.sampled_from(list(QrForm)))
    old_id = None
    if form is not QrForm.WITHOUT_OLD_ID and draw(st.booleans()):
        old_id = f"{draw(st.integers(1, 999_999_999)):09d}"
    extras: tuple[str, ...] = ()
    if form is QrForm.CAN_CUOC_2024:
        extras = tuple(draw(st.lists(st.one_of(st.just(""), _NAME), min_size=4, max_size=4)))
    return CccdQr(
        id_number=f"{province}{digit}{born.year % 100:02d}{serial:06d}",
        old_id_number=old_id,
        full_name=draw(_NAME),
        date_of_birth=born,
        sex=sex,
        place_of_residence=draw(_RESIDENCE),
        date_of_issue=issued,
        form=form,
        extra_fields=extras,
    )


@settings(max_examples=300)
@given(valid_cards())
def test_valid_cards_round_trip_exactly(card: CccdQr) -> None:
    text = card.to_text()
    assert parse(text) == card
    assert parse(text.encode("utf-8")) == card
    # The same card written decomposed (NFD) reads back as the same NFC values.
    assert parse(unicodedata.normalize("NFD", text)) == card
