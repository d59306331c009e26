"""The QR code printed on Vietnamese chip ID cards: parsing, strict validation and the chip access material.

The code holds UTF-8 text with ``|`` between fields, by position::

    <ID 12 digits>|<old CMND 9 digits or empty>|<full name>|<DOB ddmmyyyy>|<Nam|Nữ>|<residence>|<issue ddmmyyyy>

2021 cards carry those 7 fields; 2024 cards (thẻ Căn cước) append 4 more whose order is not published (usually
empty). Some references document a 6-field form without the old-ID field; it is tolerated.

The QR is not signed and has no checksum of its own beyond the symbol's error correction, so every field is checked
against the others: the ID's province code must be a real one, its century/sex digit must agree with the date of birth
and the sex, its birth-year digits with the year of birth (the structure rule of ``mrtd.id_number_inconsistency``),
and the dates must be real and in order. A payload that fails any check is rejected as a whole with the reason;
nothing is ever half-parsed. The chip access material uses the chip core's own rules (``mrtd.expiry_candidates``).
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from dataclasses import dataclass
from typing import Final

from mrtd import (
    NO_EXPIRY,
    PROVINCE_CODES,
    Holder,
    Sex,
    cccd_can,
    cccd_document_number,
    expiry_candidates,
    id_number_inconsistency,
    mrz_date,
)

# A CCCD payload is a few hundred bytes; a QR code holds at most 2953. Anything far beyond the former is not a CCCD QR.
MAX_PAYLOAD_BYTES: Final = 2048
MAX_NAME_CHARS: Final = 100
MAX_RESIDENCE_CHARS: Final = 400
MAX_EXTRA_FIELD_CHARS: Final = 200

# 12-digit personal ID numbers exist since the Law on Citizen Identification took effect (2016-01-01); no card
# bearing one, and so no CCCD QR, can have been issued before.
FIRST_ISSUE_DATE: Final = dt.date(2016, 1, 1)

_SEX_WORDS: Final[dict[str, Sex]] = {"nam": "M", "nữ": "F"}
_SEX_TEXT: Final[dict[Sex, str]] = {"M": "Nam", "F": "Nữ"}
# Ethnic-minority names use apostrophes and hyphens (H'Hen Niê, Y-Moan); nothing else but letters and spaces.
_NAME_PUNCTUATION: Final = frozenset(" '’-")


class QrForm(enum.StrEnum):
    """Which layout a CCCD QR payload has."""

    CCCD_2021 = "7-field"
    CAN_CUOC_2024 = "11-field"
    WITHOUT_OLD_ID = "6-field"


class QrRejectReason(enum.StrEnum):
    """Why a payload is not accepted as a CCCD QR; the value is stable and goes into JSON output."""

    NOT_TEXT = "not_text"
    TOO_LONG = "too_long"
    FIELD_COUNT = "field_count"
    ID_NUMBER = "id_number"
    PROVINCE_CODE = "province_code"
    OLD_ID_NUMBER = "old_id_number"
    FULL_NAME = "full_name"
    DATE_OF_BIRTH = "date_of_birth"
    SEX = "sex"
    PLACE_OF_RESIDENCE = "place_of_residence"
    DATE_OF_ISSUE = "date_of_issue"
    EXTRA_FIELD = "extra_field"
    ID_INCONSISTENT = "id_inconsistent"


class QrError(Exception):
    """Base class of the QR path's errors: decoding a symbol or accepting its content."""


class CccdQrError(QrError, ValueError):
    """The payload is not a valid CCCD QR. ``reason`` says which check failed; the message never echoes the data."""

    def __init__(self, reason: QrRejectReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.detail = message


@dataclass(frozen=True, slots=True)
class BacInputs:
    """One MRZ key seed for BAC: document number and dates as the chip's MRZ has them (YYMMDD)."""

    document_number: str
    date_of_birth: str
    date_of_expiry: str


@dataclass(frozen=True, slots=True)
class ChipAccess:
    """What opens the chip, derived from the QR so nobody types it.

    ``can`` is the PACE password (last 6 digits of the ID). BAC needs the MRZ's document number (last 9 digits of
    the ID), date of birth and date of expiry; the expiry is not in the QR, so ``expiry_candidates`` lists the dates
    the renewal rules allow, most likely first (None = no expiry, ``991231`` in the MRZ).
    """

    can: str
    document_number: str
    date_of_birth: dt.date
    expiry_candidates: tuple[dt.date | None, ...]

    def bac_inputs(self) -> tuple[BacInputs, ...]:
        """The BAC key seeds to try, in the order of ``expiry_candidates``."""
        dob = mrz_date(self.date_of_birth)
        return tuple(
            BacInputs(self.document_number, dob, NO_EXPIRY if expiry is None else mrz_date(expiry))
            for expiry in self.expiry_candidates
        )


@dataclass(frozen=True, slots=True)
class CccdQr:
    """A validated CCCD QR. Text is NFC; ``sex`` is ``"M"``/``"F"``; dates are real dates in order."""

    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: dt.date
    sex: Sex
    place_of_residence: str
    date_of_issue: dt.date
    form: QrForm
    extra_fields: tuple[str, ...] = ()

    @property
    def province_code(self) -> str:
        return self.id_number[:3]

    @property
    def can(self) -> str:
        """The card access number for PACE: the last 6 digits of the ID."""
        return cccd_can(self.id_number).value

    def chip_access(self) -> ChipAccess:
        return ChipAccess(
            can=self.can,
            document_number=cccd_document_number(self.id_number),
            date_of_birth=self.date_of_birth,
            expiry_candidates=expiry_candidates(self.date_of_birth, issued=self.date_of_issue),
        )

    def to_holder(self) -> Holder:
        """The holder as the QR describes it, for code that works on ``mrtd.Holder``."""
        return Holder(
            id_number=self.id_number,
            old_id_number=self.old_id_number,
            full_name=self.full_name,
            date_of_birth=self.date_of_birth,
            sex=self.sex,
            place_of_residence=self.place_of_residence,
            date_of_issue=self.date_of_issue,
        )

    def to_fields(self) -> dict[str, object]:
        """JSON-ready fields: ISO dates, ``sex`` as ``M``/``F``, ``old_id_number`` null when the card has none."""
        fields: dict[str, object] = {
            "id_number": self.id_number,
            "old_id_number": self.old_id_number,
            "full_name": self.full_name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "place_of_residence": self.place_of_residence,
            "date_of_issue": self.date_of_issue.isoformat(),
            "form": self.form.value,
        }
        if self.form is QrForm.CAN_CUOC_2024:
            fields["extra_fields"] = list(self.extra_fields)
        return fields

    def to_text(self) -> str:
        """The payload in its canonical form (what a card of this form would print)."""
        parts = [
            self.id_number,
            self.old_id_number or "",
            self.full_name,
            self.date_of_birth.strftime("%d%m%Y"),
            _SEX_TEXT[self.sex],
            self.place_of_residence,
            self.date_of_issue.strftime("%d%m%Y"),
        ]
        if self.form is QrForm.WITHOUT_OLD_ID:
            del parts[1]
        elif self.form is QrForm.CAN_CUOC_2024:
            parts.extend(self.extra_fields)
        return "|".join(parts)


def parse_cccd_qr(data: str | bytes, *, today: dt.date | None = None) -> CccdQr:
    """Parse and validate a CCCD QR payload, or raise :class:`CccdQrError` with the reason.

    ``data`` is the symbol's raw bytes (decoded as strict UTF-8) or its text. ``today`` bounds the dates (default:
    the system date); a date of birth or issue after it is rejected.
    """
    if today is None:
        today = dt.date.today()
    text = _to_text(data)
    fields = [field.strip() for field in text.split("|")]
    extras: tuple[str, ...] = ()
    if len(fields) == 7:
        form = QrForm.CCCD_2021
    elif len(fields) == 11:
        form, extras = QrForm.CAN_CUOC_2024, tuple(fields[7:])
    elif len(fields) == 6:
        form = QrForm.WITHOUT_OLD_ID
        fields.insert(1, "")
    else:
        raise CccdQrError(QrRejectReason.FIELD_COUNT, f"{len(fields)} fields; a CCCD QR has 7 or 11 (6 tolerated)")
    id_raw, old_raw, name_raw, dob_raw, sex_raw, residence_raw, issue_raw = fields[:7]

    id_number = _parse_id_number(id_raw)
    old_id_number = _parse_old_id(old_raw)
    full_name = _parse_name(name_raw)
    date_of_birth = _parse_date(dob_raw, QrRejectReason.DATE_OF_BIRTH)
    sex = _parse_sex(sex_raw)
    place_of_residence = _parse_free_text(
        residence_raw, QrRejectReason.PLACE_OF_RESIDENCE, max_chars=MAX_RESIDENCE_CHARS, required=True
    )
    date_of_issue = _parse_date(issue_raw, QrRejectReason.DATE_OF_ISSUE)
    for extra in extras:
        _parse_free_text(extra, QrRejectReason.EXTRA_FIELD, max_chars=MAX_EXTRA_FIELD_CHARS, required=False)

    if date_of_birth > today:
        raise CccdQrError(QrRejectReason.DATE_OF_BIRTH, "date of birth is in the future")
    if date_of_birth.year < 1900:
        raise CccdQrError(QrRejectReason.DATE_OF_BIRTH, "date of birth before 1900")
    # One day of slack: the terminal's clock and the issuing office may sit on different sides of midnight UTC.
    if date_of_issue > today + dt.timedelta(days=1):
        raise CccdQrError(QrRejectReason.DATE_OF_ISSUE, "date of issue is in the future")
    if date_of_issue < FIRST_ISSUE_DATE:
        raise CccdQrError(QrRejectReason.DATE_OF_ISSUE, "date of issue before 12-digit IDs existed (2016)")
    if date_of_issue < date_of_birth:
        raise CccdQrError(QrRejectReason.DATE_OF_ISSUE, "date of issue before the date of birth")
    _check_id_consistency(id_number, date_of_birth, sex)

    return CccdQr(
        id_number=id_number,
        old_id_number=old_id_number,
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=sex,
        place_of_residence=place_of_residence,
        date_of_issue=date_of_issue,
        form=form,
        extra_fields=extras,
    )


def _to_text(data: str | bytes) -> str:
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise CccdQrError(QrRejectReason.TOO_LONG, f"{len(raw)} bytes; a CCCD QR holds far fewer")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CccdQrError(QrRejectReason.NOT_TEXT, "payload is not UTF-8 text") from exc
    else:
        text = data
        if len(text.encode("utf-8", errors="surrogatepass")) > MAX_PAYLOAD_BYTES:
            raise CccdQrError(QrRejectReason.TOO_LONG, "payload is longer than a CCCD QR")
    text = text.removeprefix("\ufeff").strip()
    for char in text:
        if _is_forbidden_char(char):
            raise CccdQrError(QrRejectReason.NOT_TEXT, f"payload contains the control character U+{ord(char):04X}")
    return unicodedata.normalize("NFC", text)


def _is_forbidden_char(char: str) -> bool:
    # Cc control, Cf format (zero-width, bidi overrides), Cs surrogates, Co private use, Cn unassigned; U+FFFD is
    # what a lossy decoder leaves behind.
    return char == "\ufffd" or unicodedata.category(char).startswith("C")


def _is_ascii_digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def _parse_id_number(value: str) -> str:
    if not _is_ascii_digits(value, 12):
        raise CccdQrError(QrRejectReason.ID_NUMBER, "the ID number must be 12 digits")
    if value[:3] not in PROVINCE_CODES:
        raise CccdQrError(QrRejectReason.PROVINCE_CODE, f"{value[:3]} is not a province code")
    return value


def _parse_old_id(value: str) -> str | None:
    if not value:
        return None
    if not _is_ascii_digits(value, 9):
        raise CccdQrError(QrRejectReason.OLD_ID_NUMBER, "the old ID (CMND) number must be 9 digits or empty")
    if value == "000000000":
        raise CccdQrError(QrRejectReason.OLD_ID_NUMBER, "the old ID (CMND) number cannot be all zeros")
    return value


def _parse_name(value: str) -> str:
    if not value:
        raise CccdQrError(QrRejectReason.FULL_NAME, "the name is empty")
    if len(value) > MAX_NAME_CHARS:
        raise CccdQrError(QrRejectReason.FULL_NAME, f"the name is longer than {MAX_NAME_CHARS} characters")
    has_letter = False
    for char in value:
        if char in _NAME_PUNCTUATION:
            continue
        category = unicodedata.category(char)
        if category.startswith("L") and unicodedata.name(char, "").startswith("LATIN"):
            has_letter = True
        elif not category.startswith("M"):
            raise CccdQrError(QrRejectReason.FULL_NAME, "the name has a character that is not a Latin letter")
    if not has_letter:
        raise CccdQrError(QrRejectReason.FULL_NAME, "the name has no letter")
    return value


def _parse_date(value: str, reason: QrRejectReason) -> dt.date:
    if not _is_ascii_digits(value, 8):
        raise CccdQrError(reason, "the date must be 8 digits, ddmmyyyy")
    try:
        return dt.date(int(value[4:]), int(value[2:4]), int(value[:2]))
    except ValueError as exc:
        raise CccdQrError(reason, "not a calendar date") from exc


def _parse_sex(value: str) -> Sex:
    sex = _SEX_WORDS.get(value.casefold())
    if sex is None:
        raise CccdQrError(QrRejectReason.SEX, "sex must be Nam or Nữ")
    return sex


def _parse_free_text(value: str, reason: QrRejectReason, *, max_chars: int, required: bool) -> str:
    if required and not value:
        raise CccdQrError(reason, "the field is empty")
    if len(value) > max_chars:
        raise CccdQrError(reason, f"the field is longer than {max_chars} characters")
    return value


def _check_id_consistency(id_number: str, date_of_birth: dt.date, sex: Sex) -> None:
    problem = id_number_inconsistency(id_number, date_of_birth=date_of_birth, sex=sex)
    if problem is not None:
        raise CccdQrError(QrRejectReason.ID_INCONSISTENT, problem)
