"""DG13, the Vietnamese CCCD profile (cccd-spec §4): the holder's civil data, field by field.

Layout: ``6D { SEQUENCE { INTEGER version, OID 1.0.10646.1.0.8, SET OF SEQUENCE { INTEGER n, value... } } }``.
No public specification exists, so the parser follows what every community decoder agrees on and tolerates where
they disagree:

* fields are found by their number ``n``, never by position (a holder without an old CMND has no field 15);
* field 13 (parents) is ``SEQ { n, SEQ { father }, SEQ { mother } }`` on sample cards and ``SEQ { n, SEQ { father,
  mother } }`` in one decoder; every text leaf under the field is collected in order, so both layouts read the same;
* fields this module does not know (16, or anything new on 2024 cards) are kept raw;
* text is normalised to NFC (cards may store NFD), and the 10-character dates become ``datetime.date``.

Dates: ``dd/mm/yyyy`` is what readers display; ``dd-mm-yyyy``, ``dd.mm.yyyy`` and ISO ``yyyy-mm-dd`` / ``yyyy/mm/dd``
are accepted too, since the separator is unconfirmed and all fit the 10-character field; so are the QR code's
``ddmmyyyy`` and, with a separator, a one-digit day or month (``3/7/1985``). A day or month of ``00``
(holders whose exact birthday is unknown) or a bare year leaves the date unset but keeps the text. "Không thời hạn"
(and 31/12/2099, the chip's ``991231`` convention) means the card does not expire.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from mrtd._errors import ParseError
from mrtd._files import FileId
from mrtd._holder import Holder, Sex
from mrtd._lds import unwrap
from mrtd._oids import decode_integer, decode_oid
from mrtd._tlv import TLV, parse_all

DG13_OID = "1.0.10646.1.0.8"
_INTEGER, _OID, _SEQUENCE, _SET = 0x02, 0x06, 0x30, 0x31
_UTF8, _PRINTABLE, _T61, _IA5, _BMP, _UNIVERSAL = 0x0C, 0x13, 0x14, 0x16, 0x1E, 0x1C
_STRING_TAGS = (_UTF8, _PRINTABLE, _T61, _IA5, _BMP, _UNIVERSAL)

FIELD_ID_NUMBER = 1
FIELD_FULL_NAME = 2
FIELD_DATE_OF_BIRTH = 3
FIELD_SEX = 4
FIELD_NATIONALITY = 5
FIELD_ETHNICITY = 6
FIELD_RELIGION = 7
FIELD_PLACE_OF_ORIGIN = 8
FIELD_PLACE_OF_RESIDENCE = 9
FIELD_IDENTIFYING_MARKS = 10
FIELD_DATE_OF_ISSUE = 11
FIELD_DATE_OF_EXPIRY = 12
FIELD_PARENTS = 13
FIELD_SPOUSE = 14
FIELD_OLD_ID_NUMBER = 15
_KNOWN_TEXT_FIELDS = frozenset(range(1, 13)) | {FIELD_OLD_ID_NUMBER}

# With a separator the day and month may be one digit (3/7/1985), as encoders that do not pad write them.
_DAY_FIRST = re.compile(
    r"(?P<d>\d{1,2})(?P<s>[/.\-])(?P<m>\d{1,2})(?P=s)(?P<y>\d{4})|(?P<d2>\d{2})(?P<m2>\d{2})(?P<y2>\d{4})"
)
_YEAR_FIRST = re.compile(
    r"(?P<y>\d{4})(?P<s>[/.\-])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})|(?P<y2>\d{4})(?P<m2>\d{2})(?P<d2>\d{2})"
)
# Births from the oldest living holders to expiries on the 60th birthday of this century's children.
_PLAUSIBLE_YEARS = range(1880, 2200)
_NO_EXPIRY_TEXTS = frozenset({"không thời hạn", "khong thoi han"})
_SEXES: dict[str, Sex] = {"nam": "M", "nữ": "F", "nu": "F", "m": "M", "f": "F", "male": "M", "female": "F"}


@dataclass(frozen=True, slots=True)
class DG13Field:
    """One numbered field: its text leaves in order (NFC) and its encoding, kept for fields nobody decodes yet."""

    number: int
    texts: tuple[str, ...]
    encoded: bytes

    @property
    def text(self) -> str | None:
        """The first non-empty text leaf, or None."""
        return next((t for t in self.texts if t), None)


@dataclass(frozen=True, slots=True)
class DG13:
    """The decoded fields; the typed attributes are None when the card does not carry the field."""

    version: int
    oid: str
    fields: tuple[DG13Field, ...]
    id_number: str | None = None
    full_name: str | None = None
    date_of_birth: dt.date | None = None
    date_of_birth_text: str | None = None
    sex: Sex | None = None
    sex_text: str | None = None
    nationality: str | None = None
    ethnicity: str | None = None
    religion: str | None = None
    place_of_origin: str | None = None
    place_of_residence: str | None = None
    identifying_marks: str | None = None
    date_of_issue: dt.date | None = None
    date_of_issue_text: str | None = None
    date_of_expiry: dt.date | None = None
    date_of_expiry_text: str | None = None
    no_expiry: bool = False
    father_name: str | None = None
    mother_name: str | None = None
    spouse_name: str | None = None
    old_id_number: str | None = None
    problems: tuple[str, ...] = ()
    """Fields present but unreadable (a date in no known form); their text is kept in the ``*_text`` attributes."""

    def field(self, number: int) -> DG13Field | None:
        return next((f for f in self.fields if f.number == number), None)

    @property
    def unknown_fields(self) -> tuple[DG13Field, ...]:
        return tuple(f for f in self.fields if f.number > FIELD_OLD_ID_NUMBER)

    def to_holder(self) -> Holder:
        return Holder(
            id_number=self.id_number,
            old_id_number=self.old_id_number,
            full_name=self.full_name,
            date_of_birth=self.date_of_birth,
            sex=self.sex,
            nationality=self.nationality,
            ethnicity=self.ethnicity,
            religion=self.religion,
            place_of_origin=self.place_of_origin,
            place_of_residence=self.place_of_residence,
            identifying_marks=self.identifying_marks,
            date_of_issue=self.date_of_issue,
            date_of_expiry=None if self.no_expiry else self.date_of_expiry,
            father_name=self.father_name,
            mother_name=self.mother_name,
            spouse_name=self.spouse_name,
        )


def _decode_text(tlv: TLV) -> str:
    try:
        if tlv.tag == _BMP:
            text = tlv.value.decode("utf-16-be")
        elif tlv.tag == _UNIVERSAL:
            text = tlv.value.decode("utf-32-be")
        elif tlv.tag == _T61:
            # T.61 is in practice Latin-1 in the wild; Vietnamese text never uses it.
            text = tlv.value.decode("latin-1")
        else:
            # PrintableString and IA5String should be ASCII; a mis-tagged UTF-8 value is read as what it is.
            text = tlv.value.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(f"DG13 text (tag {tlv.tag:02X}) is not valid in its encoding") from None
    return unicodedata.normalize("NFC", text).strip()


def _texts(values: list[TLV], depth: int = 0) -> list[str]:
    if depth > 4:
        raise ParseError("DG13 field values are nested too deeply")
    out: list[str] = []
    for value in values:
        if value.tag in _STRING_TAGS:
            out.append(_decode_text(value))
        elif value.tag in (_SEQUENCE, _SET):
            out.extend(_texts(value.children(), depth + 1))
    return out


def _parse_field(entry: TLV) -> DG13Field:
    if entry.tag != _SEQUENCE:
        raise ParseError(f"DG13 field is tag {entry.tag:02X}, not a SEQUENCE")
    items = entry.children()
    if not items or items[0].tag != _INTEGER:
        raise ParseError("DG13 field does not start with its number (INTEGER)")
    number = decode_integer(items[0].value)
    if not 1 <= number <= 255:
        raise ParseError(f"DG13 field number {number} is out of range")
    values = items[1:]
    if number in _KNOWN_TEXT_FIELDS and values and values[0].tag not in _STRING_TAGS:
        raise ParseError(f"DG13 field {number} holds tag {values[0].tag:02X}, not text")
    return DG13Field(number=number, texts=tuple(_texts(values)), encoded=entry.encode())


def parse_dg13_date(text: str, *, field: str = "date") -> dt.date | None:
    """A 10-character DG13 date; None for a partial date (``00`` day or month, or a bare year)."""
    if re.fullmatch(r"\d{4}", text):
        return None
    # Cards write dd/mm/yyyy; other encoders use the QR code's ddmmyyyy or ISO order. Day first wins when both
    # readings of an 8-digit string are dates, as Vietnamese documents write day first; a reading whose year no
    # holder's date can have (20120305 read day first is the year 305) is no reading.
    candidates: list[tuple[int, int, int]] = []
    for pattern in (_DAY_FIRST, _YEAR_FIRST):
        if match := pattern.fullmatch(text):
            parts = {k: v for k, v in match.groupdict().items() if v is not None}
            year, month, day = (parts.get(k) or parts[k + "2"] for k in ("y", "m", "d"))
            candidates.append((int(year), int(month), int(day)))
    if not candidates:
        raise ParseError(f"DG13 {field} is not a date (dd/mm/yyyy)")
    for year, month, day in candidates:
        if year not in _PLAUSIBLE_YEARS:
            continue
        if day == 0 or month == 0:
            return None
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    raise ParseError(f"DG13 {field} is not a calendar date")


def _sex(text: str | None) -> Sex | None:
    if text is None:
        return None
    return _SEXES.get(text.casefold())


def _is_no_expiry(text: str) -> bool:
    return text.casefold() in _NO_EXPIRY_TEXTS


def parse_dg13(data: bytes) -> DG13:
    """Decode DG13 (tag ``6D``) in the Vietnamese profile."""
    top = unwrap(data, FileId.DG13)
    outer = parse_all(top.value)
    if len(outer) != 1 or outer[0].tag != _SEQUENCE:
        raise ParseError("DG13 does not hold one SEQUENCE")
    items = outer[0].children()
    if len(items) < 3 or items[0].tag != _INTEGER or items[1].tag != _OID or items[2].tag not in (_SET, _SEQUENCE):
        raise ParseError("DG13 is not SEQUENCE { version, OID, SET OF field }")
    version = decode_integer(items[0].value)
    oid = decode_oid(items[1].value)
    fields: list[DG13Field] = []
    for container in items[2:]:
        if container.tag not in (_SET, _SEQUENCE):
            raise ParseError(f"DG13 holds tag {container.tag:02X} where the fields belong")
        fields.extend(_parse_field(entry) for entry in container.children())
    numbers = [f.number for f in fields]
    if len(numbers) != len(set(numbers)):
        duplicate = next(n for n in numbers if numbers.count(n) > 1)
        raise ParseError(f"DG13 has field {duplicate} twice")
    by_number = {f.number: f for f in fields}

    def text(number: int) -> str | None:
        found = by_number.get(number)
        return found.text if found else None

    problems: list[str] = []

    def date(number: int, name: str) -> dt.date | None:
        # One unreadable date must not cost the holder's other fields: keep its text and say what was wrong.
        value = text(number)
        if not value:
            return None
        try:
            return parse_dg13_date(value, field=name)
        except ParseError as exc:
            problems.append(str(exc))
            return None

    expiry_text = text(FIELD_DATE_OF_EXPIRY)
    no_expiry = expiry_text is not None and _is_no_expiry(expiry_text)
    expiry = None if no_expiry else date(FIELD_DATE_OF_EXPIRY, "date of expiry")
    if expiry == dt.date(2099, 12, 31):
        no_expiry, expiry = True, None
    parents = by_number.get(FIELD_PARENTS)
    # Positions matter: an empty father leaf must not shift the mother's name into the father's place.
    parent_names = [t or None for t in parents.texts] if parents else []
    sex_text = text(FIELD_SEX)
    return DG13(
        version=version,
        oid=oid,
        fields=tuple(sorted(fields, key=lambda f: f.number)),
        id_number=text(FIELD_ID_NUMBER),
        full_name=text(FIELD_FULL_NAME),
        date_of_birth=date(FIELD_DATE_OF_BIRTH, "date of birth"),
        date_of_birth_text=text(FIELD_DATE_OF_BIRTH),
        sex=_sex(sex_text),
        sex_text=sex_text,
        nationality=text(FIELD_NATIONALITY),
        ethnicity=text(FIELD_ETHNICITY),
        religion=text(FIELD_RELIGION),
        place_of_origin=text(FIELD_PLACE_OF_ORIGIN),
        place_of_residence=text(FIELD_PLACE_OF_RESIDENCE),
        identifying_marks=text(FIELD_IDENTIFYING_MARKS),
        date_of_issue=date(FIELD_DATE_OF_ISSUE, "date of issue"),
        date_of_issue_text=text(FIELD_DATE_OF_ISSUE),
        date_of_expiry=expiry,
        date_of_expiry_text=expiry_text,
        no_expiry=no_expiry,
        father_name=parent_names[0] if parent_names else None,
        mother_name=parent_names[1] if len(parent_names) > 1 else None,
        spouse_name=text(FIELD_SPOUSE),
        old_id_number=text(FIELD_OLD_ID_NUMBER),
        problems=tuple(problems),
    )
