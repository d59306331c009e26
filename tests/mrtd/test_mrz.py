"""MRZ parsing against ICAO 9303-3/-4/-5/-11 vectors (emrtd-anchors §3.1) and the CCCD example (cccd-spec §1.3)."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mrtd import MRZError
from mrtd._mrz import MRZFormat, check_digit, parse_mrz

CCCD = ("IDVNM0900123450001090012345<<1", "9001158M3001156VNM<<<<<<<<<<<8", "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<")
TD3_SPECIMEN = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")


@pytest.mark.parametrize(
    ("field", "digit"),
    [
        ("520727", "3"),
        ("AB2134<<<", "5"),
        ("HA672242<658022549601086<<<<<<<<<<<<<<0", "8"),
        ("D231458907<<<<<<<<<<<<<<<34071279507122<<<<<<<<<<<", "2"),
    ],
)
def test_check_digits_of_icao_9303_part_3(field: str, digit: str) -> None:
    assert check_digit(field) == digit


def test_cccd_example_of_the_spec() -> None:
    mrz = parse_mrz("\n".join(CCCD))
    assert mrz.format is MRZFormat.TD1
    assert (mrz.document_code, mrz.issuing_state, mrz.nationality) == ("ID", "VNM", "VNM")
    assert mrz.document_number == "090012345"
    assert mrz.id_number == "001090012345"
    assert mrz.is_cccd
    assert (mrz.date_of_birth, mrz.sex, mrz.date_of_expiry) == ("900115", "M", "300115")
    assert (mrz.surname, mrz.given_names, mrz.name) == ("NGUYEN", "VAN AN", "NGUYEN VAN AN")
    assert mrz.mrz_information == "090012345090011583001156"
    assert mrz.birth_date(reference=dt.date(2026, 1, 1)) == dt.date(1990, 1, 15)
    assert mrz.expiry_date() == dt.date(2030, 1, 15)
    # DG1 stores the zone without line breaks.
    assert parse_mrz("".join(CCCD)) == mrz


def td1(number: str, id_number: str, dob: str, sex: str, expiry: str, name: str) -> str:
    """A CCCD zone with every check digit computed (check_digit is pinned to ICAO vectors above)."""
    l1 = "IDVNM" + number + check_digit(number) + id_number + "<<" + check_digit(id_number)
    l2 = dob + check_digit(dob) + sex + expiry + check_digit(expiry) + "VNM" + "<" * 11
    l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    return "\n".join((l1, l2, name.ljust(30, "<")))


def test_helper_reproduces_the_spec_example() -> None:
    assert td1("090012345", "001090012345", "900115", "M", "300115", "NGUYEN<<VAN<AN") == "\n".join(CCCD)


def test_cccd_century_comes_from_the_id_number_not_a_pivot() -> None:
    # Born 2005: the ID's 4th digit is 2 (21st century, male), so "05" is 2005 even with a reference in 2001.
    mrz = parse_mrz(td1("205012345", "001205012345", "050301", "M", "300301", "TRAN<<BINH"))
    assert mrz.birth_date(reference=dt.date(2001, 1, 1)) == dt.date(2005, 3, 1)
    # Born 1951, female (digit 1), with no expiry.
    old = parse_mrz(td1("151012345", "001151012345", "510101", "F", "991231", "LE<<THI<HOA"))
    assert old.birth_date(reference=dt.date(2049, 1, 1)) == dt.date(1951, 1, 1)
    assert old.has_no_expiry
    assert old.expiry_date() is None


def test_td1_errata_composite_is_2_not_1() -> None:
    # ICAO prints composite 1 for this sample; every implementation recomputes 2 (emrtd-anchors §3.1 errata).
    good = ("I<UTOL898902C<3<<<<<<<<<<<<<<<", "6908061F9406236UTO<<<<<<<<<<<2", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    mrz = parse_mrz("\n".join(good))
    assert mrz.document_number == "L898902C"
    assert mrz.mrz_information == "L898902C<369080619406236"
    printed = (good[0], good[1][:-1] + "1", good[2])
    with pytest.raises(MRZError) as excinfo:
        parse_mrz("\n".join(printed))
    assert excinfo.value.field == "composite"


def test_td1_long_document_number_of_appendix_d2() -> None:
    lines = ("I<UTOD23145890<7349<<<<<<<<<<<", "3407127M9507122UTO<<<<<<<<<<<2", "STEVENSON<<PETER<JOHN<<<<<<<<<")
    mrz = parse_mrz("\n".join(lines))
    assert mrz.document_number == "D23145890734"
    assert mrz.mrz_information == "D23145890734934071279507122"
    assert mrz.id_number is None


def test_td3_specimen_of_part_4() -> None:
    mrz = parse_mrz("\n".join(TD3_SPECIMEN))
    assert mrz.format is MRZFormat.TD3
    assert mrz.document_number == "L898902C3"
    assert mrz.optional_data == "ZE184226B"
    assert mrz.mrz_information == "L898902C3674081221204159"
    assert mrz.birth_date(reference=dt.date(2026, 1, 1)) == dt.date(1974, 8, 12)
    assert mrz.expiry_date() == dt.date(2012, 4, 15)


def _replace(lines: tuple[str, ...], line: int, position: int, char: str) -> str:
    changed = list(lines)
    changed[line] = changed[line][:position] + char + changed[line][position + 1 :]
    return "\n".join(changed)


@pytest.mark.parametrize(
    ("line", "position", "char", "field"),
    [
        (0, 14, "1", "document_number"),
        (0, 29, "2", "composite"),  # position 30 is covered by the composite check digit
        (1, 6, "9", "date_of_birth"),
        (1, 14, "7", "date_of_expiry"),
        (1, 29, "9", "composite"),
    ],
)
def test_each_wrong_cccd_check_digit_names_its_field(line: int, position: int, char: str, field: str) -> None:
    with pytest.raises(MRZError) as excinfo:
        parse_mrz(_replace(CCCD, line, position, char))
    assert excinfo.value.field == field


@pytest.mark.parametrize(
    ("position", "char", "field"),
    [(9, "7", "document_number"), (19, "3", "date_of_birth"), (27, "8", "date_of_expiry"), (42, "2", "personal_number"),
     (43, "1", "composite")],
)  # fmt: skip
def test_each_wrong_td3_check_digit_names_its_field(position: int, char: str, field: str) -> None:
    with pytest.raises(MRZError) as excinfo:
        parse_mrz(_replace(TD3_SPECIMEN, 1, position, char))
    assert excinfo.value.field == field


def test_a_position_30_that_is_not_the_ids_check_digit_gives_no_id() -> None:
    """Only observed, never specified: a card that puts something else there (the composite right) is still read."""
    lines = td1("090012345", "001090012345", "900115", "M", "300115", "NGUYEN<<VAN<AN").split("\n")
    l1 = lines[0][:29] + str((int(lines[0][29]) + 1) % 10)
    l2 = lines[1][:29] + check_digit(l1[5:30] + lines[1][0:7] + lines[1][8:15] + lines[1][18:29])
    mrz = parse_mrz("\n".join((l1, l2, lines[2])))
    assert mrz.document_number == "090012345"
    assert mrz.id_number is None


def test_document_number_must_be_the_last_9_digits_of_the_id() -> None:
    # Every check digit is right, but the document number is not the ID's tail.
    with pytest.raises(MRZError) as excinfo:
        parse_mrz(td1("090012346", "001090012345", "900115", "M", "300115", "NGUYEN<<VAN<AN"))
    assert excinfo.value.field == "document_number"
    # The message may reach a log: it names the fields, not the holder's numbers.
    assert "090012346" not in str(excinfo.value)
    assert "001090012345" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("IDVNM09001234500010900\n12345<<1", "layout"),
        ("idvnm0900123450001090012345<<1\n9001158M3001156VNM<<<<<<<<<<<8\nNGUYEN<<VAN<AN<<<<<<<<<<<<<<<<", "layout"),
        ("P<UTO" + "<" * 39, "layout"),
    ],
)
def test_malformed_zones_are_rejected(text: str, field: str) -> None:
    with pytest.raises(MRZError) as excinfo:
        parse_mrz(text)
    assert excinfo.value.field == field


def test_impossible_dates_are_rejected_even_with_right_check_digits() -> None:
    with pytest.raises(MRZError) as excinfo:
        parse_mrz(td1("090012345", "001090012345", "901315", "M", "300115", "NGUYEN<<VAN<AN"))
    assert excinfo.value.field == "date_of_birth"


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<\n é", max_size=140))
def test_arbitrary_text_gives_a_zone_or_an_mrz_error(text: str) -> None:
    try:
        mrz = parse_mrz(text)
    except MRZError:
        return
    assert mrz.format in (MRZFormat.TD1, MRZFormat.TD3)


def _weight(char: str) -> int:
    return 0 if char == "<" else int(char, 36) % 10


@given(st.integers(0, 89), st.sampled_from("0123456789ABCKUXYZ<"))
def test_any_single_change_to_the_cccd_zone_is_caught_or_harmless(position: int, char: str) -> None:
    text = "".join(CCCD)
    changed = text[:position] + char + text[position + 1 :]
    try:
        mrz = parse_mrz(changed)
    except MRZError:
        return
    assert mrz.lines == tuple(changed[i : i + 30] for i in (0, 30, 60))
    if changed != text and position < 60:
        # TD1 leaves document code, issuing state, sex and nationality outside every check digit, and the
        # 7-3-1 sums work mod 10: "<", "0", "A", "K" and "U" are interchangeable (values 0, 0, 10, 20, 30).
        assert position in (0, 1, 2, 3, 4, 37, 45, 46, 47) or _weight(text[position]) == _weight(char)


def test_29_february_of_a_non_leap_year_gives_no_date_instead_of_an_error() -> None:
    # Born 29/02/1900 per the pivot (1900 is not a leap year) and expiring 29/02/2029: the zone parses, no dates.
    mrz = parse_mrz(
        td1("090012345", "001090012345", "000229", "M", "290229", "NGUYEN<<VAN<AN").replace("IDVNM", "IDUTO")
    )
    assert mrz.birth_date(reference=dt.date(1999, 1, 1)) is None
    assert mrz.expiry_date() is None
    assert parse_mrz(td1("090012345", "001090012345", "000229", "M", "280229", "A")).expiry_date() == dt.date(
        2028, 2, 29
    )
