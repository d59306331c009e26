"""The synthetic population: real ID structure, consistent households and dates, deterministic by seed."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata

import pytest

from agent import parse_cccd_qr
from hw.sim import Citizen, Relation, card_expiry, generate_population, qr_text
from mrtd import PROVINCE_CODES, id_century_sex

REFERENCE = dt.date(2025, 12, 1)


@pytest.fixture(scope="module")
def population():  # type: ignore[no-untyped-def]
    return generate_population(400, seed=11, reference_date=REFERENCE)


def test_same_seed_same_people_other_seed_other_people() -> None:
    first = generate_population(60, seed=3, reference_date=REFERENCE)
    again = generate_population(60, seed=3, reference_date=REFERENCE)
    other = generate_population(60, seed=4, reference_date=REFERENCE)
    assert first.to_json() == again.to_json()
    assert {c.id_number for c in first} != {c.id_number for c in other}
    assert len(first) == 60


def test_id_numbers_have_the_real_structure(population) -> None:  # type: ignore[no-untyped-def]
    ids = [c.id_number for c in population]
    assert len(set(ids)) == len(ids)
    for person in population:
        assert person.province_code in PROVINCE_CODES, person.id_number
        century, sex = id_century_sex(int(person.id_number[3]))
        assert century <= person.date_of_birth.year < century + 100
        assert sex == person.sex
        assert person.id_number[4:6] == f"{person.date_of_birth.year % 100:02d}"
        assert person.can == person.id_number[-6:]
        assert person.document_number == person.id_number[-9:]


def test_card_dates_follow_the_renewal_rule(population) -> None:  # type: ignore[no-untyped-def]
    holders = [c for c in population if c.has_card]
    assert len(holders) > 300
    no_expiry = 0
    for person in holders:
        assert person.date_of_issue is not None
        assert person.age_on(person.date_of_issue) >= 14
        assert dt.date(2021, 1, 1) <= person.date_of_issue <= REFERENCE
        assert person.date_of_expiry is None or person.date_of_expiry > REFERENCE
        _assert_renewal_rule(person.date_of_birth, person.date_of_issue, person.date_of_expiry)
        # The terminal opens the chip from the QR alone: the card's real expiry is among the dates it tries.
        access = parse_cccd_qr(qr_text(person), today=REFERENCE).chip_access()
        assert person.date_of_expiry in access.expiry_candidates
        no_expiry += person.date_of_expiry is None
    assert 0 < no_expiry < len(holders) // 2
    for person in population:
        if not person.has_card:
            assert person.age_on(REFERENCE) < 14 or person.date_of_birth.year >= 2007


def _assert_renewal_rule(born: dt.date, issued: dt.date, expiry: dt.date | None) -> None:
    """The law's rule, stated as properties rather than as a second implementation (Luật CCCD 2014 Art. 21, Luật Căn
    cước 2023 Art. 21): a card expires on a renewal birthday after its issue, never within the two years before one
    it skipped, and never when issued within two years of 60."""
    ages = (14, 25, 40, 60) if issued >= dt.date(2024, 7, 1) else (25, 40, 60)

    def birthday(age: int) -> dt.date:
        try:
            return born.replace(year=born.year + age)
        except ValueError:
            return born.replace(year=born.year + age, day=28)

    later = [age for age in ages if birthday(age) > issued]
    if expiry is None:
        # Only a card issued from two years before the 60th birthday on has no expiry.
        assert issued >= birthday(58) or not later
        return
    age = next(a for a in ages if birthday(a) == expiry)
    assert age in later
    skipped = [a for a in later if a < age]
    # A renewal birthday is skipped only when the card was issued within the two years before it.
    assert all(issued >= birthday(a - 2) for a in skipped)
    assert len(skipped) <= 1
    if not skipped:
        assert issued < birthday(age - 2)


def test_renewal_rule_examples() -> None:
    born = dt.date(1990, 1, 15)
    assert card_expiry(born, dt.date(2021, 6, 1)) == dt.date(2030, 1, 15)  # cccd-spec §1.3: 40th birthday
    assert card_expiry(born, dt.date(2028, 6, 1)) == dt.date(2050, 1, 15)  # within 2 years of 40: valid to 60
    assert card_expiry(dt.date(1966, 5, 2), dt.date(2024, 6, 1)) is None  # from 58 on: no expiry
    assert card_expiry(dt.date(2010, 3, 3), dt.date(2024, 8, 1)) == dt.date(2035, 3, 3)


def test_households_are_consistent(population) -> None:  # type: ignore[no-untyped-def]
    by_id = {c.id_number: c for c in population}
    assert sum(len(h.member_ids) for h in population.households) == len(population)
    for household in population.households:
        members = [by_id[i] for i in household.member_ids]
        head = by_id[household.head_id]
        assert members[0] is head
        assert head.relation is Relation.HEAD
        assert [m.relation for m in members].count(Relation.HEAD) == 1
        assert all(m.household_id == household.household_id for m in members)
        assert all(m.place_of_residence == household.address for m in members)
        for member in members:
            if member.spouse_name and member.relation in (Relation.WIFE, Relation.HUSBAND):
                assert member.spouse_name == head.full_name
                assert head.spouse_name == member.full_name
            if member.relation is Relation.CHILD:
                assert head.full_name in (member.father_name, member.mother_name)
                assert member.full_name.split()[0] == (member.father_name or "").split()[0]
                assert member.date_of_birth.year - head.date_of_birth.year >= 14


def test_old_id_numbers_only_where_plausible(population) -> None:  # type: ignore[no-untyped-def]
    with_cmnd = [c for c in population if c.old_id_number]
    assert 0.2 * len(population) < len(with_cmnd) < 0.8 * len(population)
    assert all(c.date_of_birth.year <= 2005 and len(c.old_id_number or "") == 9 for c in with_cmnd)
    assert len({c.old_id_number for c in with_cmnd}) == len(with_cmnd)


def test_text_is_nfc_vietnamese(population) -> None:  # type: ignore[no-untyped-def]
    diacritics = 0
    for person in population:
        for text in (person.full_name, person.place_of_origin, person.place_of_residence, person.religion):
            assert unicodedata.normalize("NFC", text) == text
        diacritics += any(ord(ch) > 127 for ch in person.full_name)
    assert diacritics > len(population) // 2


def test_json_round_trip(population) -> None:  # type: ignore[no-untyped-def]
    for person in list(population)[:50]:
        text = json.dumps(person.to_json(), ensure_ascii=False)
        assert Citizen.from_json(json.loads(text)) == person
    with pytest.raises(ValueError, match="unknown citizen fields"):
        Citizen.from_json({**population.citizens[0].to_json(), "extra": 1})
    with pytest.raises(ValueError, match="12 digits"):
        Citizen.from_json({**population.citizens[0].to_json(), "id_number": "12345"})
