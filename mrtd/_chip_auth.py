"""Chip authentication (ICAO 9303-11 §6.2) with the DG14 key: ephemeral-static ECDH, then new session keys.

The chip proves it holds the private key of the DG14 public key implicitly: only that key gives the new session keys,
so the first answer under them verifies only if the chip is genuine. That is why the exchange ends with a probe: one
command under the new keys (a SELECT by default), whose MAC failing means a clone.

AES chips use MSE:Set AT + GENERAL AUTHENTICATE; 3DES chips use MSE:Set KAT. Both are sent under the current secure
messaging with the old keys; the new keys start with SSC 0. DH chip-authentication keys are not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mrtd._apdu import CommandAPDU, ResponseAPDU, Rng, StatusWord, status_error
from mrtd._crypto import CipherSuite
from mrtd._curves import Point, curve_by_pace_parameter_id, load_ec_public_key
from mrtd._errors import ChipAuthError, ParseError, ProtocolNotSupported, SecureMessagingError
from mrtd._files import FileId
from mrtd._oids import EC_PUBLIC_KEY, ID_CA_ECDH, decode_integer, decode_oid, encode_oid
from mrtd._pace import generate_key_pair, key_agreement
from mrtd._reader import select_file_command
from mrtd._security_infos import ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo, protocol_cipher
from mrtd._sm import SecureChannel, SecureMessaging, SessionKeys
from mrtd._tlv import encode_tlv, parse_one

_STANDARDIZED_DOMAIN_PARAMETERS: Final = "0.4.0.127.0.7.1.2"
_DH_PUBLIC_NUMBER: Final = "1.2.840.10046.2.1"
# ICAO 9303-11 §9.2.6: without a ChipAuthenticationInfo, the protocol is id-CA-ECDH-3DES-CBC-CBC.
DEFAULT_EC_PROTOCOL: Final = ID_CA_ECDH + ".1"


class ChipAuthenticationFailed(ChipAuthError):
    """Chip authentication did not complete. ``keys_changed`` tells whether the chip may already use new keys, in
    which case the old secure channel is gone too and access control has to run again."""

    def __init__(self, message: str, *, keys_changed: bool, sw: int | None = None) -> None:
        super().__init__(message)
        self.keys_changed = keys_changed
        self.sw = sw


@dataclass(frozen=True, slots=True)
class ChipAuthResult:
    """The new secure channel and what was agreed."""

    channel: SecureChannel
    protocol: str
    key_id: int | None
    terminal_public_key: bytes

    @property
    def cipher(self) -> CipherSuite:
        return protocol_cipher(self.protocol)


def chip_authentication_key(public_key_info: ChipAuthenticationPublicKeyInfo) -> Point:
    """The chip's static EC key from DG14 (or EF.CardSecurity): named, explicit or standardized domain parameters."""
    spki = public_key_info.public_key
    try:
        top = parse_one(spki)
        algorithm, bit_string = top.children()[:2]
        algorithm_parts = algorithm.children()
        oid = decode_oid(algorithm_parts[0].value)
    except (ParseError, ValueError, IndexError) as exc:
        raise ParseError(f"malformed chip authentication public key: {exc}") from exc
    if oid == EC_PUBLIC_KEY:
        return load_ec_public_key(spki).point
    if oid == _STANDARDIZED_DOMAIN_PARAMETERS:
        if len(algorithm_parts) < 2 or algorithm_parts[1].tag != 0x02 or bit_string.tag != 0x03:
            raise ParseError("standardized domain parameters without a parameter id")
        curve = curve_by_pace_parameter_id(decode_integer(algorithm_parts[1].value))
        if not bit_string.value or bit_string.value[0] != 0:
            raise ParseError("the chip authentication key is not a whole number of bytes")
        return curve.decode_point(bit_string.value[1:])
    if oid == _DH_PUBLIC_NUMBER:
        raise ProtocolNotSupported("chip authentication with a DH key is not supported")
    raise ParseError(f"chip authentication key of unknown algorithm {oid}")


def _protocol(info: ChipAuthenticationInfo | None) -> str:
    if info is None:
        return DEFAULT_EC_PROTOCOL
    if not info.is_ecdh:
        raise ProtocolNotSupported("chip authentication with DH is not supported")
    return info.protocol


async def _send(channel: SecureChannel, command: CommandAPDU, *, step: str) -> ResponseAPDU:
    try:
        response = await channel.send(command)
    except SecureMessagingError as exc:
        # The answer under the old keys failed: whatever the chip did, the session is no longer usable.
        raise ChipAuthenticationFailed(f"chip authentication failed at {step}: {exc}", keys_changed=True) from exc
    if response.sw != StatusWord.SUCCESS:
        error = status_error(response.sw, context=f"chip authentication {step}")
        # ICAO 9303-11 §6.2.4: on an error the previously established session keys remain valid.
        raise ChipAuthenticationFailed(str(error), keys_changed=False, sw=response.sw)
    return response


async def run_chip_authentication(
    channel: SecureChannel,
    public_key_info: ChipAuthenticationPublicKeyInfo,
    *,
    info: ChipAuthenticationInfo | None = None,
    rng: Rng,
    probe: FileId | None = FileId.COM,
) -> ChipAuthResult:
    """Run chip authentication over ``channel`` with the DG14 key and return the new secure channel.

    ``info`` is the matching ChipAuthenticationInfo (None: 3DES, as ICAO prescribes). ``probe`` is a file to SELECT
    under the new keys to prove the chip derived them too; pass None when the caller's next command does that.
    Raises ChipAuthenticationFailed (a ChipAuthError) when the chip refuses or fails, ProtocolNotSupported for DH.
    """
    protocol = _protocol(info)
    suite = protocol_cipher(protocol)
    chip_key = chip_authentication_key(public_key_info)
    private_key, terminal_key = generate_key_pair(chip_key.curve.generator, rng)
    terminal_public_key = terminal_key.encode()
    key_reference = b""
    key_id = public_key_info.key_id if public_key_info.key_id is not None else (info.key_id if info else None)
    if key_id is not None:
        key_reference = encode_tlv(0x84, key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big"))

    if suite is CipherSuite.DES3:
        data = encode_tlv(0x91, terminal_public_key) + key_reference
        await _send(channel, CommandAPDU(0x00, 0x22, 0x41, 0xA6, data=data), step="MSE:Set KAT")
    else:
        data = encode_tlv(0x80, encode_oid(protocol)) + key_reference
        await _send(channel, CommandAPDU(0x00, 0x22, 0x41, 0xA4, data=data), step="MSE:Set AT")
        payload = encode_tlv(0x7C, encode_tlv(0x80, terminal_public_key))
        answer = await _send(
            channel, CommandAPDU(0x00, 0x86, 0x00, 0x00, data=payload, le=256), step="GENERAL AUTHENTICATE"
        )
        if answer.data:
            try:
                if parse_one(answer.data).tag != 0x7C:
                    raise ParseError("not a dynamic authentication data object")
            except ParseError as exc:
                raise ChipAuthenticationFailed(
                    f"malformed answer to GENERAL AUTHENTICATE: {exc}", keys_changed=True
                ) from exc

    keys = SessionKeys.derive(key_agreement(private_key, chip_key).x_bytes(), suite)
    new_channel = SecureChannel(channel.transmit, SecureMessaging(keys, ssc=0))
    if probe is not None:
        await verify_new_channel(new_channel, probe)
    return ChipAuthResult(new_channel, protocol, key_id, terminal_public_key)


async def verify_new_channel(channel: SecureChannel, probe: FileId) -> None:
    """One SELECT under the new keys: a chip without the DG14 private key cannot answer it with a valid MAC."""
    # Any answer whose MAC verifies proves the keys, whatever its status word.
    try:
        await channel.send(select_file_command(probe))
    except SecureMessagingError as exc:
        raise ChipAuthenticationFailed(
            "the chip's answer under the chip-authentication keys does not verify: it does not hold the DG14 key"
            " (a possible clone)",
            keys_changed=True,
        ) from exc
