"""PACE v2 (ICAO 9303-11 §4.4): Generic and Integrated Mapping on elliptic curves and on the MODP groups of RFC 5114,
Chip Authentication Mapping on curves; 3DES and AES-128/192/256; password CAN or MRZ (or PIN).

``run_pace`` is the terminal's exchange: MSE:Set AT, then a chain of four GENERAL AUTHENTICATE commands (CLA 10 on
all but the last). The cryptographic steps are public functions so the virtual chip computes its side with the same
code: nonce encryption, the two mappings, key generation, key agreement, the authentication token and the CAM data.
Every step is written once for a ``Group`` (``_groups``): a curve point and a residue mod p differ only in how they
are encoded and mapped. Chips with proprietary domain parameters (PACEDomainParameterInfo) are ProtocolNotSupported,
and the session falls back to BAC.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass
from typing import Final, TypeVar

from mrtd._access_keys import AccessKey, PasswordType, pace_password_key
from mrtd._apdu import (
    CommandAPDU,
    PlainChannel,
    ResponseAPDU,
    Rng,
    StatusWord,
    Transmit,
    is_authentication_failure,
    random_bytes,
    status_error,
)
from mrtd._crypto import CipherSuite, cbc_decrypt, cbc_encrypt, ecb_encrypt_block, mac, pad, unpad
from mrtd._curves import Curve, Point, curve_by_pace_parameter_id
from mrtd._errors import ParseError, ProtocolNotSupported, SecureMessagingError, WrongAccessKey
from mrtd._groups import Group, GroupElement
from mrtd._modp import ModpGroup, modp_group_by_pace_parameter_id
from mrtd._oids import encode_oid
from mrtd._security_infos import PaceInfo
from mrtd._sm import SecureChannel, SecureMessaging, SessionKeys
from mrtd._tlv import TLV, encode_tlv, parse_one

# ICAO 9303-11 §4.4.3.3.2: constants of the pseudo-random number mapping, by output length.
_C0_128: Final = bytes.fromhex("a668892a7c41e3ca739f40b057d85904")
_C1_128: Final = bytes.fromhex("a4e136ac725f738b01c1f60217c188ad")
_C0_256: Final = bytes.fromhex("d463d65234124ef7897054986dca0a174e28df758cbaa03f240616414d5a1676")
_C1_256: Final = bytes.fromhex("54bd7255f0aaf831bec3423fcf39d69b6cbf066677d0faae5aadd99df8e53517")

_KEYGEN_ATTEMPTS: Final = 64
_AUTH_TEMPLATE = 0x7C
_PUBLIC_KEY_TEMPLATE = 0x7F49

# Status words with which a chip says it will not do PACE (as asked): the session then falls back to BAC.
_REFUSALS: Final = frozenset(
    {
        StatusWord.SECURITY_STATUS_NOT_SATISFIED,
        StatusWord.CONDITIONS_OF_USE_NOT_SATISFIED,
        StatusWord.INCORRECT_DATA,
        StatusWord.INCORRECT_P1_P2,
        StatusWord.REFERENCED_DATA_NOT_FOUND,
        StatusWord.FUNCTION_NOT_SUPPORTED,
        StatusWord.INS_NOT_SUPPORTED,
        StatusWord.CLA_NOT_SUPPORTED,
    }
)


# Status words that, at the mutual-authentication step, mean the terminal's token did not verify.
_TOKEN_REFUSALS: Final = frozenset({StatusWord.SECURITY_STATUS_NOT_SATISFIED, StatusWord.INCORRECT_DATA})


class PaceMapping(enum.Enum):
    GENERIC = "GM"
    INTEGRATED = "IM"
    CHIP_AUTHENTICATION = "CAM"


_MAPPINGS = {
    "ECDH-GM": PaceMapping.GENERIC,
    "ECDH-IM": PaceMapping.INTEGRATED,
    "ECDH-CAM": PaceMapping.CHIP_AUTHENTICATION,
    "DH-GM": PaceMapping.GENERIC,
    "DH-IM": PaceMapping.INTEGRATED,
}
# The OIDs id-PACE-DH-GM and id-PACE-DH-IM (BSI TR-03110-3 A.1.1), whose public keys are tagged 84, not 86.
_DH_PROTOCOL_PARENTS: Final = frozenset({"0.4.0.127.0.7.2.2.4.1", "0.4.0.127.0.7.2.2.4.3"})

E = TypeVar("E", bound=GroupElement)


def _pace_group(mapping: str, parameter_id: int) -> Group:
    """The standardized domain parameters (ICAO 9303-11 §9.5.1) a mapping names: a MODP group for DH, a curve for
    ECDH; a mismatch between the two is ProtocolNotSupported."""
    try:
        if mapping.startswith("DH-"):
            return modp_group_by_pace_parameter_id(parameter_id)
        return curve_by_pace_parameter_id(parameter_id)
    except ParseError as exc:
        raise ProtocolNotSupported(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class PaceProtocol:
    """One runnable PACE variant: the protocol OID with its mapping, cipher and group (a curve or a MODP group)."""

    oid: str
    mapping: PaceMapping
    suite: CipherSuite
    group: Group
    parameter_id: int

    @property
    def is_dh(self) -> bool:
        return isinstance(self.group, ModpGroup)

    @property
    def label(self) -> str:
        return f"{'DH' if self.is_dh else 'ECDH'}-{self.mapping.value} {self.suite.label} {self.group.name}"

    @classmethod
    def from_info(cls, info: PaceInfo) -> PaceProtocol:
        """The variant a PACEInfo announces; proprietary or unknown domain parameters are ProtocolNotSupported."""
        try:
            mapping = _MAPPINGS[info.mapping]
        except KeyError:
            raise ProtocolNotSupported(f"PACE with {info.mapping} mapping is not supported") from None
        if info.version != 2:
            raise ProtocolNotSupported(f"PACE version {info.version} is not supported (version 2 is)")
        if info.parameter_id is None:
            raise ProtocolNotSupported("PACEInfo without a standardized domain parameter id is not supported")
        group = _pace_group(info.mapping, info.parameter_id)
        if mapping is PaceMapping.CHIP_AUTHENTICATION and info.cipher is CipherSuite.DES3:
            raise ProtocolNotSupported("PACE-CAM is defined for AES only")
        if mapping is PaceMapping.INTEGRATED and isinstance(group, Curve) and group.p % 4 != 3:
            raise ProtocolNotSupported(f"the Integrated Mapping cannot be used with {group.name}")
        return cls(info.protocol, mapping, info.cipher, group, info.parameter_id)


def preference(protocol: PaceProtocol) -> tuple[bool, int, int, int]:
    """Sort key, best first: curves before MODP groups (smaller keys and faster arithmetic for the same security), GM
    over CAM over IM (GM is what every reader and chip implements), then the strongest cipher, then brainpoolP256r1
    (the CCCD curve) before the others."""
    mapping_rank = {PaceMapping.GENERIC: 0, PaceMapping.CHIP_AUTHENTICATION: 1, PaceMapping.INTEGRATED: 2}
    return (
        protocol.is_dh,
        mapping_rank[protocol.mapping],
        -protocol.suite.key_length,
        0 if protocol.parameter_id == 13 else 1,
    )


# Pure steps, shared with the chip side.


def nonce_length(suite: CipherSuite) -> int:
    """Length of the chip's nonce s: the smallest multiple of the block size not shorter than the key (§4.4.3.3)."""
    return -(-suite.key_length // suite.block_size) * suite.block_size


def encrypt_nonce(k_pi: bytes, nonce: bytes, suite: CipherSuite) -> bytes:
    """z = E(K_π, s), CBC with a zero IV (the chip's side of GA step 1)."""
    return cbc_encrypt(suite, k_pi, nonce)


def decrypt_nonce(k_pi: bytes, encrypted_nonce: bytes, suite: CipherSuite) -> bytes:
    """s = D(K_π, z)."""
    if not encrypted_nonce or len(encrypted_nonce) % suite.block_size:
        raise ParseError("the encrypted PACE nonce is not a whole number of cipher blocks")
    return cbc_decrypt(suite, k_pi, encrypted_nonce)


def generate_key_pair(generator: E, rng: Rng) -> tuple[int, E]:
    """An ephemeral key pair on the group of ``generator``. The private key is the rng's bytes taken as an integer
    (masked to the order's bit length, redrawn when out of range), so the worked examples replay exactly."""
    order = generator.group.order
    size = (order.bit_length() + 7) // 8
    mask = (1 << order.bit_length()) - 1
    for _ in range(_KEYGEN_ATTEMPTS):
        secret = int.from_bytes(random_bytes(rng, size), "big") & mask
        if 0 < secret < order:
            return secret, generator * secret
    raise ValueError("the random source keeps producing private keys out of range")


def key_agreement(private_key: int, public_key: E) -> E:
    """ECKA or DH: the shared element; the identity (a hostile public key) is refused."""
    shared = public_key * (private_key * public_key.group.cofactor)
    if shared.is_identity:
        raise SecureMessagingError("key agreement gave the neutral element: the peer's public key is invalid")
    return shared


def generic_mapping(group: Group, nonce: bytes, shared: GroupElement) -> GroupElement:
    """G~ = s·G + H (§4.4.3.3.1; g~ = g^s · h for DH), H the element agreed with the mapping keys."""
    if shared.group != group:
        raise ValueError("the mapping's shared element is not in the protocol's group")
    mapped = group.generator * int.from_bytes(nonce, "big") + shared
    if mapped.is_identity:
        raise SecureMessagingError("the Generic Mapping gave the neutral element")
    return mapped


def pseudo_random_bytes(nonce: bytes, terminal_nonce: bytes, suite: CipherSuite, bits: int) -> bytes:
    """x_1 ‖ … ‖ x_n of §4.4.3.3.2 with n·l ≥ bits + 64: x_i = E(k_i, c1), k_{i+1} = E(k_i, c0), k_0 = E(t, s)."""
    c0, c1 = (_C0_128, _C1_128) if suite.key_length <= 16 else (_C0_256, _C1_256)
    if len(terminal_nonce) != suite.key_length:
        raise ParseError(f"the IM nonce t must be {suite.key_length} bytes for {suite.label}")
    if not nonce or len(nonce) % suite.block_size:
        raise ParseError("the IM nonce s is not a whole number of cipher blocks")
    key = cbc_encrypt(suite, terminal_nonce, nonce)[: suite.key_length]
    if len(key) < suite.key_length:
        raise ParseError("the IM nonce s is shorter than the cipher key")
    blocks = b""
    while len(blocks) * 8 < bits + 64:
        blocks += cbc_encrypt(suite, key, c1)
        key = cbc_encrypt(suite, key, c0)[: suite.key_length]
    return blocks


def pseudo_random_number(nonce: bytes, terminal_nonce: bytes, suite: CipherSuite, p: int) -> int:
    """R_p(s, t): the pseudo-random blocks as an integer, mod p."""
    return int.from_bytes(pseudo_random_bytes(nonce, terminal_nonce, suite, p.bit_length()), "big") % p


def point_encoding(curve: Curve, u: int) -> Point:
    """f_G of ICAO 9303-11 App. B (BCIMRT 2010, a simplified SWU encoding) for curves with p ≡ 3 mod 4."""
    p, a, b = curve.p, curve.a, curve.b
    if p % 4 != 3:
        raise ProtocolNotSupported(f"the point encoding needs p ≡ 3 mod 4, which {curve.name} does not have")
    alpha = (-u * u) % p
    denominator = (a * (alpha + alpha * alpha)) % p
    if denominator == 0:
        raise ParseError("the IM nonces map to an exceptional field element")
    x2 = (-b * (1 + alpha + alpha * alpha) * pow(denominator, -1, p)) % p
    x3 = (alpha * x2) % p
    h2 = (x2 * x2 * x2 + a * x2 + b) % p
    root = pow(h2, p - 1 - (p + 1) // 4, p)
    if root * root * h2 % p == 1:
        point = Point(curve, x2, root * h2 % p)
    else:
        point = Point(curve, x3, root * pow(u, 3, p) * h2 % p)
    mapped = point * curve.h if curve.h != 1 else point
    if mapped.is_infinity or mapped.x is None or mapped.y is None or not curve.contains(mapped.x, mapped.y):
        raise ParseError("the IM point encoding did not give a point of the curve")
    return mapped


def integrated_mapping(group: Group, nonce: bytes, terminal_nonce: bytes, suite: CipherSuite) -> GroupElement:
    """G~ = f_G(R_p(s, t)) (§4.4.3.3.2): the point encoding on a curve, g~ = R_p^((p-1)/q) mod p in a MODP group."""
    if isinstance(group, Curve):
        return point_encoding(group, pseudo_random_number(nonce, terminal_nonce, suite, group.p))
    if isinstance(group, ModpGroup):
        r_p = pseudo_random_number(nonce, terminal_nonce, suite, group.p)
        return group.element(pow(r_p, (group.p - 1) // group.q, group.p))
    raise ProtocolNotSupported(f"the Integrated Mapping is not defined for {group.name}")


def public_key_data_object(oid: str, public_key: bytes) -> bytes:
    """``7F49 { 06 OID, 86 point }`` or, for DH, ``7F49 { 06 OID, 84 y }`` with y an unsigned integer (no leading
    zero bytes): what the authentication token is computed over (§4.4.3.4, §9.4; BSI TR-03110-3 D.3)."""
    if oid.rsplit(".", 1)[0] in _DH_PROTOCOL_PARENTS:
        key = encode_tlv(0x84, public_key.lstrip(b"\x00") or b"\x00")
    else:
        key = encode_tlv(0x86, public_key)
    return encode_tlv(_PUBLIC_KEY_TEMPLATE, encode_tlv(0x06, encode_oid(oid)) + key)


def authentication_token(suite: CipherSuite, k_mac: bytes, oid: str, public_key: bytes) -> bytes:
    """T = MAC(KS_mac, public key data object of the *other* side's ephemeral key); the MAC pads internally."""
    return mac(suite, k_mac, public_key_data_object(oid, public_key))


def chip_authentication_data(static_private_key: int, mapping_private_key: int, curve: Curve) -> int:
    """CA_IC = SK_IC⁻¹ · SK_map,IC mod n (§4.4.3.5.1), the chip's proof in PACE-CAM."""
    return pow(static_private_key, -1, curve.n) * mapping_private_key % curve.n


def _cam_iv(suite: CipherSuite, k_enc: bytes) -> bytes:
    return ecb_encrypt_block(suite, k_enc, b"\xff" * suite.block_size)


def encrypt_chip_authentication_data(suite: CipherSuite, k_enc: bytes, ca_ic: int, curve: Curve) -> bytes:
    """A_IC = E(KS_enc, FE2OS(CA_IC)), AES-CBC with IV = E(KS_enc, -1) and padding method 2 (§4.4.3.5)."""
    size = (curve.n.bit_length() + 7) // 8
    return cbc_encrypt(suite, k_enc, pad(ca_ic.to_bytes(size, "big"), suite.block_size), _cam_iv(suite, k_enc))


def decrypt_chip_authentication_data(suite: CipherSuite, k_enc: bytes, encrypted: bytes) -> int:
    if not encrypted or len(encrypted) % suite.block_size:
        raise SecureMessagingError("the encrypted chip authentication data is not a whole number of blocks")
    try:
        return int.from_bytes(unpad(cbc_decrypt(suite, k_enc, encrypted, _cam_iv(suite, k_enc))), "big")
    except ParseError as exc:
        raise SecureMessagingError("the chip authentication data has no valid padding") from exc


@dataclass(frozen=True, slots=True)
class CamEvidence:
    """What PACE-CAM leaves for the terminal to check once it has the chip's static key (CardSecurity or DG14)."""

    curve: Curve
    ca_ic: int
    mapping_public_key: bytes

    def verify(self, static_public_key: Point) -> bool:
        """PK_map,IC = CA_IC · PK_IC (§4.4.3.5.2). Passive authentication of the key's file is still required."""
        if static_public_key.curve != self.curve or not 0 < self.ca_ic < self.curve.n:
            return False
        return (static_public_key * self.ca_ic).encode() == self.mapping_public_key


@dataclass(frozen=True, slots=True)
class PaceResult:
    """The channel PACE opened and what a verifier or a later Terminal Authentication needs."""

    channel: SecureChannel
    protocol: PaceProtocol
    password_type: PasswordType
    chip_public_key: bytes
    terminal_public_key: bytes
    cam: CamEvidence | None


def _dynamic_data(response: ResponseAPDU, tag: int, *, step: str, allow_empty: bool = False) -> bytes:
    try:
        template = parse_one(response.data) if response.data else TLV(_AUTH_TEMPLATE, b"")
        if template.tag != _AUTH_TEMPLATE:
            raise ParseError(f"the answer to {step} is not a dynamic authentication data object (7C)")
        child = template.find(tag)
    except ParseError as exc:
        raise ParseError(f"malformed answer to {step}: {exc}") from exc
    if child is None:
        if allow_empty:
            return b""
        raise ParseError(f"the answer to {step} has no data object {tag:02X}")
    return child.value


class _Exchange:
    """The APDU side of one PACE run: statuses turned into the errors the session acts on."""

    def __init__(self, transmit: Transmit, key: AccessKey) -> None:
        self._channel = PlainChannel(transmit)
        self._key = key

    def _wrong_key(self, sw: int) -> WrongAccessKey:
        what = self._key.password_type.label
        hint = " (on a CCCD: the last 6 digits of the ID)" if self._key.password_type is PasswordType.CAN else ""
        return WrongAccessKey(f"the chip refused the {what}{hint} in PACE ({sw:04X})", sw=sw)

    async def mse_set_at(self, data: bytes) -> None:
        response = await self._channel.send(CommandAPDU(0x00, 0x22, 0xC1, 0xA4, data=data))
        if response.sw in _REFUSALS:
            raise ProtocolNotSupported(f"the chip refused PACE in MSE:Set AT ({response.sw:04X})", sw=response.sw)
        response.check(context="MSE:Set AT for PACE")

    async def general_authenticate(self, payload: bytes, *, last: bool, step: str) -> ResponseAPDU:
        command = CommandAPDU(
            0x00 if last else 0x10, 0x86, 0x00, 0x00, data=encode_tlv(_AUTH_TEMPLATE, payload), le=256
        )
        response = await self._channel.send(command)
        if is_authentication_failure(response.sw):
            raise self._wrong_key(response.sw)
        if last and response.sw in _TOKEN_REFUSALS:
            # At the token step the chip checks that both sides derived the same keys, which only a wrong password
            # prevents: Vietnamese cards answer a wrong CAN here with 6982, not 63xx (cccd-spec §2.1).
            raise self._wrong_key(response.sw)
        if response.sw in _REFUSALS:
            raise ProtocolNotSupported(f"the chip refused PACE at {step} ({response.sw:04X})", sw=response.sw)
        if response.sw != StatusWord.SUCCESS:
            raise status_error(response.sw, context=f"PACE {step}")
        return response


def mse_set_at_data(protocol: PaceProtocol, password_type: PasswordType, *, send_parameter_id: bool) -> bytes:
    """The data of MSE:Set AT: protocol OID (80), password reference (83), domain parameter id (84) if asked."""
    data = encode_tlv(0x80, encode_oid(protocol.oid)) + encode_tlv(0x83, bytes((int(password_type),)))
    if send_parameter_id:
        data += encode_tlv(0x84, bytes((protocol.parameter_id,)))
    return data


async def run_pace(
    transmit: Transmit,
    key: AccessKey,
    info: PaceInfo,
    *,
    rng: Rng,
    send_parameter_id: bool = False,
) -> PaceResult:
    """Run PACE with ``key`` as ``info`` (from EF.CardAccess) announces it; returns the secure channel (SSC 0).

    ``send_parameter_id`` adds the ``84`` object to MSE:Set AT; ICAO requires it when the chip offers more than one
    set of domain parameters, and some chips want it always (a refusal without it is retried once with it). A
    refused password raises WrongAccessKey; a chip that refuses the protocol raises ProtocolNotSupported (the caller
    falls back to BAC).
    """
    protocol = PaceProtocol.from_info(info)
    suite, group = protocol.suite, protocol.group
    exchange = _Exchange(transmit, key)
    try:
        await exchange.mse_set_at(mse_set_at_data(protocol, key.password_type, send_parameter_id=send_parameter_id))
    except ProtocolNotSupported:
        if send_parameter_id:
            raise
        # The parameter id is optional with one PACEInfo, but some chips refuse MSE:Set AT without it: once more.
        await exchange.mse_set_at(mse_set_at_data(protocol, key.password_type, send_parameter_id=True))

    # Step 1: the encrypted nonce.
    answer = await exchange.general_authenticate(b"", last=False, step="GENERAL AUTHENTICATE (nonce)")
    nonce = decrypt_nonce(pace_password_key(key, suite), _dynamic_data(answer, 0x80, step="the nonce"), suite)

    # Step 2: the mapping.
    mapping_public_key: bytes = b""
    mapping_private_key = 0
    generator: GroupElement
    if protocol.mapping is PaceMapping.INTEGRATED:
        terminal_nonce = random_bytes(rng, suite.key_length)
        answer = await exchange.general_authenticate(
            encode_tlv(0x81, terminal_nonce), last=False, step="GENERAL AUTHENTICATE (mapping)"
        )
        _dynamic_data(answer, 0x82, step="the mapping", allow_empty=True)
        generator = integrated_mapping(group, nonce, terminal_nonce, suite)
    else:
        mapping_private_key, terminal_mapping_key = generate_key_pair(group.generator, rng)
        answer = await exchange.general_authenticate(
            encode_tlv(0x81, terminal_mapping_key.encode()), last=False, step="GENERAL AUTHENTICATE (mapping)"
        )
        mapping_public_key = _dynamic_data(answer, 0x82, step="the mapping")
        chip_mapping_key = group.decode(mapping_public_key)
        if chip_mapping_key == terminal_mapping_key:
            raise SecureMessagingError("the chip echoed the terminal's mapping key")
        generator = generic_mapping(group, nonce, key_agreement(mapping_private_key, chip_mapping_key))

    # Step 3: key agreement on the mapped generator.
    private_key, terminal_key = generate_key_pair(generator, rng)
    terminal_public_key = terminal_key.encode()
    answer = await exchange.general_authenticate(
        encode_tlv(0x83, terminal_public_key), last=False, step="GENERAL AUTHENTICATE (key agreement)"
    )
    chip_public_key = _dynamic_data(answer, 0x84, step="the key agreement")
    # Every standard curve has cofactor 1, so a point on the curve is in the group G~ generates; a MODP public value
    # is checked against the subgroup's order when decoded.
    chip_key = group.decode(chip_public_key)
    if chip_key == terminal_key:
        raise SecureMessagingError("the chip echoed the terminal's ephemeral key")
    keys = SessionKeys.derive(key_agreement(private_key, chip_key).x_bytes(), suite)

    # Step 4: mutual authentication.
    token = authentication_token(suite, keys.k_mac, protocol.oid, chip_public_key)
    answer = await exchange.general_authenticate(
        encode_tlv(0x85, token), last=True, step="GENERAL AUTHENTICATE (mutual authentication)"
    )
    chip_token = _dynamic_data(answer, 0x86, step="the mutual authentication")
    expected = authentication_token(suite, keys.k_mac, protocol.oid, terminal_public_key)
    if not hmac.compare_digest(chip_token, expected):
        raise SecureMessagingError("the chip's PACE authentication token does not verify")
    cam = None
    if protocol.mapping is PaceMapping.CHIP_AUTHENTICATION and isinstance(group, Curve):
        encrypted = _dynamic_data(answer, 0x8A, step="the mutual authentication (CAM)")
        cam = CamEvidence(group, decrypt_chip_authentication_data(suite, keys.k_enc, encrypted), mapping_public_key)
    return PaceResult(
        SecureChannel(transmit, SecureMessaging(keys, ssc=0)),
        protocol,
        key.password_type,
        chip_public_key,
        terminal_public_key,
        cam,
    )
