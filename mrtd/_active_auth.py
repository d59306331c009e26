"""Active authentication, the exchange only (ICAO 9303-11 §6.1): INTERNAL AUTHENTICATE with an 8-byte challenge.

Verifying the signature against DG15 is ``mrtd._aa_verify``. What matters here is the Le: chips disagree on what
they accept, and a wrong Le gives an empty or truncated signature rather than an error (AndyQ/NFCPassportReader#223:
Le = 65536 returns nothing on some Chinese passports, Le = 256 truncates on some Australian ones). So the Le is
sized from the DG15 key when it is known, and a short answer is retried once with the other form. An extended Le
is sent only over a link that carries extended length: a T=0 chip (or a reader) without it answers ``6700`` in
clear, which ends secure messaging, while a short Le 00 gets the whole protected answer through ``61xx`` chaining.
"""

from __future__ import annotations

from typing import Final

from mrtd._apdu import Channel, CommandAPDU, ResponseAPDU, StatusWord, status_error, wrong_le_hint
from mrtd._errors import ParseError
from mrtd._reader import SHORT_SM_MAX_LE

CHALLENGE_LENGTH: Final = 8
_ALL_AVAILABLE: Final = 65536  # extended Le 0000: "everything the chip has"


def signature_length(*, rsa_modulus_bytes: int | None = None, ec_field_bytes: int | None = None) -> int | None:
    """The size of the AA signature for a DG15 key: the RSA modulus length, or r ‖ s for ECDSA (twice the field)."""
    if rsa_modulus_bytes is not None:
        return rsa_modulus_bytes
    if ec_field_bytes is not None:
        return 2 * ec_field_bytes
    return None


def needs_long_answer(expected: int | None, *, secure: bool) -> bool:
    """Whether the (protected) signature is too long for a short response: then the Le form is a guess."""
    return expected is not None and secure and expected > SHORT_SM_MAX_LE


def _first_le(expected: int | None, *, secure: bool, extended: bool) -> int:
    if expected is None:
        return 256
    if needs_long_answer(expected, secure=secure):
        if not extended:
            return 256  # short Le 00: the chip sends the rest through 61xx
        # The protected answer no longer fits a short response (ICAO 9303-11 §6.1.4 note): extended length.
        return expected if expected > 256 else _ALL_AVAILABLE
    return expected if extended else min(expected, 256)


async def run_active_authentication(
    channel: Channel,
    challenge: bytes,
    *,
    expected_length: int | None = None,
    extended: bool = True,
    prefer_extended: bool = True,
) -> bytes:
    """Send INTERNAL AUTHENTICATE with ``challenge`` (8 bytes, bound to the transaction) and return the signature.

    ``expected_length`` comes from ``signature_length`` over the DG15 key; ``extended`` says whether the link
    carries extended-length APDUs (without it only short ones are sent); ``prefer_extended`` whether the chip
    announced them, which decides the form tried first when the exact Le is refused (a chip without them may end
    secure messaging on an extended one). Raises AccessDenied or ProtocolNotSupported when the chip refuses,
    ParseError when it returns no signature.
    """
    if len(challenge) != CHALLENGE_LENGTH:
        raise ValueError(f"the active-authentication challenge must be {CHALLENGE_LENGTH} bytes")
    le = _first_le(expected_length, secure=channel.secure, extended=extended)
    if not extended:
        forms: tuple[int, ...] = (256,)
    else:
        forms = (_ALL_AVAILABLE, 256) if prefer_extended else (256, _ALL_AVAILABLE)
    tried: set[int] = set()
    best = b""
    for _ in range(3):
        tried.add(le)
        response = await channel.send(CommandAPDU(0x00, 0x88, 0x00, 0x00, data=challenge, le=le))
        hint = wrong_le_hint(response.sw)
        if hint is not None and hint not in tried:
            le = hint
            continue
        if response.sw == StatusWord.WRONG_LENGTH:
            alternative = _alternative(le, tried, forms)
            if alternative is None:
                break
            le = alternative
            continue
        _check(response)
        if len(response.data) > len(best):
            best = response.data
        if response.data and (expected_length is None or len(response.data) >= expected_length):
            return response.data
        alternative = _alternative(le, tried, forms)
        if alternative is None:
            break
        le = alternative
    if not best:
        raise ParseError("the chip returned no active-authentication signature")
    return best


def _alternative(le: int, tried: set[int], forms: tuple[int, ...]) -> int | None:
    for candidate in forms:
        if candidate != le and candidate not in tried:
            return candidate
    return None


def _check(response: ResponseAPDU) -> None:
    if response.sw != StatusWord.SUCCESS:
        raise status_error(response.sw, context="INTERNAL AUTHENTICATE (active authentication)")
