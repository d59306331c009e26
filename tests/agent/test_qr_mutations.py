"""What the CCCD QR validator catches when a payload is damaged, and what only the symbol's error correction can.

A decoder that mis-corrected a symbol, or stopped half-way through one, would hand the parser a payload that differs
from the printed one. zxing-cpp returns a symbol only when every Reed-Solomon block checks out (a random
miscorrection of a block with 2t check bytes is below 1e-9 for the block sizes of CCCD codes), so such payloads
should never reach the parser; these tests show what the parser would do if one did.

Caught, always: any change of the ID's century/sex digit or birth-year digits, of the sex word, of the year of birth;
any truncation, except of a 2024 code right after its 7 core fields or inside its last extra field (the core fields
stay intact; the 4 extra fields are kept raw, unvalidated); any extra field separator in a 7- or 11-field code.
Caught sometimes: the province code (a one-digit change may give another real province), day and month of a date
(when the result is not a real date or breaks the order of the dates). Never caught, by design: the six serial digits
of the ID, the old ID's digits, a letter of the name changed into another letter, the address. Nothing in the payload
can check those; the symbol's error correction covers them, and the chip cross-check (``agent.cross_check``) catches
a QR that does not match its card.
"""

from __future__ import annotations

import collections
import datetime as dt
import string

import pytest

from agent import CccdQr, CccdQrError, parse_cccd_qr
from hw import synthetic_citizen

TODAY = dt.date(2026, 6, 1)
# Enough citizens for every ID century/sex digit the corpus produces, and both sexes, forms and name shapes.
PAYLOADS = tuple(
    synthetic_citizen(seed, field_count=(7, 11, 6)[seed % 3]).qr_text()  # type: ignore[arg-type]
    for seed in range(60_000, 60_024)
)
DIGITS = string.digits
LETTERS = "aeiouyAEIOUYbcdghklmnpqrstvxđăâêôơưáàảãạéèẻẽẹóòỏõọúùủũụíìỉĩịýỳỷỹỵ"


def _fields(text: str) -> list[str]:
    fields = text.split("|")
    if len(fields) == 6:  # the 6-field form has no old-ID field: index it like the others
        fields.insert(1, "")
    return fields


def _replace_in_field(text: str, field: int, position: int, char: str) -> str:
    parts = text.split("|")
    index = field if len(parts) != 6 or field == 0 else field - 1
    value = parts[index]
    parts[index] = value[:position] + char + value[position + 1 :]
    return "|".join(parts)


def _outcome(original: CccdQr, mutated: str) -> str:
    """``caught`` (rejected), ``same`` (parsed to the same card: the change did not alter a value) or ``missed``."""
    try:
        parsed = parse_cccd_qr(mutated, today=TODAY)
    except CccdQrError:
        return "caught"
    return "same" if parsed == original else "missed"


def _mutate(field: int, positions: slice | None, alphabet: str) -> collections.Counter[str]:
    """Every one-character substitution from ``alphabet`` in the chosen positions of one field, over PAYLOADS."""
    outcomes: collections.Counter[str] = collections.Counter()
    for text in PAYLOADS:
        original = parse_cccd_qr(text, today=TODAY)
        value = _fields(text)[field]
        for position in range(len(value))[positions or slice(None)]:
            for char in alphabet:
                if char != value[position]:
                    outcomes[_outcome(original, _replace_in_field(text, field, position, char))] += 1
    return outcomes


def _share_caught(outcomes: collections.Counter[str]) -> float:
    return outcomes["caught"] / (outcomes["caught"] + outcomes["missed"])


ALWAYS_CAUGHT = {
    "ID century/sex digit": (0, slice(3, 4), DIGITS),
    "ID birth-year digits": (0, slice(4, 6), DIGITS),
    "ID changed into a non-digit": (0, None, "Oo lI|"),
    "year of birth": (3, slice(4, 8), DIGITS),
    "sex word": (4, None, LETTERS),
    "name letter changed into a digit or a symbol": (2, None, "0123456789@#/"),
}
NEVER_CAUGHT = {
    "ID serial digits": (0, slice(6, 12), DIGITS),
    "name letter changed into another letter": (2, None, "aeoxbkAEOXBK"),
}
SOMETIMES_CAUGHT = {
    "ID province code": (0, slice(0, 3), DIGITS),
    "day or month of birth": (3, slice(0, 4), DIGITS),
    "date of issue": (6, None, DIGITS),
}


@pytest.mark.parametrize("label", list(ALWAYS_CAUGHT))
def test_changes_the_cross_field_rules_always_catch(label: str) -> None:
    outcomes = _mutate(*ALWAYS_CAUGHT[label])
    assert outcomes["caught"] > 0
    assert outcomes["missed"] == 0, f"{label}: {dict(outcomes)}"


@pytest.mark.parametrize("label", list(NEVER_CAUGHT))
def test_changes_nothing_in_the_payload_can_detect(label: str) -> None:
    # Documented limits, not wishes: if one of these starts being caught, the rules changed and the docs must too.
    outcomes = _mutate(*NEVER_CAUGHT[label])
    assert outcomes["missed"] > 0
    assert _share_caught(outcomes) == 0.0, f"{label}: {dict(outcomes)}"


@pytest.mark.parametrize("label", list(SOMETIMES_CAUGHT))
def test_changes_caught_only_when_they_break_a_rule(label: str) -> None:
    outcomes = _mutate(*SOMETIMES_CAUGHT[label])
    assert 0.0 < _share_caught(outcomes) < 1.0, f"{label}: {dict(outcomes)}"


def test_old_id_digits_are_only_checked_for_shape() -> None:
    holders = [text for text in PAYLOADS if _fields(text)[1]]
    assert holders
    outcomes: collections.Counter[str] = collections.Counter()
    for text in holders:
        original = parse_cccd_qr(text, today=TODAY)
        old_id = _fields(text)[1]
        for position in range(9):
            other_digit = str((int(old_id[position]) + 1) % 10)
            outcomes[_outcome(original, _replace_in_field(text, 1, position, other_digit))] += 1
            outcomes[_outcome(original, _replace_in_field(text, 1, position, "x"))] += 1
    assert outcomes["caught"] == len(holders) * 9  # a letter in the old ID
    assert outcomes["missed"] == len(holders) * 9  # another digit


def test_a_truncated_payload_never_parses_to_different_core_values() -> None:
    for text in PAYLOADS:
        original = parse_cccd_qr(text, today=TODAY)
        fields = text.split("|")
        core = "|".join(fields[:7])
        for end in range(len(text)):
            prefix = text[:end]
            try:
                parsed = parse_cccd_qr(prefix, today=TODAY)
            except CccdQrError:
                continue
            # Only two cuts parse, both of a 2024 code: right after its 7 core fields, or inside its last (raw,
            # unvalidated) extra field. Either way the person and the card are the printed ones.
            cut_in_last_field = len(fields) == 11 and end > len(text) - len(fields[-1]) - 1
            assert prefix.rstrip() == core or cut_in_last_field, prefix
            assert parsed.to_holder() == original.to_holder()


def test_an_extra_separator_in_a_7_or_11_field_code_is_caught() -> None:
    for text in PAYLOADS:
        if len(text.split("|")) == 6:
            continue
        for position, char in enumerate(text):
            if char != "|":
                with pytest.raises(CccdQrError):
                    parse_cccd_qr(text[:position] + "|" + text[position + 1 :], today=TODAY)
