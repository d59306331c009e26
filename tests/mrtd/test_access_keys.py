"""Access keys against ICAO 9303-11 App. D.1/D.2 and G.1, 9303-4 App. B, the BSI worked example and the CCCD example
of cccd-spec §1.3; the CCCD expiry rule."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mrtd import MRZError
from mrtd._access_keys import (
    NO_EXPIRY,
    Can,
    MrzKey,
    PasswordType,
    Pin,
    cccd_can,
    cccd_document_number,
    cccd_mrz_keys,
    expiry_candidates,
    mrz_date,
    pace_password_key,
)
from mrtd._crypto import CipherSuite


@pytest.mark.parametrize(
    ("number", "dob", "doe", "info"),
    [
        ("L898902C<", "690806", "940623", "L898902C<369080619406236"),  # App. D.2, 9-character number
        ("L898902C", "690806", "940623", "L898902C<369080619406236"),  # the filler is added when missing
        ("D23145890734", "340712", "950712", "D23145890734934071279507122"),  # App. D.2, long number
        ("L898902C3", "740812", "120415", "L898902C3674081221204159"),  # 9303-4 App. B
        ("T22000129", "640812", "101031", "T22000129364081251010318"),  # App. G.1
    ],
)
def test_mrz_information(number: str, dob: str, doe: str, info: str) -> None:
    assert MrzKey(number, dob, doe).mrz_information == info


def test_bac_keys_of_appendix_d() -> None:
    key = MrzKey("L898902C<", "690806", "940623")
    assert key.key_seed().hex().upper() == "239AB9CB282DAF66231DC5A4DF6BFBAE"
    keys = key.bac_keys()
    assert keys.k_enc.hex().upper() == "AB94FDECF2674FDFB9B391F85D7F76F2"
    assert keys.k_mac.hex().upper() == "7962D9ECE03D1ACD4C76089DCE131543"
    assert key.password_type is PasswordType.MRZ


def test_pace_password_keys() -> None:
    # App. G.1: MRZ password, AES-128.
    mrz = MrzKey("T22000129", "640812", "101031")
    assert mrz.pace_secret().hex().upper() == "7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD"
    assert pace_password_key(mrz, CipherSuite.AES128).hex().upper() == "89DED1B26624EC1E634C1989302849DD"
    # BSI TR-03110 worked example: PIN 123456.
    assert pace_password_key(Pin("123456"), CipherSuite.AES128).hex().upper() == "591468CDA83D65219CCCB8560233600F"
    assert Pin("123456").password_type is PasswordType.PIN


def test_cccd_worked_example() -> None:
    # cccd-spec §1.3: ID 001090012345, born 15/01/1990, expiry 15/01/2030 (40th birthday).
    key = MrzKey.for_cccd("001090012345", dt.date(1990, 1, 15), dt.date(2030, 1, 15))
    assert key.document_number == cccd_document_number("001090012345") == "090012345"
    assert key.mrz_information == "090012345090011583001156"
    assert key.key_seed().hex() == "9244a9bb2393f76721706d2dfbba9060"
    assert key.bac_keys().k_enc.hex() == "755b8629c24ad5a7f42ff16231fb0e94"
    assert key.bac_keys().k_mac.hex() == "f14926a2cbe06886b3c2f7575745f42f"
    can = cccd_can("001090012345")
    assert can == Can("012345")
    assert can.password_type is PasswordType.CAN
    assert pace_password_key(can, CipherSuite.AES128).hex() == "5e5cd537047973c8f8bfdea168324ec0"


def test_no_expiry_key() -> None:
    key = MrzKey.for_cccd("001090012345", dt.date(1950, 3, 1), None)
    assert key.date_of_expiry == NO_EXPIRY
    # 9·7 + 9·3 + 1·1 + 2·7 + 3·3 + 1·1 = 115, check digit 5.
    assert key.mrz_information.endswith("9912315")


def test_keys_stay_out_of_repr() -> None:
    key = MrzKey("L898902C<", "690806", "940623")
    assert "L898902C" not in repr(key)
    assert "690806" not in repr(key)
    assert "012345" not in repr(Can("012345"))
    assert "AB94" not in repr(key.bac_keys())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("L898902c", "690806", "940623"), None),  # lower case is normalised, not refused
        (("L89 902C", "690806", "940623"), "document number"),
        (("", "690806", "940623"), "document number"),
        (("L898902C", "6908O6", "940623"), "date of birth"),
        (("L898902C", "691306", "940623"), "not a date"),
        (("L898902C", "690806", "94062"), "date of expiry"),
        (("X" * 23, "690806", "940623"), "longer"),
    ],
)
def test_mrz_key_validation(args: tuple[str, str, str], message: str | None) -> None:
    if message is None:
        assert MrzKey(*args).document_number == "L898902C"
        return
    with pytest.raises(MRZError, match=message):
        MrzKey(*args)


@pytest.mark.parametrize("bad", ["12345", "1234567", "12345a", "١٢٣٤٥٦"])
def test_can_validation(bad: str) -> None:
    with pytest.raises(MRZError, match="CAN"):
        Can(bad)


@pytest.mark.parametrize("bad", ["09001234", "0010900123456", "00109001234x"])
def test_cccd_id_validation(bad: str) -> None:
    with pytest.raises(MRZError, match="12 digits"):
        cccd_document_number(bad)


D = dt.date


@pytest.mark.parametrize(
    ("dob", "issued", "expected"),
    [
        # Issued at 31: expires at the 40th birthday; the 60th and no expiry are the fallbacks.
        (D(1990, 1, 15), D(2021, 5, 1), (D(2030, 1, 15), D(2050, 1, 15), None)),
        # Issued within two years before 40: valid until 60 (Art. 21(2)); the 40th birthday is tried second.
        (D(1990, 1, 15), D(2028, 6, 1), (D(2050, 1, 15), D(2030, 1, 15), None)),
        # Issued at 58: no expiry, then the 60th birthday.
        (D(1964, 3, 1), D(2022, 5, 5), (None, D(2024, 3, 1))),
        # Issued after 60: no expiry only.
        (D(1950, 3, 1), D(2021, 3, 1), (None,)),
        # A child's card under the 2023 Law on Identification is renewed at 14.
        (D(2015, 5, 5), D(2024, 9, 1), (D(2029, 5, 5), D(2040, 5, 5), D(2055, 5, 5), D(2075, 5, 5), None)),
        # Born 29 February: 28 February in a common year, 1 March tried last.
        (D(2000, 2, 29), D(2021, 3, 1), (D(2025, 2, 28), D(2040, 2, 29), D(2060, 2, 29), None, D(2025, 3, 1))),
    ],
)
def test_expiry_candidates_with_issue_date(dob: dt.date, issued: dt.date, expected: tuple[dt.date | None]) -> None:
    assert expiry_candidates(dob, issued=issued) == expected


def test_expiry_candidates_without_issue_date() -> None:
    dob = D(1990, 1, 15)
    assert expiry_candidates(dob) == (D(2015, 1, 15), D(2030, 1, 15), D(2050, 1, 15), None)
    assert expiry_candidates(dob, today=D(2026, 1, 1)) == (D(2030, 1, 15), D(2050, 1, 15), None, D(2015, 1, 15))
    # Over 60 today: no expiry first.
    assert expiry_candidates(D(1950, 6, 1), today=D(2026, 1, 1))[0] is None
    # A child born in 2012 may hold a card renewed at 14 (2026, after the 2023 law began).
    assert D(2026, 6, 1) in expiry_candidates(D(2012, 6, 1))
    assert D(2020, 6, 1) not in expiry_candidates(D(2006, 6, 1))


@given(
    st.dates(D(1920, 1, 1), D(2020, 12, 31)),
    st.integers(0, 90 * 366),
    st.booleans(),
)
def test_expiry_candidates_properties(dob: dt.date, days: int, with_issue: bool) -> None:
    issued = min(dob + dt.timedelta(days=days), D(2040, 1, 1))
    candidates = expiry_candidates(dob, issued=issued if with_issue else None)
    assert len(candidates) == len(set(candidates))  # no duplicates
    assert None in candidates  # "no expiry" is always tried
    for day in candidates:
        if day is not None:
            assert day > dob
            assert (day.month, day.day) in ((dob.month, dob.day), (2, 28), (3, 1))
    if with_issue:
        assert all(day is None or day > issued for day in candidates)


def test_cccd_mrz_keys_follow_the_candidates() -> None:
    keys = cccd_mrz_keys("001090012345", D(1990, 1, 15), issued=D(2021, 5, 1))
    assert [k.date_of_expiry for k in keys] == ["300115", "500115", NO_EXPIRY]
    assert {k.document_number for k in keys} == {"090012345"}
    assert mrz_date(D(2030, 1, 15)) == "300115"
