"""Cross-check of the printed QR against the chip (DG13, completed from DG1).

The QR is unsigned, so it proves nothing by itself; the chip's data is what passive authentication vouches for. A QR
that disagrees with its own card's chip on any field was pasted or forged, and the card is not genuine for the
terminal. A field one side lacks is reported as absent, never as a match.
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from dataclasses import dataclass

from agent._cccd_qr import CccdQr
from mrtd import Check, CheckStatus, Holder


class FieldMatch(enum.StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    ABSENT = "absent"


class QrField(enum.StrEnum):
    """The fields compared, in report order."""

    ID_NUMBER = "id_number"
    OLD_ID_NUMBER = "old_id_number"
    FULL_NAME = "full_name"
    DATE_OF_BIRTH = "date_of_birth"
    SEX = "sex"
    DATE_OF_ISSUE = "date_of_issue"


@dataclass(frozen=True, slots=True)
class FieldCheck:
    field: QrField
    status: FieldMatch
    note: str = ""


@dataclass(frozen=True, slots=True)
class QrMatch:
    """Per-field outcome and the verdict, as the report's ``qr_match`` check (no personal data in it).

    It is an ``mrtd.ExternalCheck``: ``report.with_check("qr_match", match)`` adds it to a chip's report, and the
    report's verdict rule then counts a mismatch as a failure (``cccd card read --qr-text``, the terminal's pipeline).
    """

    fields: tuple[FieldCheck, ...]
    check: Check

    @property
    def status(self) -> CheckStatus:
        return self.check.status

    @property
    def reason(self) -> str:
        return self.check.reason

    @property
    def mismatched(self) -> tuple[QrField, ...]:
        return tuple(check.field for check in self.fields if check.status is FieldMatch.MISMATCH)

    @property
    def genuine(self) -> bool:
        """False when the QR contradicts the chip; a skipped check is not a contradiction."""
        return self.check.status is not CheckStatus.FAIL

    def field(self, name: QrField) -> FieldCheck:
        for check in self.fields:
            if check.field is name:
                return check
        raise KeyError(name)

    def to_json(self) -> dict[str, object]:
        """``{"status", "reason", "message", "fields": {field: "match"|"mismatch"|"absent"}}``."""
        fields: dict[str, str] = {check.field.value: check.status.value for check in self.fields}
        return {**self.check.to_json(), "fields": fields}


def cross_check(qr: CccdQr, holder: Holder) -> QrMatch:
    """Compare the QR with what the chip says about its holder.

    The name is compared only with DG13's full name: give ``report.printed_holder``, whose ``full_name`` never
    comes from DG1 (the MRZ's name has no diacritics, and a name that matches only once diacritics are stripped is a
    different name). Names match after NFC, case folding and whitespace collapsing.
    """
    checks = (
        _compare(QrField.ID_NUMBER, qr.id_number, holder.id_number),
        _compare(QrField.OLD_ID_NUMBER, qr.old_id_number, holder.old_id_number),
        _compare_name(qr.full_name, holder.full_name),
        _compare(QrField.DATE_OF_BIRTH, qr.date_of_birth, holder.date_of_birth),
        _compare(QrField.SEX, qr.sex, holder.sex),
        _compare(QrField.DATE_OF_ISSUE, qr.date_of_issue, holder.date_of_issue),
    )
    mismatched = [check.field.value for check in checks if check.status is FieldMatch.MISMATCH]
    matched = sum(1 for check in checks if check.status is FieldMatch.MATCH)
    if mismatched:
        check = Check.failed(
            f"qr_mismatch:{mismatched[0]}",
            f"the QR code does not match the chip ({', '.join(mismatched)}): pasted or forged QR",
            more=tuple(f"qr_mismatch:{name}" for name in mismatched[1:]),
        )
    elif checks[0].status is not FieldMatch.MATCH:
        check = Check.skipped("qr_no_chip_id", "the chip gave no ID number to compare with the QR code")
    else:
        check = Check.passed("qr_match", f"the QR code matches the chip ({matched} of {len(checks)} fields compared)")
    return QrMatch(fields=checks, check=check)


def _compare(field: QrField, qr_value: str | dt.date | None, chip_value: str | dt.date | None) -> FieldCheck:
    if qr_value is None or chip_value is None or qr_value == "" or chip_value == "":
        return FieldCheck(field, FieldMatch.ABSENT)
    if type(qr_value) is not type(chip_value):
        return FieldCheck(field, FieldMatch.MISMATCH, "different types")
    return FieldCheck(field, FieldMatch.MATCH if qr_value == chip_value else FieldMatch.MISMATCH)


# Names of some ethnic minorities carry an apostrophe (H'Hen Niê): typed as ', ’ or ʼ, it is the same name.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})


def normalise_name(name: str) -> str:
    """NFC, case-folded, whitespace collapsed, one apostrophe: the form in which two spellings of a name are the
    same name."""
    folded = unicodedata.normalize("NFC", name).translate(_APOSTROPHES).casefold()
    # casefold() can decompose (e.g. final sigma, ligatures); bring it back to NFC before comparing.
    return " ".join(unicodedata.normalize("NFC", folded).split())


def _strip_diacritics(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _compare_name(qr_name: str, chip_name: str | None) -> FieldCheck:
    if not chip_name or not chip_name.strip():
        return FieldCheck(QrField.FULL_NAME, FieldMatch.ABSENT, "the chip's DG13 name is missing")
    left, right = normalise_name(qr_name), normalise_name(chip_name)
    if left == right:
        return FieldCheck(QrField.FULL_NAME, FieldMatch.MATCH)
    if _strip_diacritics(left) == _strip_diacritics(right):
        return FieldCheck(QrField.FULL_NAME, FieldMatch.MISMATCH, "the names differ in their diacritics")
    return FieldCheck(QrField.FULL_NAME, FieldMatch.MISMATCH)
