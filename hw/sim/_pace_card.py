"""The chip's side of PACE (ICAO 9303-11 §4.4): ECDH generic mapping on brainpoolP256r1 with AES-128.

Each GENERAL AUTHENTICATE step is a small function of the run's state and the command. The cryptography is the
terminal's own code from ``mrtd._pace`` (nonce encryption, key generation, the mapping, key agreement, the
authentication token), so both ends compute the same thing by construction and the ICAO worked example (App. G.1)
pins them from the chip's side too.
"""

from __future__ import annotations

import hmac

from hw.sim._personalise import PACE_PARAMETER_ID, PACE_PROTOCOL
from mrtd import (
    AccessKey,
    Can,
    CipherSuite,
    CommandAPDU,
    Curve,
    GroupElement,
    MrzKey,
    ParseError,
    PasswordType,
    ResponseAPDU,
    Rng,
    SecureMessagingError,
    SessionKeys,
    StatusWord,
    authentication_token,
    curve_by_pace_parameter_id,
    decode_oid,
    encode_tlv,
    encrypt_nonce,
    generate_key_pair,
    generic_mapping,
    key_agreement,
    nonce_length,
    pace_password_key,
    parse_one,
)

_SUITE = CipherSuite.AES128


class PaceRun:
    """What the chip remembers between the four GENERAL AUTHENTICATE steps of one PACE run."""

    def __init__(self, protocol: str, password_key: bytes, curve: Curve) -> None:
        self.protocol = protocol
        self.password_key = password_key
        self.curve = curve
        self.step = 0
        self.nonce = b""
        self.mapped_generator: GroupElement | None = None
        self.pk_map_ifd = b""
        self.pk_ic = b""
        self.pk_ifd = b""
        self.pending_keys: SessionKeys | None = None  # derived at step 3, in force once the tokens match
        self.keys: SessionKeys | None = None


def start_pace(objects: dict[int, bytes], *, can: Can, mrz_key: MrzKey) -> PaceRun | int:
    """MSE:Set AT for PACE: the run, or the status word refusing it."""
    try:
        protocol = decode_oid(objects.get(0x80, b""))
    except ParseError:
        return StatusWord.INCORRECT_DATA
    if protocol != PACE_PROTOCOL:
        return StatusWord.INCORRECT_DATA
    parameter = objects.get(0x84)
    if parameter is not None and int.from_bytes(parameter, "big") != PACE_PARAMETER_ID:
        return StatusWord.INCORRECT_DATA
    reference = int.from_bytes(objects.get(0x83, b""), "big")
    password: AccessKey
    if reference == PasswordType.CAN:
        password = can
    elif reference == PasswordType.MRZ:
        password = mrz_key
    else:
        return StatusWord.REFERENCED_DATA_NOT_FOUND
    return PaceRun(protocol, pace_password_key(password, _SUITE), curve_by_pace_parameter_id(PACE_PARAMETER_ID))


def _dynamic(data: bytes, tag: int | None) -> bytes | None:
    """The value of ``tag`` inside the ``7C`` template (``tag`` None: the template must be empty)."""
    try:
        outer = parse_one(data)
        if outer.tag != 0x7C:
            return None
        if tag is None:
            return b"" if not outer.value else None
        inner = outer.find(tag)
    except ParseError:
        return None
    return inner.value if inner is not None else None


def _answer(tag: int, value: bytes) -> ResponseAPDU:
    return ResponseAPDU(encode_tlv(0x7C, encode_tlv(tag, value)), StatusWord.SUCCESS)


def pace_step(run: PaceRun, command: CommandAPDU, *, rng: Rng) -> ResponseAPDU | int:
    """One GENERAL AUTHENTICATE step: the answer, or a status word that ends the run."""
    if bool(command.cla & 0x10) == (run.step == 3):
        return StatusWord.CONDITIONS_OF_USE_NOT_SATISFIED  # command chaining on all but the last step
    try:
        return _STEPS[run.step](run, command.data, rng)
    except (ParseError, SecureMessagingError):
        return StatusWord.INCORRECT_DATA


def _encrypted_nonce(run: PaceRun, data: bytes, rng: Rng) -> ResponseAPDU | int:
    if _dynamic(data, None) != b"":
        return StatusWord.INCORRECT_DATA
    run.nonce = rng(nonce_length(_SUITE))
    run.step = 1
    return _answer(0x80, encrypt_nonce(run.password_key, run.nonce, _SUITE))


def _map(run: PaceRun, data: bytes, rng: Rng) -> ResponseAPDU | int:
    pk_map_ifd = _dynamic(data, 0x81)
    if pk_map_ifd is None:
        return StatusWord.INCORRECT_DATA
    sk_map, pk_map = generate_key_pair(run.curve.generator, rng)
    shared = key_agreement(sk_map, run.curve.decode_point(pk_map_ifd))
    run.mapped_generator = generic_mapping(run.curve, run.nonce, shared)
    run.pk_map_ifd = pk_map_ifd
    run.step = 2
    return _answer(0x82, pk_map.encode())


def _agree(run: PaceRun, data: bytes, rng: Rng) -> ResponseAPDU | int:
    pk_ifd = _dynamic(data, 0x83)
    if pk_ifd is None or pk_ifd == run.pk_map_ifd or run.mapped_generator is None:
        return StatusWord.INCORRECT_DATA
    sk_ic, pk_ic = generate_key_pair(run.mapped_generator, rng)
    secret = key_agreement(sk_ic, run.curve.decode_point(pk_ifd))
    run.pk_ic, run.pk_ifd = pk_ic.encode(), pk_ifd
    run.pending_keys = SessionKeys.derive(secret.x_bytes(), _SUITE)
    run.step = 3
    return _answer(0x84, run.pk_ic)


def _authenticate(run: PaceRun, data: bytes, rng: Rng) -> ResponseAPDU | int:
    token = _dynamic(data, 0x85)
    keys = run.pending_keys
    if token is None or keys is None:
        return StatusWord.INCORRECT_DATA
    expected = authentication_token(keys.suite, keys.k_mac, run.protocol, run.pk_ic)
    if not hmac.compare_digest(token, expected):
        return StatusWord.VERIFICATION_FAILED  # a wrong password gives other keys, so another token
    run.keys = keys
    return _answer(0x86, authentication_token(keys.suite, keys.k_mac, run.protocol, run.pk_ifd))


_STEPS = (_encrypted_nonce, _map, _agree, _authenticate)
