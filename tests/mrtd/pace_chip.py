"""A minimal chip side of PACE built from ``mrtd._pace``'s pure steps, for any mapping and group: it checks the
session's plumbing (mapping choice, fallbacks, CAM) end to end. The steps themselves are pinned by the published
worked examples, not by this chip."""

from apdu_script import ReplayRng

from mrtd._apdu import CommandAPDU
from mrtd._curves import Curve
from mrtd._groups import GroupElement
from mrtd._pace import (
    PaceMapping,
    PaceProtocol,
    authentication_token,
    chip_authentication_data,
    encrypt_chip_authentication_data,
    encrypt_nonce,
    generate_key_pair,
    generic_mapping,
    integrated_mapping,
    key_agreement,
    nonce_length,
)
from mrtd._sm import SessionKeys
from mrtd._tlv import encode_tlv, parse_one


class SimulatedPaceChip:
    def __init__(self, protocol: PaceProtocol, password: bytes, *, static_key: int, rng: ReplayRng) -> None:
        self.protocol = protocol
        self.k_pi = password
        self.static_key = static_key
        self.rng = rng
        self.map_sk = 0
        self.generator: GroupElement | None = None

    async def __call__(self, raw: bytes) -> bytes:
        command = CommandAPDU.decode(raw)
        suite, group = self.protocol.suite, self.protocol.group
        if command.ins == 0x22:
            return b"\x90\x00"
        payload = parse_one(command.data).value
        if not payload:
            self.nonce = bytes(range(nonce_length(suite)))
            return encode_tlv(0x7C, encode_tlv(0x80, encrypt_nonce(self.k_pi, self.nonce, suite))) + b"\x90\x00"
        tag, value = payload[0], parse_one(payload).value
        if tag == 0x81 and self.protocol.mapping is PaceMapping.INTEGRATED:
            self.generator = integrated_mapping(group, self.nonce, value, suite)
            return encode_tlv(0x7C, b"") + b"\x90\x00"
        if tag == 0x81:
            self.map_sk, map_pk = generate_key_pair(group.generator, self.rng)
            shared = key_agreement(self.map_sk, group.decode(value))
            self.generator = generic_mapping(group, self.nonce, shared)
            return encode_tlv(0x7C, encode_tlv(0x82, map_pk.encode())) + b"\x90\x00"
        if tag == 0x83:
            assert self.generator is not None
            self.terminal_key = value
            sk, pk = generate_key_pair(self.generator, self.rng)
            self.chip_key = pk.encode()
            self.keys = SessionKeys.derive(key_agreement(sk, group.decode(value)).x_bytes(), suite)
            return encode_tlv(0x7C, encode_tlv(0x84, self.chip_key)) + b"\x90\x00"
        token = encode_tlv(0x86, authentication_token(suite, self.keys.k_mac, self.protocol.oid, self.terminal_key))
        if self.protocol.mapping is PaceMapping.CHIP_AUTHENTICATION:
            assert isinstance(group, Curve)
            ca = chip_authentication_data(self.static_key, self.map_sk, group)
            token += encode_tlv(0x8A, encrypt_chip_authentication_data(suite, self.keys.k_enc, ca, group))
        return encode_tlv(0x7C, token) + b"\x90\x00"
