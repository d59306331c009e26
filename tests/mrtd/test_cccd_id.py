"""The structure of the 12-digit personal ID (Thông tư 07/2016/TT-BCA Art. 7, Thông tư 59/2021/TT-BCA Art. 4)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mrtd import (
    PROVINCE_CODES,
    Sex,
    cccd_can,
    cccd_document_number,
    cccd_id_number,
    century_sex_digit,
    id_century_sex,
    id_number_inconsistency,
)

# Art. 7: 20th century male 0 / female 1, 21st 2/3, 22nd 4/5, 23rd 6/7, 24th 8/9.
TABLE = [(1900, "M", 0), (1900, "F", 1), (2000, "M", 2), (2000, "F", 3), (2100, "M", 4), (2100, "F", 5),
         (2200, "M", 6), (2200, "F", 7), (2300, "M", 8), (2300, "F", 9)]  # fmt: skip


@pytest.mark.parametrize(("century", "sex", "digit"), TABLE)
def test_century_sex_digit_follows_the_circular(century: int, sex: Sex, digit: int) -> None:
    assert id_century_sex(digit) == (century, sex)
    assert century_sex_digit(century, sex) == digit
    assert century_sex_digit(century + 99, sex) == digit


def test_digits_outside_the_table_are_refused() -> None:
    for bad in (-1, 10):
        with pytest.raises(ValueError, match="out of range"):
            id_century_sex(bad)
    for year in (1899, 2400):
        with pytest.raises(ValueError, match="1900 to 2399"):
            century_sex_digit(year, "M")


def test_the_sixty_three_province_codes() -> None:
    assert len(PROVINCE_CODES) == 63
    assert PROVINCE_CODES["001"] == "Hà Nội"
    assert PROVINCE_CODES["079"] == "Hồ Chí Minh"
    assert PROVINCE_CODES["096"] == "Cà Mau"
    # Codes skipped by the official list (gaps of the 2004 administrative code table) are not provinces.
    for missing in ("000", "003", "005", "013", "016", "097", "099"):
        assert missing not in PROVINCE_CODES
    with pytest.raises(TypeError):
        PROVINCE_CODES["097"] = "Nowhere"  # type: ignore[index]


def test_the_published_example_number() -> None:
    # cccd-spec §1.3: a man born in Hà Nội on 15 January 1990.
    number = cccd_id_number("001", dt.date(1990, 1, 15), "M", 12345)
    assert number == "001090012345"
    assert cccd_document_number(number) == "090012345"
    assert cccd_can(number).value == "012345"
    assert id_number_inconsistency(number, date_of_birth=dt.date(1990, 1, 15), sex="M") is None


def test_inconsistencies_are_named() -> None:
    born = dt.date(1990, 1, 15)
    assert id_number_inconsistency("00109001234", date_of_birth=born, sex="M") == "the ID number must be 12 digits"
    assert "province code" in (id_number_inconsistency("097090012345", date_of_birth=born, sex="M") or "")
    assert "century" in (id_number_inconsistency("001290012345", date_of_birth=born, sex="M") or "")
    assert "sex" in (id_number_inconsistency("001190012345", date_of_birth=born, sex="M") or "")
    assert "birth-year" in (id_number_inconsistency("001091012345", date_of_birth=born, sex="M") or "")
    # Non-ASCII digits are not digits of an ID.
    assert id_number_inconsistency("００１090012345", date_of_birth=born, sex="M") is not None


def test_building_refuses_what_no_id_can_hold() -> None:
    with pytest.raises(ValueError, match="province code"):
        cccd_id_number("097", dt.date(1990, 1, 1), "M", 1)
    with pytest.raises(ValueError, match="six digits"):
        cccd_id_number("001", dt.date(1990, 1, 1), "M", 1_000_000)


@given(
    province=st.sampled_from(sorted(PROVINCE_CODES)),
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2399, 12, 31)),
    sex=st.sampled_from(["M", "F"]),
    serial=st.integers(0, 999_999),
)
def test_every_built_number_is_consistent_and_only_with_its_own_data(
    province: str, born: dt.date, sex: Sex, serial: int
) -> None:
    number = cccd_id_number(province, born, sex, serial)
    assert len(number) == 12
    assert number.isdigit()
    assert id_number_inconsistency(number, date_of_birth=born, sex=sex) is None
    other: Sex = "F" if sex == "M" else "M"
    assert id_number_inconsistency(number, date_of_birth=born, sex=other) is not None
    assert id_number_inconsistency(number, date_of_birth=born - dt.timedelta(days=366), sex=sex) is not None
