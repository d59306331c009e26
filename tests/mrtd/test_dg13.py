"""DG13, the Vietnamese profile: hand-assembled bytes (cccd-spec §4.2 prefixes), an OpenSSL-encoded DG13, both
field-13 layouts, NFD text, date forms, missing and unknown fields; fuzzed."""

import contextlib
import datetime as dt
import shutil
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openssl_dump import CITIZEN, _field, _printable, _utf8, dg13_bytes, run, tlv

from mrtd import Holder, ParseError
from mrtd._dg13 import parse_dg13, parse_dg13_date


def _expected_holder() -> Holder:
    return Holder(
        id_number="001090012345",
        old_id_number="012345678",
        full_name="Nguyễn Văn An",
        date_of_birth=dt.date(1990, 1, 15),
        sex="M",
        nationality="Việt Nam",
        ethnicity="Kinh",
        religion="Không",
        place_of_origin=CITIZEN["place_of_origin"],
        place_of_residence=CITIZEN["place_of_residence"],
        identifying_marks=CITIZEN["identifying_marks"],
        date_of_issue=dt.date(2021, 4, 20),
        date_of_expiry=dt.date(2030, 1, 15),
        father_name="Nguyễn Văn Bình",
        mother_name="Trần Thị Cúc",
        spouse_name="Lê Thị Dung",
    )


def test_field_prefixes_are_those_of_the_spec() -> None:
    # cccd-spec §4.2: `30 11 02 01 01 13 0C` (12-digit ID), `30 0F 02 01 03 13 0A` (10-char DOB), ...
    assert _field(1, _printable("001090012345"))[:7] == bytes.fromhex("3011020101130C")
    assert _field(3, _printable("15/01/1990"))[:7] == bytes.fromhex("300F020103130A")
    assert _field(4, _utf8("Nam"))[:7] == bytes.fromhex("30080201040C03")
    assert _field(5, _utf8("Việt Nam"))[:7] == bytes.fromhex("300F0201050C0A")
    assert _field(12, _utf8("15/01/2030"))[:7] == bytes.fromhex("300F02010C0C0A")
    assert _field(14) == bytes.fromhex("300302010E")
    assert _field(15, _printable("012345678"))[:7] == bytes.fromhex("300E02010F1309")
    assert _field(16, _printable("0123456789ABCDEF"))[:7] == bytes.fromhex("3015020110" + "1310")
    data = dg13_bytes()
    # The envelope of §4.1: the ID's value starts at byte offset 30 (4 + 4 + 3 + 8 + 4 + 7).
    assert data[:4] == bytes([0x6D, 0x82]) + (len(data) - 4).to_bytes(2, "big")
    assert data[8:19] == bytes.fromhex("020101060628D316010008")
    assert data[30:42] == b"001090012345"


@pytest.mark.parametrize("layout", ["separate", "joint"])
def test_both_layouts_of_field_13_give_the_same_holder(layout: str) -> None:
    dg13 = parse_dg13(dg13_bytes(parents_layout=layout))
    assert dg13.to_holder() == _expected_holder()
    assert dg13.version == 1
    assert dg13.oid == "1.0.10646.1.0.8"


def test_nfd_text_is_normalised_to_nfc() -> None:
    dg13 = parse_dg13(dg13_bytes(normalisation="NFD"))
    assert dg13.full_name == "Nguyễn Văn An"
    assert dg13.full_name is not None
    assert unicodedata.is_normalized("NFC", dg13.full_name)
    assert dg13.sex == "M"
    assert dg13.to_holder() == _expected_holder()


def test_fields_are_found_by_number_not_position() -> None:
    shuffled = parse_dg13(dg13_bytes(field_order=(16, 3, 1, 15, 13, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14)))
    assert shuffled.to_holder() == _expected_holder()


def test_missing_fields_are_none() -> None:
    dg13 = parse_dg13(dg13_bytes(with_spouse=False, with_old_id=False))
    assert dg13.spouse_name is None
    assert dg13.old_id_number is None
    assert dg13.field(15) is None
    assert dg13.field(14) is not None


def test_unknown_fields_are_kept_raw() -> None:
    data = dg13_bytes()
    dg13 = parse_dg13(data)
    field_16 = dg13.field(16)
    assert field_16 is not None
    assert field_16.texts == ("0123456789ABCDEF",)
    assert field_16.encoded in data
    assert dg13.unknown_fields == (field_16,)


def test_female_holder_without_expiry() -> None:
    citizen = dict(CITIZEN, sex="Nữ", date_of_expiry="Không thời hạn", date_of_birth="01/01/1951")
    dg13 = parse_dg13(dg13_bytes(citizen))
    assert dg13.sex == "F"
    assert dg13.no_expiry
    holder = dg13.to_holder()
    assert holder.date_of_expiry is None
    assert holder.date_of_birth == dt.date(1951, 1, 1)


def test_an_unknown_day_of_birth_keeps_the_text() -> None:
    dg13 = parse_dg13(dg13_bytes(dict(CITIZEN, date_of_birth="00/00/1948")))
    assert dg13.date_of_birth is None
    assert dg13.date_of_birth_text == "00/00/1948"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15/01/1990", dt.date(1990, 1, 15)),
        ("15-01-1990", dt.date(1990, 1, 15)),
        ("15.01.1990", dt.date(1990, 1, 15)),
        ("1990-01-15", dt.date(1990, 1, 15)),
        ("1990/01/15", dt.date(1990, 1, 15)),
        ("15011990", dt.date(1990, 1, 15)),  # the QR code's form
        ("19900115", dt.date(1990, 1, 15)),
        ("10122011", dt.date(2011, 12, 10)),  # both readings fit the pattern; only day-first is a date
        ("20120305", dt.date(2012, 3, 5)),  # day first would be 20 December of the year 305
        ("20101120", dt.date(2010, 11, 20)),
        ("29/02/2000", dt.date(2000, 2, 29)),
        ("00/01/1990", None),
        ("1990", None),
    ],
)
def test_date_forms(text: str, expected: dt.date | None) -> None:
    assert parse_dg13_date(text) == expected


@pytest.mark.parametrize(
    "text", ["15/01/90", "15/01-1990", "31/02/1990", "1990-13-01", "ngày 15", "15131990", "15/01/0990", "01011700"]
)
def test_bad_dates_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse_dg13_date(text)


def test_an_unreadable_date_costs_only_that_field() -> None:
    dg13 = parse_dg13(_envelope(_HEAD, tlv(0x31, _field(2, _utf8("Nguyễn Văn An")) + _field(3, _utf8("1/1/90")))))
    assert dg13.full_name == "Nguyễn Văn An"
    assert dg13.date_of_birth is None
    assert dg13.date_of_birth_text == "1/1/90"
    assert len(dg13.problems) == 1
    assert "date of birth" in dg13.problems[0]
    assert "1/1/90" not in dg13.problems[0]  # the text is in date_of_birth_text; messages carry no personal data


def test_dg13_encoded_by_openssl(tmp_path: Path) -> None:
    """A DG13 body written by OpenSSL's ASN.1 generator (a different encoder), SET OF fields in the joint layout."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is required")
    c = CITIZEN
    fields = [
        (1, f"PRINTABLESTRING:{c['id_number']}"),
        (2, f"FORMAT:UTF8,UTF8String:{c['full_name']}"),
        (3, f"PRINTABLESTRING:{c['date_of_birth']}"),
        (4, f"FORMAT:UTF8,UTF8String:{c['sex']}"),
        (5, f"FORMAT:UTF8,UTF8String:{c['nationality']}"),
        (6, f"FORMAT:UTF8,UTF8String:{c['ethnicity']}"),
        (7, f"FORMAT:UTF8,UTF8String:{c['religion']}"),
        (8, f"FORMAT:UTF8,UTF8String:{c['place_of_origin']}"),
        (9, f"FORMAT:UTF8,UTF8String:{c['place_of_residence']}"),
        (10, f"FORMAT:UTF8,UTF8String:{c['identifying_marks']}"),
        (11, f"PRINTABLESTRING:{c['date_of_issue']}"),
        (12, f"FORMAT:UTF8,UTF8String:{c['date_of_expiry']}"),
        (15, f"PRINTABLESTRING:{c['old_id_number']}"),
    ]
    lines = [
        "asn1=SEQUENCE:dg13",
        "[dg13]",
        "version=INTEGER:1",
        "oid=OID:1.0.10646.1.0.8",
        "fields=SET:fields",
        "[fields]",
    ]
    lines += [f"f{n}=SEQUENCE:f{n}" for n, _ in fields] + ["f13=SEQUENCE:f13", "f14=SEQUENCE:f14"]
    for n, value in fields:
        lines += [f"[f{n}]", f"n=INTEGER:{n}", f"v={value}"]
    lines += ["[f13]", "n=INTEGER:13", "v=SEQUENCE:parents", "[parents]",
              f"father=FORMAT:UTF8,UTF8String:{c['father_name']}", f"mother=FORMAT:UTF8,UTF8String:{c['mother_name']}",
              "[f14]", "n=INTEGER:14", "v=SEQUENCE:spouse", "[spouse]",
              f"s=FORMAT:UTF8,UTF8String:{c['spouse_name']}"]  # fmt: skip
    (tmp_path / "dg13.cnf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run("asn1parse", "-genconf", "dg13.cnf", "-out", "dg13.der", "-noout", cwd=tmp_path)
    body = (tmp_path / "dg13.der").read_bytes()
    assert _utf8(c["full_name"]) in body  # OpenSSL wrote real UTF-8, not Latin-1 of the bytes
    dg13 = parse_dg13(tlv(0x6D, body))
    assert dg13.to_holder() == _expected_holder()


_HEAD = bytes.fromhex("020101" + "060628D316010008")


def _envelope(*items: bytes) -> bytes:
    return tlv(0x6D, tlv(0x30, b"".join(items)))


@pytest.mark.parametrize(
    "data",
    [
        tlv(0x6D, b""),
        _envelope(bytes.fromhex("020101")),
        _envelope(bytes.fromhex("020101" + "060180"), tlv(0x31, b"")),
        _envelope(_HEAD, tlv(0x31, b""), bytes.fromhex("020100")),
        _envelope(_HEAD, tlv(0x31, tlv(0x30, bytes.fromhex("020101" + "0201FF")))),
        _envelope(_HEAD, tlv(0x31, _field(1, _printable("1")) + _field(1, _printable("2")))),
        _envelope(_HEAD, tlv(0x31, _field(2, tlv(0x0C, b"\xc3\x28")))),
        _envelope(_HEAD, tlv(0x31, _field(0, _printable("x")))),
        _envelope(_HEAD, tlv(0x31, tlv(0x04, b"x"))),
        tlv(0x6C, tlv(0x30, _HEAD + tlv(0x31, b""))),
    ],
)
def test_malformed_dg13(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_dg13(data)


def test_a_minimal_dg13_parses() -> None:
    dg13 = parse_dg13(_envelope(_HEAD, tlv(0x31, _field(1, _printable("001090012345")))))
    assert dg13.to_holder() == Holder(id_number="001090012345")


@settings(max_examples=400)
@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_dg13_raises_only_parse_errors(changes: list[tuple[int, int]]) -> None:
    data = bytearray(dg13_bytes())
    for position, value in changes:
        data[position % len(data)] = value
    try:
        dg13 = parse_dg13(bytes(data))
    except ParseError:
        return
    dg13.to_holder()


@given(
    st.lists(
        st.tuples(
            st.integers(0, 40), st.sampled_from([0x0C, 0x13, 0x16, 0x1E, 0x30, 0x04, 0x02]), st.binary(max_size=12)
        ),
        max_size=12,
    )
)
def test_generated_field_sets_raise_only_parse_errors(entries: list[tuple[int, int, bytes]]) -> None:
    body = b"".join(_field(n, tlv(tag, value)) for n, tag, value in entries)
    data = tlv(0x6D, tlv(0x30, bytes.fromhex("020101060628D316010008") + tlv(0x31, body)))
    with contextlib.suppress(ParseError):
        parse_dg13(data).to_holder()
