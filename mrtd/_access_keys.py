"""Access keys that open a chip: the CAN, the MRZ key (BAC and PACE), and the CCCD conventions that derive them.

ICAO 9303-11 §9.7: BAC derives K_enc/K_mac from SHA-1 of the "MRZ information" (document number, date of birth and
date of expiry, each with its check digit); PACE derives K_π = KDF(f(π), 3) where f is SHA-1 of that same string for
the MRZ and the raw ISO 8859-1 characters for a CAN or PIN.

A Vietnamese CCCD uses the last 9 digits of the 12-digit ID as the MRZ document number and its last 6 digits as the
CAN. The expiry date is not printed in the QR code, but the law fixes it: the card is renewed at 25, 40 and 60 (and
at 14 for cards issued under the 2023 Law on Identification), a card issued within two years of a renewal age stays
valid until the next one, and a card issued after 58 never expires (``991231`` in the MRZ). ``expiry_candidates``
turns that rule into the ordered list of dates a terminal tries, so the chip opens from the QR code alone.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from mrtd._crypto import CipherSuite, KdfCounter, kdf
from mrtd._errors import MRZError
from mrtd._mrz import NO_EXPIRY, mrz_information

# Cards issued from this day under the 2023 Law on Identification are renewed at 14 as well.
IDENTIFICATION_LAW_START: Final = dt.date(2024, 7, 1)
_RENEWAL_AGES_2014: Final = (25, 40, 60)
_RENEWAL_AGES_2023: Final = (14, 25, 40, 60)
# A card issued within this many years before a renewal age stays valid until the next one (Art. 21(2) of both laws).
_GRACE_YEARS: Final = 2

_MRZ_FIELD = re.compile(r"[0-9A-Z<]+")
_YYMMDD = re.compile(r"[0-9]{2}(?:<<<<|[0-9]{2}<<|[0-9]{4})|<{6}")


class PasswordType(enum.IntEnum):
    """The password reference of MSE:Set AT for PACE (ICAO 9303-11 §4.4.4.1, BSI TR-03110)."""

    MRZ = 1
    CAN = 2
    PIN = 3
    PUK = 4

    @property
    def label(self) -> str:
        """How a message names the password: ``MRZ key``, ``CAN``, ``PIN`` or ``PUK``."""
        return "MRZ key" if self is PasswordType.MRZ else self.name


def _digits(value: str, *, length: int | tuple[int, int], what: str) -> str:
    low, high = (length, length) if isinstance(length, int) else length
    if not (value.isascii() and value.isdigit() and low <= len(value) <= high):
        size = str(low) if low == high else f"{low} to {high}"
        raise MRZError(f"{what} must be {size} digits")
    return value


@dataclass(frozen=True, slots=True)
class Can:
    """The card access number printed on the card (6 digits; on a CCCD the last 6 digits of the ID)."""

    value: str

    def __post_init__(self) -> None:
        _digits(self.value, length=6, what="a CAN")

    @property
    def password_type(self) -> PasswordType:
        return PasswordType.CAN

    def pace_secret(self) -> bytes:
        return self.value.encode("latin-1")

    def __repr__(self) -> str:
        return "Can(******)"


@dataclass(frozen=True, slots=True)
class Pin:
    """A PIN used as PACE password (eID cards; the BSI worked example uses one). Not used by CCCD terminals."""

    value: str

    def __post_init__(self) -> None:
        _digits(self.value, length=(4, 12), what="a PIN")

    @property
    def password_type(self) -> PasswordType:
        return PasswordType.PIN

    def pace_secret(self) -> bytes:
        return self.value.encode("latin-1")

    def __repr__(self) -> str:
        return "Pin(****)"


def _check_date(value: str, what: str) -> str:
    """YYMMDD as the MRZ prints it; ICAO 9303-3 fills an unknown day, or month and day, with ``<`` (holders who
    know only their year of birth), and the key is derived from those characters as printed."""
    if not _YYMMDD.fullmatch(value):
        raise MRZError(f"the {what} must be six digits YYMMDD (with '<' for an unknown day or month)")
    if value != NO_EXPIRY:
        month, day = value[2:4], value[4:6]
        if (month != "<<" and not 1 <= int(month) <= 12) or (day != "<<" and not 1 <= int(day) <= 31):
            raise MRZError(f"the {what} {value[:2]}-{value[2:4]}-{value[4:]} is not a date")
    return value


@dataclass(frozen=True, slots=True)
class BacKeys:
    """The document basic access keys K_enc and K_mac (3DES, parity adjusted)."""

    k_enc: bytes
    k_mac: bytes

    def __repr__(self) -> str:
        return "BacKeys(...)"


@dataclass(frozen=True, slots=True)
class MrzKey:
    """Document number, date of birth and date of expiry (YYMMDD) as the chip's MRZ has them.

    A document number of 9 characters or fewer is padded with ``<``; a longer one (ICAO 9303-11 App. D.2: TD1 numbers
    continued in the optional data) is used whole, followed by its own check digit.
    """

    document_number: str
    date_of_birth: str
    date_of_expiry: str

    def __post_init__(self) -> None:
        number = self.document_number.strip().upper().rstrip("<")
        if not number or not _MRZ_FIELD.fullmatch(number):
            raise MRZError("the document number may hold only digits, capital letters and '<'")
        if len(number) > 22:
            raise MRZError("the document number is longer than an MRZ can hold")
        object.__setattr__(self, "document_number", number)
        _check_date(self.date_of_birth, "date of birth")
        _check_date(self.date_of_expiry, "date of expiry")

    @property
    def password_type(self) -> PasswordType:
        return PasswordType.MRZ

    @property
    def mrz_information(self) -> str:
        """Document number, DOB and expiry, each followed by its check digit (ICAO 9303-11 App. D.2)."""
        return mrz_information(self.document_number, self.date_of_birth, self.date_of_expiry)

    def key_seed(self) -> bytes:
        """K_seed: the first 16 bytes of SHA-1(MRZ information)."""
        return hashlib.sha1(self.mrz_information.encode("ascii")).digest()[:16]  # noqa: S324 - mandated by ICAO

    def bac_keys(self) -> BacKeys:
        seed = self.key_seed()
        return BacKeys(kdf(seed, KdfCounter.ENC, CipherSuite.DES3), kdf(seed, KdfCounter.MAC, CipherSuite.DES3))

    def pace_secret(self) -> bytes:
        """f(π) for the MRZ: the full SHA-1 of the MRZ information (ICAO 9303-11 §9.7.3)."""
        return hashlib.sha1(self.mrz_information.encode("ascii")).digest()  # noqa: S324 - mandated by ICAO

    @classmethod
    def for_cccd(cls, id_number: str, date_of_birth: dt.date, date_of_expiry: dt.date | None) -> MrzKey:
        """The MRZ key of a CCCD: last 9 digits of the ID; ``None`` expiry is ``991231``."""
        return cls(
            cccd_document_number(id_number),
            mrz_date(date_of_birth),
            NO_EXPIRY if date_of_expiry is None else mrz_date(date_of_expiry),
        )

    def __repr__(self) -> str:
        # An MRZ key is personal data: keep it out of logs and tracebacks.
        return "MrzKey(...)"


AccessKey = Can | MrzKey | Pin
"""Anything that opens a chip. BAC needs an MrzKey; PACE takes any of them."""


def pace_password_key(key: AccessKey, suite: CipherSuite) -> bytes:
    """K_π = KDF(f(π), 3) for the cipher of the chosen PACE protocol."""
    return kdf(key.pace_secret(), KdfCounter.PACE, suite)


def mrz_date(date: dt.date) -> str:
    """A date as the MRZ writes it: YYMMDD."""
    return date.strftime("%y%m%d")


def _cccd_id(id_number: str) -> str:
    return _digits(id_number.strip(), length=12, what="a CCCD personal ID number")


def cccd_document_number(id_number: str) -> str:
    """The MRZ document number of a CCCD: the last 9 digits of the 12-digit personal ID number."""
    return _cccd_id(id_number)[3:]


def cccd_can(id_number: str) -> Can:
    """The CAN of a CCCD: the last 6 digits of the 12-digit personal ID number."""
    return Can(_cccd_id(id_number)[6:])


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year: the card shows 28 February (1 March is tried last)
        return day.replace(year=day.year + years, day=28)


def _renewal_ages(issued: dt.date | None, date_of_birth: dt.date) -> tuple[int, ...]:
    if issued is not None:
        return _RENEWAL_AGES_2023 if issued >= IDENTIFICATION_LAW_START else _RENEWAL_AGES_2014
    # Without the issue date, the age-14 renewal is possible only if the 14th birthday is after the 2023 law began.
    if _add_years(date_of_birth, 14) > IDENTIFICATION_LAW_START:
        return _RENEWAL_AGES_2023
    return _RENEWAL_AGES_2014


def expiry_candidates(
    date_of_birth: dt.date, *, issued: dt.date | None = None, today: dt.date | None = None
) -> tuple[dt.date | None, ...]:
    """The dates of expiry a CCCD can carry, in the order a terminal should try them (None = no expiry, ``991231``).

    With the issue date: the statutory expiry first (the first renewal birthday after issue, or the next one when the
    card was issued within two years before it; None when issued at 58 or later), then the other renewal birthdays
    after the issue date. Without it: the renewal birthdays after ``today`` (soonest first), then no expiry, then the
    earlier ones, latest first (an expired card); without ``today`` either, the renewal birthdays in order, then no
    expiry. A holder born on 29 February is also tried with 1 March, last.
    """
    ages = _renewal_ages(issued, date_of_birth)
    milestones = [_add_years(date_of_birth, age) for age in ages]
    ordered: list[dt.date | None]
    if issued is not None:
        upcoming: list[dt.date | None] = [day for day in milestones if day > issued]
        upcoming.append(None)
        first = upcoming[0]
        statutory = first
        if first is not None and issued >= _add_years(first, -_GRACE_YEARS):
            statutory = upcoming[1]
        ordered = [statutory, first, *upcoming]
    elif today is not None:
        future = [day for day in milestones if day > today]
        past = [day for day in reversed(milestones) if day <= today]
        ordered = [*future, None, *past]
    else:
        ordered = [*milestones, None]
    unique: list[dt.date | None] = []
    for candidate in ordered:
        if candidate not in unique:
            unique.append(candidate)
    if (date_of_birth.month, date_of_birth.day) == (2, 29):
        unique += [
            day + dt.timedelta(days=1) for day in list(unique) if day is not None and (day.month, day.day) == (2, 28)
        ]
    return tuple(unique)


def cccd_mrz_keys(
    id_number: str, date_of_birth: dt.date, *, issued: dt.date | None = None, today: dt.date | None = None
) -> tuple[MrzKey, ...]:
    """The MRZ keys to try on a CCCD, one per candidate expiry, most likely first."""
    return tuple(
        MrzKey.for_cccd(id_number, date_of_birth, expiry)
        for expiry in expiry_candidates(date_of_birth, issued=issued, today=today)
    )
