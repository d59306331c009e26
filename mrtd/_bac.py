"""Basic Access Control (ICAO 9303-11 §4.3): GET CHALLENGE, EXTERNAL AUTHENTICATE, 3DES session keys.

The cryptogram helpers are public so the virtual chip answers with the same code the terminal checks against.
"""

from __future__ import annotations

import hmac

from mrtd._access_keys import BacKeys, MrzKey
from mrtd._apdu import (
    CommandAPDU,
    PlainChannel,
    Rng,
    StatusWord,
    Transmit,
    is_authentication_failure,
    random_bytes,
    status_error,
)
from mrtd._crypto import CipherSuite, cbc_decrypt, cbc_encrypt, retail_mac
from mrtd._errors import CardError, ParseError, SecureMessagingError, WrongAccessKey
from mrtd._sm import SecureChannel, SecureMessaging, SessionKeys

RND_LENGTH = 8
KEY_MATERIAL_LENGTH = 16
CRYPTOGRAM_LENGTH = 40  # E(32) ‖ MAC(8)

_WRONG_KEY_MESSAGE = (
    "the chip refused the MRZ key: check the document number, date of birth and date of expiry"
    " (on a CCCD: the last 9 digits of the ID, and the expiry date)"
)


def bac_seal(keys: BacKeys, plaintext: bytes) -> bytes:
    """E(K_enc, S) ‖ MAC(K_mac, E): the EXTERNAL AUTHENTICATE cryptogram of either side."""
    encrypted = cbc_encrypt(CipherSuite.DES3, keys.k_enc, plaintext)
    return encrypted + retail_mac(keys.k_mac, encrypted)


def bac_unseal(keys: BacKeys, cryptogram: bytes) -> bytes:
    """Check the MAC of a cryptogram and decrypt it; a wrong MAC or length is a SecureMessagingError."""
    if len(cryptogram) != CRYPTOGRAM_LENGTH:
        raise SecureMessagingError(f"BAC cryptogram of {len(cryptogram)} bytes, expected {CRYPTOGRAM_LENGTH}")
    encrypted, checksum = cryptogram[:32], cryptogram[32:]
    if not hmac.compare_digest(retail_mac(keys.k_mac, encrypted), checksum):
        raise SecureMessagingError("the BAC cryptogram's MAC does not verify")
    return cbc_decrypt(CipherSuite.DES3, keys.k_enc, encrypted)


def bac_session_keys(k_ifd: bytes, k_ic: bytes) -> SessionKeys:
    """KS_enc and KS_mac from K_seed = K.IFD ⊕ K.IC."""
    if len(k_ifd) != KEY_MATERIAL_LENGTH or len(k_ic) != KEY_MATERIAL_LENGTH:
        raise ValueError("BAC key material must be 16 bytes on each side")
    return SessionKeys.derive(bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True)), CipherSuite.DES3)


def bac_initial_ssc(rnd_ic: bytes, rnd_ifd: bytes) -> int:
    """SSC = the 4 least significant bytes of RND.IC ‖ those of RND.IFD (ICAO 9303-11 §9.8.6.3)."""
    return int.from_bytes(rnd_ic[4:8] + rnd_ifd[4:8], "big")


async def run_bac(transmit: Transmit, key: MrzKey, *, rng: Rng) -> SecureChannel:
    """Run BAC with ``key`` and return the secure channel (3DES, SSC from the challenges).

    The eMRTD application must already be selected. A rejected key raises WrongAccessKey.
    """
    plain = PlainChannel(transmit)
    keys = key.bac_keys()
    # ICAO App. D.3 sends Le = 28; a few chips want Le = 00 instead (6700), which needs a fresh challenge.
    for le in (0x28, 256):
        challenge = await plain.send(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=RND_LENGTH))
        challenge.check(context="GET CHALLENGE for BAC")
        rnd_ic = challenge.data
        if len(rnd_ic) != RND_LENGTH:
            raise ParseError(f"GET CHALLENGE returned {len(rnd_ic)} bytes instead of {RND_LENGTH}")
        rnd_ifd = random_bytes(rng, RND_LENGTH)
        k_ifd = random_bytes(rng, KEY_MATERIAL_LENGTH)
        command = CommandAPDU(0x00, 0x82, 0x00, 0x00, data=bac_seal(keys, rnd_ifd + rnd_ic + k_ifd), le=le)
        answer = await plain.send(command)
        if answer.sw == StatusWord.WRONG_LENGTH and le != 256:
            continue
        if is_authentication_failure(answer.sw) or answer.sw in (
            StatusWord.SECURITY_STATUS_NOT_SATISFIED,
            StatusWord.SM_DATA_OBJECTS_INCORRECT,
        ):
            # 6300: the chip's RND check failed; 6988/6982: its MAC check failed (a wrong key gives a wrong K_mac).
            raise WrongAccessKey(f"{_WRONG_KEY_MESSAGE} ({answer.sw:04X})", sw=answer.sw)
        if answer.sw != StatusWord.SUCCESS:
            raise status_error(answer.sw, context="EXTERNAL AUTHENTICATE for BAC")
        plain_answer = bac_unseal(keys, answer.data)
        if not hmac.compare_digest(plain_answer[:8], rnd_ic) or not hmac.compare_digest(plain_answer[8:16], rnd_ifd):
            raise SecureMessagingError("the chip's BAC answer does not echo the challenges")
        sm = SecureMessaging(bac_session_keys(k_ifd, plain_answer[16:32]), ssc=bac_initial_ssc(rnd_ic, rnd_ifd))
        return SecureChannel(transmit, sm)
    raise CardError("the chip refused EXTERNAL AUTHENTICATE with both Le = 28 and Le = 00", sw=StatusWord.WRONG_LENGTH)
