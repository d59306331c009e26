"""The 12-digit personal ID number (số định danh cá nhân) a CCCD carries in DG13, the MRZ and its printed QR code.

Its structure (Thông tư 59/2021/TT-BCA Art. 4, formerly Thông tư 07/2016/TT-BCA Art. 7): the 3-digit code of the
province where the birth was registered, one digit for the century of birth and the sex, the last two digits of the
year of birth, and six serial digits. The last 9 digits are the MRZ document number and the last 6 the CAN
(:mod:`mrtd._access_keys`). The terminal's QR validator and the synthetic population both build on this module, so
there is one table of province codes and one century/sex rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from mrtd._holder import Sex

# Provinces and centrally-run cities (63), Thông tư 07/2016/TT-BCA Phụ lục I, kept by Thông tư 59/2021/TT-BCA. The
# 2025 merger into 34 provinces kept ID numbers unchanged, so the old codes remain the valid ones.
PROVINCE_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa - Vũng Tàu",
        "079": "Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)
"""Province code → province name (NFC)."""

_FIRST_CENTURY: Final = 1900
_CENTURIES: Final = 5  # digits 0-9: the 20th to the 24th century
_SERIALS: Final = 1_000_000


def id_century_sex(digit: int) -> tuple[int, Sex]:
    """The first year of the birth century and the sex that the ID's fourth digit encodes.

    0/1 = 20th century male/female, 2/3 = 21st, 4/5 = 22nd, 6/7 = 23rd, 8/9 = 24th.
    """
    if not 0 <= digit <= 9:
        raise ValueError("century/sex digit out of range")
    return _FIRST_CENTURY + 100 * (digit // 2), ("M" if digit % 2 == 0 else "F")


def century_sex_digit(year_of_birth: int, sex: Sex) -> int:
    """The ID's fourth digit for someone born in ``year_of_birth`` (the inverse of :func:`id_century_sex`)."""
    century = (year_of_birth - _FIRST_CENTURY) // 100
    if not 0 <= century < _CENTURIES:
        raise ValueError("an ID number encodes birth years 1900 to 2399")
    if sex not in ("M", "F"):
        raise ValueError("sex must be M or F")
    return 2 * century + (0 if sex == "M" else 1)


def cccd_id_number(province_code: str, date_of_birth: dt.date, sex: Sex, serial: int) -> str:
    """The 12-digit ID of someone whose birth was registered in ``province_code``, with the six ``serial`` digits."""
    if province_code not in PROVINCE_CODES:
        raise ValueError(f"{province_code!r} is not a province code")
    if not 0 <= serial < _SERIALS:
        raise ValueError("the serial part of an ID number has six digits")
    digit = century_sex_digit(date_of_birth.year, sex)
    return f"{province_code}{digit}{date_of_birth.year % 100:02d}{serial:06d}"


def id_number_inconsistency(id_number: str, *, date_of_birth: dt.date, sex: Sex) -> str | None:
    """Why ``id_number`` cannot belong to someone born on ``date_of_birth`` with ``sex``; None when it can.

    Checks the structure only (12 ASCII digits, a real province code, the century/sex digit, the birth-year digits):
    a consistent number may still be someone else's.
    """
    if not (len(id_number) == 12 and id_number.isascii() and id_number.isdigit()):
        return "the ID number must be 12 digits"
    if id_number[:3] not in PROVINCE_CODES:
        return f"{id_number[:3]} is not a province code"
    century, id_sex = id_century_sex(int(id_number[3]))
    if not century <= date_of_birth.year < century + 100:
        return "the ID's century digit disagrees with the date of birth"
    if id_sex != sex:
        return "the ID's sex digit disagrees with the sex"
    if int(id_number[4:6]) != date_of_birth.year % 100:
        return "the ID's birth-year digits disagree with the date of birth"
    return None
