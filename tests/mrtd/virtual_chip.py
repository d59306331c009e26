"""A small in-memory eMRTD chip for the session tests, built from the chip-side pieces of ``mrtd`` (card-side secure
messaging, the PACE steps, the BAC cryptograms). It answers EF.CardAccess, PACE-GM, BAC, chip authentication, active
authentication (ECDSA) and READ BINARY, and has the fault modes the session must survive.

The full simulator of the product is ``hw/sim``; this one stays in the tests so the chip-core tests depend on
nothing outside ``mrtd``.
"""

import random
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from mrtd import CardRemoved, SecureMessagingError
from mrtd._access_keys import Can, MrzKey, pace_password_key
from mrtd._apdu import CommandAPDU, ResponseAPDU
from mrtd._bac import bac_initial_ssc, bac_seal, bac_session_keys, bac_unseal
from mrtd._crypto import CipherSuite
from mrtd._curves import Curve, curve_by_pace_parameter_id
from mrtd._files import EMRTD_AID, FileId
from mrtd._groups import GroupElement
from mrtd._oids import decode_oid, encode_oid
from mrtd._pace import (
    PaceMapping,
    PaceProtocol,
    authentication_token,
    chip_authentication_data,
    encrypt_chip_authentication_data,
    encrypt_nonce,
    generate_key_pair,
    generic_mapping,
    key_agreement,
    nonce_length,
)
from mrtd._security_infos import PaceInfo, parse_security_infos
from mrtd._sm import SecureMessaging, SessionKeys, has_sm_indication, sm_error_response
from mrtd._tlv import encode_tlv, parse_all, parse_one

OK = ResponseAPDU(b"", 0x9000)
BP256 = curve_by_pace_parameter_id(13)
CARD_ACCESS_CCCD = bytes.fromhex(  # the EF.CardAccess Vietnamese apps publish (cccd-spec §2.1)
    "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d"
)


def card_access_for(*protocols: str, parameter_id: int = 13) -> bytes:
    """EF.CardAccess announcing the given PACE protocol OIDs (version 2, standardized domain parameters)."""
    infos = b"".join(
        encode_tlv(
            0x30,
            encode_tlv(0x06, encode_oid(oid)) + encode_tlv(0x02, b"\x02") + encode_tlv(0x02, bytes((parameter_id,))),
        )
        for oid in protocols
    )
    return encode_tlv(0x31, infos)


def _sw(sw: int) -> ResponseAPDU:
    return ResponseAPDU(b"", sw)


def dg14_for(ca_private: int) -> bytes:
    """DG14 with an ECDH chip-authentication key on brainpoolP256r1 (named curve) and id-CA-ECDH-AES-CBC-CMAC-128."""
    public = ec.derive_private_key(ca_private, ec.BrainpoolP256R1()).public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_info = encode_tlv(0x30, encode_tlv(0x06, encode_oid("0.4.0.127.0.7.2.2.1.2")) + spki)
    ca_info = encode_tlv(0x30, encode_tlv(0x06, encode_oid("0.4.0.127.0.7.2.2.3.2.2")) + encode_tlv(0x02, b"\x01"))
    return encode_tlv(0x6E, encode_tlv(0x31, key_info + ca_info))


def dg15_for(aa_key: ec.EllipticCurvePrivateKey) -> bytes:
    spki = aa_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return encode_tlv(0x6F, spki)


def lds(tag: int, size: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    return encode_tlv(tag, bytes(rnd.randrange(256) for _ in range(size)))


@dataclass
class VirtualChip:
    mrz: MrzKey
    can: Can
    files: dict[FileId, bytes]
    card_access: bytes | None = CARD_ACCESS_CCCD
    pace_enabled: bool = True
    select_mf_refused: bool = False
    starts_in_application: bool = False
    ca_private: int | None = None
    clone: bool = False  # answers chip authentication without the DG14 private key
    aa_key: ec.EllipticCurvePrivateKey | None = None
    protected: frozenset[FileId] = frozenset({FileId.DG3})
    remove_after: int | None = None
    seed: int = 7
    log: list[CommandAPDU] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rnd = random.Random(self.seed)
        self.sm: SecureMessaging | None = None
        self.pending_sm: SecureMessaging | None = None
        self.in_application = self.starts_in_application
        self.selected: FileId | None = None
        self.pace: dict[str, object] = {}
        self.rnd_ic: bytes | None = None
        self.ca_protocol: str | None = None

    def _random(self, n: int) -> bytes:
        return bytes(self.rnd.randrange(256) for _ in range(n))

    async def __call__(self, raw: bytes) -> bytes:
        if self.remove_after is not None and len(self.log) >= self.remove_after:
            raise CardRemoved("the card left the field")
        command = CommandAPDU.decode(raw)
        self.log.append(command)
        if self.sm is not None and has_sm_indication(command.cla):
            try:
                plain = self.sm.unprotect_command(command)
            except SecureMessagingError as exc:
                self.sm = None
                return sm_error_response(exc).encode()
            answer = self.sm.protect_response(self.handle(plain)).encode()
            if self.pending_sm is not None:
                self.sm, self.pending_sm = self.pending_sm, None
            return answer
        if self.sm is not None:
            self.sm = None  # a plain command ends secure messaging (ICAO 9303-11 §9.8.3)
        return self.handle(command).encode()

    # Commands.

    def handle(self, command: CommandAPDU) -> ResponseAPDU:
        match command.ins:
            case 0xA4:
                return self.select(command)
            case 0xB0 | 0xB1:
                return self.read_binary(command)
            case 0x84:
                self.rnd_ic = self._random(8)
                return ResponseAPDU(self.rnd_ic, 0x9000)
            case 0x82:
                return self.external_authenticate(command)
            case 0x22:
                return self.manage_security_environment(command)
            case 0x86:
                return self.general_authenticate(command)
            case 0x88:
                return self.internal_authenticate(command)
        return _sw(0x6D00)

    def select(self, command: CommandAPDU) -> ResponseAPDU:
        if command.p1 == 0x04:
            if command.data != EMRTD_AID:
                return _sw(0x6A82)
            self.in_application = True
            return OK
        if command.p1 == 0x00:
            if self.select_mf_refused:
                return _sw(0x6D00)
            self.in_application = False
            return OK
        fid = int.from_bytes(command.data, "big")
        if fid == FileId.CARD_ACCESS.fid and not self.in_application:
            if self.card_access is None:
                return _sw(0x6A82)
            self.selected = FileId.CARD_ACCESS
            return OK
        file = next((f for f in self.files if f.fid == fid), None)
        if not self.in_application or self.sm is None:
            return _sw(0x6982) if file is not None else _sw(0x6A82)
        if file in self.protected:
            return _sw(0x6982)
        if file is None:
            return _sw(0x6A82)
        self.selected = file
        return OK

    def _content(self) -> bytes:
        if self.selected is FileId.CARD_ACCESS:
            assert self.card_access is not None
            return self.card_access
        assert self.selected is not None
        return self.files[self.selected]

    def read_binary(self, command: CommandAPDU) -> ResponseAPDU:
        if command.ins == 0xB1:
            offset = int.from_bytes(parse_one(command.data).value, "big")
        elif command.p1 & 0x80:
            return _sw(0x6A86)  # no SFI support, like many chips
        else:
            offset = (command.p1 << 8) | command.p2
        if self.selected is None:
            return _sw(0x6986)
        content = self._content()
        if offset >= len(content):
            return _sw(0x6B00)
        le = command.le or 256
        if command.ins == 0xB1:
            return ResponseAPDU(encode_tlv(0x53, content[offset : offset + le - 4]), 0x9000)
        chunk = content[offset : offset + le]
        return ResponseAPDU(chunk, 0x9000 if len(chunk) == le else 0x6282)

    # BAC.

    def external_authenticate(self, command: CommandAPDU) -> ResponseAPDU:
        keys = self.mrz.bac_keys()
        try:
            s = bac_unseal(keys, command.data)
        except SecureMessagingError:
            return _sw(0x6300)
        if self.rnd_ic is None or s[8:16] != self.rnd_ic:
            return _sw(0x6300)
        rnd_ifd, k_ifd = s[:8], s[16:32]
        k_ic = self._random(16)
        answer = bac_seal(keys, self.rnd_ic + rnd_ifd + k_ic)
        self.pending_sm = SecureMessaging(bac_session_keys(k_ifd, k_ic), ssc=bac_initial_ssc(self.rnd_ic, rnd_ifd))
        self.sm, self.pending_sm = self.pending_sm, None
        return ResponseAPDU(answer, 0x9000)

    # PACE and chip authentication.

    def manage_security_environment(self, command: CommandAPDU) -> ResponseAPDU:
        objects = {o.tag: o.value for o in parse_all(command.data)}
        if (command.p1, command.p2) == (0xC1, 0xA4):
            if not self.pace_enabled or self.card_access is None:
                return _sw(0x6982)
            oid = decode_oid(objects[0x80])
            password = self.mrz if objects[0x83] == b"\x01" else self.can
            offered = {i.protocol: i.parameter_id for i in parse_security_infos(self.card_access).pace}
            parameter_id = int.from_bytes(objects[0x84], "big") if 0x84 in objects else offered.get(oid, 13)
            protocol = PaceProtocol.from_info(PaceInfo(oid, 2, parameter_id))
            self.pace = {"protocol": protocol, "k_pi": pace_password_key(password, protocol.suite)}
            return OK
        if (command.p1, command.p2) == (0x41, 0xA4) and self.sm is not None:
            self.ca_protocol = decode_oid(objects[0x80])
            return OK
        return _sw(0x6A80)

    def general_authenticate(self, command: CommandAPDU) -> ResponseAPDU:
        payload = parse_one(command.data).value
        if self.ca_protocol is not None and self.sm is not None:
            return self.chip_authentication(parse_one(payload).value)
        protocol = self.pace.get("protocol")
        if not isinstance(protocol, PaceProtocol):
            return _sw(0x6985)
        suite, group = protocol.suite, protocol.group
        if not payload:
            nonce = self._random(nonce_length(suite))
            self.pace["nonce"] = nonce
            k_pi = self.pace["k_pi"]
            assert isinstance(k_pi, bytes)
            return ResponseAPDU(encode_tlv(0x7C, encode_tlv(0x80, encrypt_nonce(k_pi, nonce, suite))), 0x9000)
        item = parse_one(payload)
        if item.tag == 0x81:
            sk, pk = generate_key_pair(group.generator, self._random)
            self.pace["map_private"] = sk
            nonce = self.pace["nonce"]
            assert isinstance(nonce, bytes)
            self.pace["generator"] = generic_mapping(group, nonce, key_agreement(sk, group.decode(item.value)))
            return ResponseAPDU(encode_tlv(0x7C, encode_tlv(0x82, pk.encode())), 0x9000)
        if item.tag == 0x83:
            generator = self.pace["generator"]
            assert isinstance(generator, GroupElement)
            sk, pk = generate_key_pair(generator, self._random)
            self.pace["terminal_key"] = item.value
            self.pace["chip_key"] = pk.encode()
            self.pace["keys"] = SessionKeys.derive(key_agreement(sk, group.decode(item.value)).x_bytes(), suite)
            return ResponseAPDU(encode_tlv(0x7C, encode_tlv(0x84, pk.encode())), 0x9000)
        keys = self.pace["keys"]
        assert isinstance(keys, SessionKeys)
        chip_key, terminal_key = self.pace["chip_key"], self.pace["terminal_key"]
        assert isinstance(chip_key, bytes)
        assert isinstance(terminal_key, bytes)
        if item.value != authentication_token(suite, keys.k_mac, protocol.oid, chip_key):
            self.pace = {}
            return _sw(0x6300)
        token = encode_tlv(0x86, authentication_token(suite, keys.k_mac, protocol.oid, terminal_key))
        if protocol.mapping is PaceMapping.CHIP_AUTHENTICATION:
            assert self.ca_private is not None
            map_private = self.pace["map_private"]
            assert isinstance(map_private, int)
            static = self.ca_private + 1 if self.clone else self.ca_private
            assert isinstance(group, Curve)
            ca_ic = chip_authentication_data(static, map_private, group)
            token += encode_tlv(0x8A, encrypt_chip_authentication_data(suite, keys.k_enc, ca_ic, group))
        self.sm = SecureMessaging(keys, ssc=0)
        self.pace = {}
        self.in_application = False
        return ResponseAPDU(encode_tlv(0x7C, token), 0x9000)

    def chip_authentication(self, terminal_key: bytes) -> ResponseAPDU:
        assert self.ca_private is not None
        private = self.ca_private + 1 if self.clone else self.ca_private
        shared = key_agreement(private, BP256.decode_point(terminal_key)).x_bytes()
        self.pending_sm = SecureMessaging(SessionKeys.derive(shared, CipherSuite.AES128), ssc=0)
        self.ca_protocol = None
        return ResponseAPDU(b"\x7c\x00", 0x9000)

    # Active authentication.

    def internal_authenticate(self, command: CommandAPDU) -> ResponseAPDU:
        if self.aa_key is None or self.sm is None:
            return _sw(0x6D00)
        der = self.aa_key.sign(command.data, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        size = (self.aa_key.curve.key_size + 7) // 8
        return ResponseAPDU(r.to_bytes(size, "big") + s.to_bytes(size, "big"), 0x9000)
