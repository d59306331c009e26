"""Machine readable zone (ICAO Doc 9303-3, -5, -4): check digits, TD1 and TD3 layouts, the CCCD conventions.

A CCCD carries a TD1 zone whose document number is the last 9 digits of the 12-digit personal identification number;
the full number sits in the optional data of line 1 (positions 16-27) with its own check digit at position 30
(cccd-spec §1.1). Every check digit is verified, and a wrong one raises :class:`MRZError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Final

from mrtd._cccd_id import id_century_sex
from mrtd._errors import MRZError

_WEIGHTS = (7, 3, 1)
_ALLOWED = re.compile(r"[0-9A-Z<]*")
NO_EXPIRY: Final = "991231"
"""The MRZ date of expiry of a card without one ("không thời hạn"): MRZ years have two digits, so 31 Dec 2099."""


def _char_value(char: str) -> int:
    if char.isdigit():
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise MRZError(f"character {char!r} is not allowed in a machine readable zone")


def check_digit(field: str) -> str:
    """The ICAO 9303-3 check digit (weights 7, 3, 1; ``<`` counts 0, ``A``..``Z`` 10..35)."""
    total = sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field))
    return str(total % 10)


def mrz_information(document_number: str, date_of_birth: str, date_of_expiry: str) -> str:
    """Document number (padded with ``<`` to 9), DOB and expiry (YYMMDD), each with its check digit: the input of
    the BAC key seed and of PACE's MRZ password (ICAO 9303-11 §9.7.2; a longer number stays whole, App. D.2)."""
    number = document_number.ljust(9, "<")
    return (
        number
        + check_digit(number)
        + date_of_birth
        + check_digit(date_of_birth)
        + date_of_expiry
        + check_digit(date_of_expiry)
    )


class MRZFormat(enum.Enum):
    """The document formats of ICAO 9303: lines × characters."""

    TD1 = (3, 30)
    TD3 = (2, 44)

    def __init__(self, lines: int, width: int) -> None:
        self.lines = lines
        self.width = width


@dataclass(frozen=True, slots=True)
class MRZ:
    """A parsed machine readable zone whose check digits all verified.

    Dates are kept as printed (``YYMMDD``, ``<`` for an unknown part); :meth:`birth_date` and :meth:`expiry_date`
    turn them into dates. ``id_number`` is the 12-digit CCCD number when the zone follows the CCCD layout.
    """

    format: MRZFormat
    document_code: str
    issuing_state: str
    document_number: str
    date_of_birth: str
    sex: str
    date_of_expiry: str
    nationality: str
    surname: str
    given_names: str
    optional_data: str
    optional_data_2: str
    lines: tuple[str, ...]
    id_number: str | None = None

    @property
    def name(self) -> str:
        """Surname then given names, separated by a space, as the zone spells them (no diacritics)."""
        return " ".join(part for part in (self.surname, self.given_names) if part)

    @property
    def is_cccd(self) -> bool:
        return self.id_number is not None

    @property
    def mrz_information(self) -> str:
        """Document number, date of birth and date of expiry with their check digits: the BAC key seed input."""
        return mrz_information(self.document_number, self.date_of_birth, self.date_of_expiry)

    @property
    def has_no_expiry(self) -> bool:
        return self.date_of_expiry == NO_EXPIRY

    def birth_date(self, *, reference: dt.date) -> dt.date | None:
        """The date of birth, or None when the zone leaves it unknown (or names 29 February of a non-leap year).

        The century comes from the CCCD number when there is one (its 4th digit encodes century and sex); otherwise
        a two-digit year after ``reference``'s is taken to be in the previous century.
        """
        if not self.date_of_birth.isdigit():
            return None
        yy = int(self.date_of_birth[:2])
        if self.id_number is not None:
            century, _ = id_century_sex(int(self.id_number[3]))
        else:
            century = 2000 if 2000 + yy <= reference.year else 1900
        return _to_date(century + yy, self.date_of_birth)

    def expiry_date(self) -> dt.date | None:
        """The date of expiry, or None for a card without expiry (``991231``) or an unknown date."""
        if self.has_no_expiry or not self.date_of_expiry.isdigit():
            return None
        return _to_date(2000 + int(self.date_of_expiry[:2]), self.date_of_expiry)


def _to_date(year: int, yymmdd: str) -> dt.date | None:
    try:
        return dt.date(year, int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        # 29 February of a century that is not a leap year: parsing accepted it without knowing the century.
        return None


def _split_lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) == 1:
        single = lines[0]
        for fmt in MRZFormat:
            if len(single) == fmt.lines * fmt.width:
                return [single[i * fmt.width : (i + 1) * fmt.width] for i in range(fmt.lines)]
    return lines


def _verify(field: str, value: str, digit: str, *, allow_filler: bool = False) -> None:
    if allow_filler and digit == "<" and set(value) <= {"<"}:
        return
    if digit != check_digit(value):
        raise MRZError(f"check digit of {field} is {digit!r}, expected {check_digit(value)}", field=field)


def _check_date(field: str, value: str) -> None:
    """Six digits forming a calendar date (any century), or with ``<`` for unknown parts."""
    if value.isdigit():
        try:
            # 2000 is a leap year, so 29 February is accepted whatever the century.
            dt.date(2000, int(value[2:4]), int(value[4:6]))
        except ValueError:
            raise MRZError(f"{field} is not a calendar date", field=field) from None
    elif not re.fullmatch(r"[0-9<]{6}", value):
        raise MRZError(f"{field} is not a date (YYMMDD)", field=field)


def _check_sex(value: str) -> None:
    if value not in ("M", "F", "X", "<"):
        raise MRZError(f"sex {value!r} is not M, F, X or <", field="sex")


def _name(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _parse_td1(lines: list[str]) -> MRZ:
    l1, l2, l3 = lines
    document_code = l1[0:2].rstrip("<")
    issuing_state = l1[2:5].rstrip("<")
    number_field, number_check = l1[5:14], l1[14]
    optional = l1[15:30]
    if number_check == "<":
        # Long document number (ICAO 9303-5 §4.2.4): the overflow and its check digit continue the optional data.
        match = re.match(r"([0-9A-Z]*?)([0-9])<", optional + "<")
        if not match or not match.group(1):
            raise MRZError("long document number has no check digit in the optional data", field="document_number")
        overflow, number_check = match.group(1), match.group(2)
        optional_rest = optional[len(overflow) + 1 :]
    else:
        overflow, optional_rest = "", optional
    # Trailing fillers weigh 0, so the check digit over the padded field equals the one over the number.
    _verify("document_number", number_field + overflow, number_check)
    document_number = (number_field + overflow).rstrip("<")
    date_of_birth, sex, date_of_expiry = l2[0:6], l2[7], l2[8:14]
    _check_date("date_of_birth", date_of_birth)
    _verify("date_of_birth", date_of_birth, l2[6])
    _check_sex(sex)
    _check_date("date_of_expiry", date_of_expiry)
    _verify("date_of_expiry", date_of_expiry, l2[14])
    id_number = _cccd_id_number(l1, document_number) if not overflow else None
    _verify("composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29])
    surname, given = _name(l3)
    return MRZ(
        format=MRZFormat.TD1,
        document_code=document_code,
        issuing_state=issuing_state,
        document_number=document_number,
        date_of_birth=date_of_birth,
        sex=sex,
        date_of_expiry=date_of_expiry,
        nationality=l2[15:18].rstrip("<"),
        surname=surname,
        given_names=given,
        optional_data=optional_rest.rstrip("<"),
        optional_data_2=l2[18:29].rstrip("<"),
        lines=tuple(lines),
        id_number=id_number,
    )


def _cccd_id_number(l1: str, document_number: str) -> str | None:
    """The 12-digit CCCD number of a TD1 line 1 laid out as cccd-spec §1.1, after checking its consistency.

    Position 30 as the ID's check digit is only observed on cards, not written anywhere (ICAO leaves positions 16-30
    to the issuer, and the composite check digit covers them anyway): when it disagrees, the zone is still read, but
    no ID number is taken from it."""
    candidate, filler, digit = l1[15:27], l1[27:29], l1[29]
    if not (l1[2:5] == "VNM" and candidate.isdigit() and filler == "<<" and digit.isdigit()):
        return None
    if digit != check_digit(candidate):
        return None
    if document_number != candidate[-9:]:
        # The message names the fields, never their values: MRZ data is personal and error messages reach logs.
        raise MRZError("the document number is not the last 9 digits of the ID number", field="document_number")
    return candidate


def _parse_td3(lines: list[str]) -> MRZ:
    l1, l2 = lines
    surname, given = _name(l1[5:44])
    document_number = l2[0:9]
    _verify("document_number", document_number, l2[9])
    date_of_birth, sex, date_of_expiry = l2[13:19], l2[20], l2[21:27]
    _check_date("date_of_birth", date_of_birth)
    _verify("date_of_birth", date_of_birth, l2[19])
    _check_sex(sex)
    _check_date("date_of_expiry", date_of_expiry)
    _verify("date_of_expiry", date_of_expiry, l2[27])
    personal_number = l2[28:42]
    _verify("personal_number", personal_number, l2[42], allow_filler=True)
    _verify("composite", l2[0:10] + l2[13:20] + l2[21:43], l2[43])
    return MRZ(
        format=MRZFormat.TD3,
        document_code=l1[0:2].rstrip("<"),
        issuing_state=l1[2:5].rstrip("<"),
        document_number=document_number.rstrip("<"),
        date_of_birth=date_of_birth,
        sex=sex,
        date_of_expiry=date_of_expiry,
        nationality=l2[10:13].rstrip("<"),
        surname=surname,
        given_names=given,
        optional_data=personal_number.rstrip("<"),
        optional_data_2="",
        lines=tuple(lines),
    )


def parse_mrz(text: str) -> MRZ:
    """Parse a TD1 (3 × 30) or TD3 (2 × 44) zone, given as lines or as one string (as DG1 stores it)."""
    lines = _split_lines(text)
    for line in lines:
        if not _ALLOWED.fullmatch(line):
            bad = next(c for c in line if not _ALLOWED.fullmatch(c))
            raise MRZError(f"character {bad!r} is not allowed in a machine readable zone", field="layout")
    shape = (len(lines), {len(line) for line in lines})
    if shape == (3, {30}):
        return _parse_td1(lines)
    if shape == (2, {44}):
        return _parse_td3(lines)
    widths = "/".join(str(len(line)) for line in lines)
    raise MRZError(f"a zone of {len(lines)} lines of {widths} characters is neither TD1 nor TD3", field="layout")
