"""The virtual CCCD chip: an ICAO 9303 eMRTD application answering APDUs as a card does.

It enforces access control like a real chip: before BAC or PACE only EF.CardAccess can be read (everything else is
``6982``); a wrong access key fails with ``6300``; once secure messaging is up every command must be protected, and
a missing or wrong MAC ends the session (``6987``/``6988`` in clear, keys wiped). Error status words inside a session
are protected (DO'99' and MAC), as ICAO 9303-11 requires. It implements BAC, PACE (ECDH generic mapping, CAN or
MRZ password), READ BINARY (SFI, odd INS), INTERNAL AUTHENTICATE (active authentication, ECDSA or RSA ISO/IEC 9796-2)
and chip authentication (ECDH, MSE:Set AT + GENERAL AUTHENTICATE or MSE:Set KAT), plus the fault modes of
:class:`~hw.sim.ChipFaults`.

The chip shares its cryptography with the terminal side (``mrtd``): secure messaging, key derivation and the
PACE mapping are the same code, checked against the ICAO worked examples.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hw.sim._faults import Fault
from hw.sim._pace_card import PaceRun, pace_step, start_pace
from hw.sim._personalise import CA_PROTOCOL, CardProfile
from mrtd import (
    EMRTD_AID,
    Can,
    CipherSuite,
    CommandAPDU,
    FileId,
    MrzKey,
    ParseError,
    ResponseAPDU,
    Rng,
    SecureMessaging,
    SecureMessagingError,
    SessionKeys,
    StatusWord,
    bac_initial_ssc,
    bac_seal,
    bac_session_keys,
    bac_unseal,
    decode_oid,
    encode_tlv,
    has_sm_indication,
    parse_all,
    parse_one,
    protocol_cipher,
    sm_error_response,
)

log = logging.getLogger(__name__)

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_INTERNAL_AUTHENTICATE = 0x88
INS_MSE = 0x22
INS_GENERAL_AUTHENTICATE = 0x86

MF_FID = 0x3F00
_BY_FID = {f.fid: f for f in FileId if f not in (FileId.CARD_SECURITY, FileId.DIR)}
_BY_SFI = {f.sfi: f for f in FileId if f not in (FileId.CARD_SECURITY, FileId.DIR)}


def contactless_atr(*, extended_length: bool) -> bytes:
    """An ATR as a PC/SC contactless reader builds it for an ISO 14443-4 card (PC/SC part 3, §3.1.3.2.3).

    The historical bytes carry the card capabilities (compact-TLV tag 7); its third byte says whether the chip takes
    extended Lc/Le fields, which is how a terminal learns it can read a file in one command.
    """
    historical = bytes([0x80, 0x73, 0x00, 0x00, 0x40 if extended_length else 0x00])
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


class ChipState(enum.Enum):
    IDLE = "idle"  # powered; the master file is current
    APPLICATION = "application"  # eMRTD application selected, no access control yet
    BAC_CHALLENGED = "bac-challenged"  # GET CHALLENGE answered, EXTERNAL AUTHENTICATE expected
    PACE = "pace"  # MSE:Set AT accepted, GENERAL AUTHENTICATE steps running
    SECURED = "secured"  # a secure-messaging session is up (BAC or PACE, maybe renewed by chip authentication)
    REMOVED = "removed"  # out of the field: no answer any more


# The state machine as data: which states each state may move to.
_TRANSITIONS: dict[ChipState, frozenset[ChipState]] = {
    ChipState.IDLE: frozenset({ChipState.IDLE, ChipState.APPLICATION, ChipState.PACE, ChipState.REMOVED}),
    ChipState.APPLICATION: frozenset(
        {ChipState.IDLE, ChipState.APPLICATION, ChipState.BAC_CHALLENGED, ChipState.PACE, ChipState.REMOVED}
    ),
    ChipState.BAC_CHALLENGED: frozenset(
        {
            ChipState.IDLE,
            ChipState.APPLICATION,
            ChipState.BAC_CHALLENGED,
            ChipState.PACE,
            ChipState.SECURED,
            ChipState.REMOVED,
        }
    ),
    ChipState.PACE: frozenset(
        {
            ChipState.IDLE,
            ChipState.APPLICATION,
            ChipState.BAC_CHALLENGED,
            ChipState.PACE,
            ChipState.SECURED,
            ChipState.REMOVED,
        }
    ),
    ChipState.SECURED: frozenset({ChipState.IDLE, ChipState.APPLICATION, ChipState.SECURED, ChipState.REMOVED}),
    ChipState.REMOVED: frozenset({ChipState.REMOVED}),
}


class ChipRemoved(Exception):
    """The chip left the field (the removed-after fault): nothing answers any more."""


class _Answer(Exception):
    """Internal: stop processing and answer this status word (protected when a session is up)."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


class VirtualChip:
    """One virtual CCCD. ``transmit`` takes a command APDU and returns the response APDU, like the card does."""

    def __init__(self, profile: CardProfile, *, rng: Rng = os.urandom) -> None:
        self.profile = profile
        self._rng = rng
        self.apdu_count = 0
        self._state = ChipState.IDLE
        self._sm: SecureMessaging | None = None
        self._current: FileId | None = None
        self._rnd_ic = b""
        self._pace: PaceRun | None = None
        self._ca_protocol: str | None = None
        # Chip authentication's new keys: the answer to the command that agreed them still goes under the old ones.
        self._pending_keys: SessionKeys | None = None
        # The chip's own access secrets: the MRZ key from its TD1 zone (document number, birth, expiry) and the CAN.
        line1, line2 = profile.mrz[0], profile.mrz[1]
        self._mrz_key = MrzKey(line1[5:14], line2[0:6], line2[8:14])
        self._can = Can(profile.can)

    # --- power and field --------------------------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        return contactless_atr(extended_length=self.profile.faults.max_le is None)

    @property
    def state(self) -> ChipState:
        return self._state

    @property
    def removed(self) -> bool:
        return self._state is ChipState.REMOVED

    @property
    def secure_messaging(self) -> SecureMessaging | None:
        return self._sm

    def power_on(self) -> None:
        """Power-up, warm reset or power-off: the field dropped, so every session secret is gone."""
        if self._state is ChipState.REMOVED:
            return
        self._wipe()
        self._go(ChipState.IDLE)

    power_off = power_on
    reset = power_on

    def _wipe(self) -> None:
        self._sm = None
        self._current = None
        self._rnd_ic = b""
        self._pace = None
        self._ca_protocol = None
        self._pending_keys = None

    def _go(self, state: ChipState) -> None:
        if state not in _TRANSITIONS[self._state]:
            raise RuntimeError(f"illegal chip transition {self._state.value} -> {state.value}")
        self._state = state

    def _drop_session(self) -> None:
        self._wipe()
        self._go(ChipState.APPLICATION)

    # --- the APDU loop -----------------------------------------------------------------------------------------

    def transmit(self, raw: bytes) -> bytes:
        """Process one command APDU. Raises :class:`ChipRemoved` once the chip has left the field."""
        if self._state is ChipState.REMOVED:
            raise ChipRemoved("the card is no longer in the field")
        self.apdu_count += 1
        limit = self.profile.faults.removed_after
        if limit is not None and self.apdu_count > limit:
            self._wipe()
            self._go(ChipState.REMOVED)
            raise ChipRemoved(f"the card left the field after {limit} commands")
        try:
            command = CommandAPDU.decode(raw)
        except ParseError:
            return ResponseAPDU(b"", StatusWord.WRONG_LENGTH).encode()
        if self._sm is not None:
            return self._secured(command)
        if has_sm_indication(command.cla) and command.cla & 0x0C:
            # A protected command without a session: the chip has no keys to check it with.
            return ResponseAPDU(b"", StatusWord.SM_DATA_OBJECTS_INCORRECT).encode()
        return self._plain(command).encode()

    def _secured(self, command: CommandAPDU) -> bytes:
        sm = self._sm
        assert sm is not None
        if not has_sm_indication(command.cla):
            # ICAO 9303-11 §9.8.6: an unprotected command ends the session; it is then handled as in a new one,
            # so a terminal can re-select the application and authenticate again.
            log.debug("plain command during secure messaging: session closed")
            self._drop_session()
            return self._plain(command).encode()
        try:
            plain = sm.unprotect_command(command)
        except SecureMessagingError as exc:
            log.debug("secure messaging error, session closed: %s", exc)
            self._drop_session()
            return sm_error_response(exc).encode()
        try:
            if self.profile.faults.max_le is not None and command.extended:
                raise _Answer(StatusWord.WRONG_LENGTH)
            response = self._dispatch(plain)
        except _Answer as answer:
            response = ResponseAPDU(b"", answer.sw)
        protected = sm.protect_response(response, ins=command.ins)
        if self._pending_keys is not None:
            self._sm = SecureMessaging(self._pending_keys)
            self._pending_keys = None
        return protected.encode()

    def _plain(self, command: CommandAPDU) -> ResponseAPDU:
        try:
            return self._dispatch(command)
        except _Answer as answer:
            return ResponseAPDU(b"", answer.sw)

    def _dispatch(self, command: CommandAPDU) -> ResponseAPDU:
        if command.cla & 0x80:
            raise _Answer(StatusWord.CLA_NOT_SUPPORTED)
        handlers: dict[int, Callable[[CommandAPDU], ResponseAPDU]] = {
            INS_SELECT: self._select,
            INS_READ_BINARY: self._read_binary,
            INS_READ_BINARY_ODD: self._read_binary_odd,
            INS_GET_CHALLENGE: self._get_challenge,
            INS_EXTERNAL_AUTHENTICATE: self._external_authenticate,
            INS_MSE: self._mse,
            INS_GENERAL_AUTHENTICATE: self._general_authenticate,
            INS_INTERNAL_AUTHENTICATE: self._internal_authenticate,
        }
        handler = handlers.get(command.ins)
        if handler is None:
            raise _Answer(StatusWord.INS_NOT_SUPPORTED)
        return handler(command)

    # --- files ---------------------------------------------------------------------------------------------------

    def _readable(self, file_id: FileId) -> bool:
        return file_id is FileId.CARD_ACCESS or self._sm is not None

    def _select(self, command: CommandAPDU) -> ResponseAPDU:
        p1, data = command.p1, command.data
        if p1 == 0x04:
            if data != EMRTD_AID:
                raise _Answer(StatusWord.FILE_NOT_FOUND)
            if self._sm is None:
                self._wipe()
                self._go(ChipState.APPLICATION)
            self._current = None
            return self._selected(command, None)
        if p1 not in (0x00, 0x02) or (p1 == 0x00 and len(data) not in (0, 2)) or (p1 == 0x02 and len(data) != 2):
            raise _Answer(StatusWord.INCORRECT_P1_P2)
        fid = int.from_bytes(data, "big") if data else MF_FID
        if fid == MF_FID:
            if self._sm is None:
                self._wipe()
                self._go(ChipState.IDLE)
            return self._selected(command, None)
        file_id = _BY_FID.get(fid)
        if file_id is FileId.CARD_ACCESS:
            if self.profile.file(file_id) is None:
                raise _Answer(StatusWord.FILE_NOT_FOUND)
            self._current = file_id
            return self._selected(command, file_id)
        if self._state is ChipState.IDLE:
            raise _Answer(StatusWord.FILE_NOT_FOUND)  # the LDS files live in the application, not the MF
        if file_id is None or self.profile.file(file_id) is None:
            raise _Answer(StatusWord.FILE_NOT_FOUND)
        if not self._readable(file_id):
            raise _Answer(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
        self._current = file_id
        return self._selected(command, file_id)

    def _selected(self, command: CommandAPDU, file_id: FileId | None) -> ResponseAPDU:
        if command.p2 & 0x0C == 0x0C or file_id is None:
            return ResponseAPDU(b"", StatusWord.SUCCESS)
        # P2 = 00/04: return the FCP template (size, structure, FID) as ISO 7816-4 §5.3.3 describes.
        content = self.profile.file(file_id) or b""
        fcp = encode_tlv(
            0x62,
            encode_tlv(0x80, len(content).to_bytes(2, "big"))
            + encode_tlv(0x82, b"\x01")
            + encode_tlv(0x83, file_id.fid.to_bytes(2, "big")),
        )
        return ResponseAPDU(fcp, StatusWord.SUCCESS)

    def _file_for_read(self, sfi: int | None) -> bytes:
        """The content of the file a READ BINARY addresses (by SFI, or the current EF), with access checked."""
        if sfi is not None:
            file_id = _BY_SFI.get(sfi)
            if file_id is not FileId.CARD_ACCESS and self._state is ChipState.IDLE:
                file_id = None  # the LDS files live in the application, not the MF
            if file_id is None or self.profile.file(file_id) is None:
                raise _Answer(StatusWord.FILE_NOT_FOUND)
            if not self._readable(file_id):
                raise _Answer(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
            self._current = file_id
        if self._current is None:
            raise _Answer(StatusWord.COMMAND_NOT_ALLOWED)
        if not self._readable(self._current):
            raise _Answer(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
        content = self.profile.file(self._current)
        assert content is not None
        return content

    def _check_le(self, le: int | None) -> int:
        wanted = le if le is not None else 256
        limit = self.profile.faults.max_le
        if limit is not None and wanted > limit:
            raise _Answer(StatusWord.WRONG_LENGTH)
        return wanted

    def _read_binary(self, command: CommandAPDU) -> ResponseAPDU:
        if command.p1 & 0x80:
            if command.p1 & 0x60:
                raise _Answer(StatusWord.INCORRECT_P1_P2)
            sfi: int | None = command.p1 & 0x1F
            offset = command.p2
        else:
            sfi = None
            offset = (command.p1 << 8) | command.p2
        content = self._file_for_read(sfi)
        return self._chunk(content, offset, self._check_le(command.le), odd=False)

    def _read_binary_odd(self, command: CommandAPDU) -> ResponseAPDU:
        # ISO 7816-4: P1-P2 name the file (0000: the current one; 1F xx would be an SFI) and DO'54' the offset.
        try:
            objects = parse_all(command.data)
        except ParseError:
            raise _Answer(StatusWord.INCORRECT_DATA) from None
        offset_do = next((o for o in objects if o.tag == 0x54), None)
        if offset_do is None or not 1 <= len(offset_do.value) <= 3:
            raise _Answer(StatusWord.INCORRECT_DATA)
        offset = int.from_bytes(offset_do.value, "big")
        file_ref = (command.p1 << 8) | command.p2
        if file_ref == 0:
            content = self._file_for_read(None)
        elif command.p1 == 0x00 and command.p2 & 0xE0 == 0 and command.p2:
            content = self._file_for_read(command.p2 & 0x1F)
        else:
            file_id = _BY_FID.get(file_ref)
            if file_id is None or self.profile.file(file_id) is None:
                raise _Answer(StatusWord.FILE_NOT_FOUND)
            if not self._readable(file_id):
                raise _Answer(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
            self._current = file_id
            content = self._file_for_read(None)
        return self._chunk(content, offset, self._check_le(command.le), odd=True)

    @staticmethod
    def _chunk(content: bytes, offset: int, le: int, *, odd: bool) -> ResponseAPDU:
        if offset > len(content):
            raise _Answer(StatusWord.WRONG_PARAMETERS)
        remaining = len(content) - offset
        if odd:
            # The answer is wrapped in DO'53', so its header takes part of Le.
            count = min(remaining, max(le - 2, 0))
            while count and len(encode_tlv(0x53, bytes(count))) > le:
                count -= 1
            body = encode_tlv(0x53, content[offset : offset + count])
            short = count == remaining and len(body) < le
            return ResponseAPDU(body, StatusWord.END_OF_FILE if short else StatusWord.SUCCESS)
        data = content[offset : offset + le]
        return ResponseAPDU(data, StatusWord.END_OF_FILE if len(data) < le else StatusWord.SUCCESS)

    # --- BAC -----------------------------------------------------------------------------------------------------

    def _get_challenge(self, command: CommandAPDU) -> ResponseAPDU:
        if command.p1 or command.p2 or command.le != 8:
            raise _Answer(StatusWord.WRONG_LENGTH if command.le != 8 else StatusWord.INCORRECT_P1_P2)
        self._rnd_ic = self._rng(8)
        if self._sm is None:
            if self._state is ChipState.IDLE:
                # Some readers authenticate before selecting the application; the chip treats it as selected.
                self._go(ChipState.APPLICATION)
            self._go(ChipState.BAC_CHALLENGED)
        return ResponseAPDU(self._rnd_ic, StatusWord.SUCCESS)

    def _external_authenticate(self, command: CommandAPDU) -> ResponseAPDU:
        if self._sm is not None or self._state is not ChipState.BAC_CHALLENGED:
            raise _Answer(StatusWord.CONDITIONS_OF_USE_NOT_SATISFIED)
        if len(command.data) != 40:
            raise _Answer(StatusWord.WRONG_LENGTH)
        keys = self._mrz_key.bac_keys()
        rnd_ic, self._rnd_ic = self._rnd_ic, b""
        try:
            # A wrong MRZ gives a wrong K_mac, so the cryptogram's MAC fails: "authentication failed".
            s = bac_unseal(keys, command.data)
        except SecureMessagingError:
            self._go(ChipState.APPLICATION)
            raise _Answer(StatusWord.VERIFICATION_FAILED) from None
        rnd_ifd, received_rnd_ic, k_ifd = s[:8], s[8:16], s[16:32]
        if not hmac.compare_digest(received_rnd_ic, rnd_ic):
            self._go(ChipState.APPLICATION)
            raise _Answer(StatusWord.VERIFICATION_FAILED)
        k_ic = self._rng(16)
        self._sm = SecureMessaging(bac_session_keys(k_ifd, k_ic), ssc=bac_initial_ssc(rnd_ic, rnd_ifd))
        self._go(ChipState.SECURED)
        return ResponseAPDU(bac_seal(keys, rnd_ic + rnd_ifd + k_ic), StatusWord.SUCCESS)

    # --- PACE (filled in by _pace_card) ---------------------------------------------------------------------------

    def _mse(self, command: CommandAPDU) -> ResponseAPDU:
        p1p2 = (command.p1 << 8) | command.p2
        try:
            objects = {o.tag: o.value for o in parse_all(command.data)}
        except ParseError:
            raise _Answer(StatusWord.INCORRECT_DATA) from None
        if p1p2 == 0xC1A4:
            return self._mse_pace(objects)
        if p1p2 == 0x41A4:
            return self._mse_chip_auth(objects)
        if p1p2 == 0x41A6:
            return self._mse_set_kat(objects)
        raise _Answer(StatusWord.INCORRECT_P1_P2)

    def _mse_pace(self, objects: dict[int, bytes]) -> ResponseAPDU:
        if self._sm is not None:
            raise _Answer(StatusWord.CONDITIONS_OF_USE_NOT_SATISFIED)
        if Fault.PACE_REFUSED in self.profile.faults or not self.profile.offers_pace:
            raise _Answer(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
        run = start_pace(objects, can=self._can, mrz_key=self._mrz_key)
        if isinstance(run, int):
            raise _Answer(run)
        self._pace = run
        self._go(ChipState.PACE)
        return ResponseAPDU(b"", StatusWord.SUCCESS)

    def _general_authenticate(self, command: CommandAPDU) -> ResponseAPDU:
        if self._state is ChipState.PACE and self._pace is not None:
            outcome = pace_step(self._pace, command, rng=self._rng)
            if isinstance(outcome, int):
                self._pace = None
                self._go(ChipState.APPLICATION)
                raise _Answer(outcome)
            if self._pace.keys is not None:
                self._sm = SecureMessaging(self._pace.keys)
                self._pace = None
                self._go(ChipState.SECURED)
            return outcome
        if self._sm is not None and self._ca_protocol is not None:
            return self._chip_authenticate(command)
        raise _Answer(StatusWord.CONDITIONS_OF_USE_NOT_SATISFIED)

    # --- chip authentication --------------------------------------------------------------------------------------

    def _mse_chip_auth(self, objects: dict[int, bytes]) -> ResponseAPDU:
        if self._sm is None:
            raise _Answer(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
        if self.profile.ca_key is None or 0x80 not in objects:
            raise _Answer(StatusWord.REFERENCED_DATA_NOT_FOUND)
        try:
            protocol = decode_oid(objects[0x80])
        except ParseError:
            raise _Answer(StatusWord.INCORRECT_DATA) from None
        if protocol != CA_PROTOCOL:
            raise _Answer(StatusWord.REFERENCED_DATA_NOT_FOUND)
        self._ca_protocol = protocol
        return ResponseAPDU(b"", StatusWord.SUCCESS)

    def _mse_set_kat(self, objects: dict[int, bytes]) -> ResponseAPDU:
        # Chip authentication in one step (ICAO 9303-11 §6.2.4.1, for 3DES): the terminal's key in DO'91'.
        if self._sm is None:
            raise _Answer(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
        if self.profile.ca_key is None or 0x91 not in objects:
            raise _Answer(StatusWord.REFERENCED_DATA_NOT_FOUND)
        self._agree_ca(objects[0x91], CipherSuite.DES3)
        return ResponseAPDU(b"", StatusWord.SUCCESS)

    def _chip_authenticate(self, command: CommandAPDU) -> ResponseAPDU:
        try:
            outer = parse_one(command.data)
            inner = {o.tag: o.value for o in outer.children()} if outer.tag == 0x7C else {}
        except ParseError:
            raise _Answer(StatusWord.INCORRECT_DATA) from None
        if 0x80 not in inner:
            raise _Answer(StatusWord.INCORRECT_DATA)
        protocol, self._ca_protocol = self._ca_protocol, None
        assert protocol is not None
        self._agree_ca(inner[0x80], protocol_cipher(protocol))
        return ResponseAPDU(encode_tlv(0x7C, b""), StatusWord.SUCCESS)

    def _agree_ca(self, public_point: bytes, suite: CipherSuite) -> None:
        key = self.profile.ca_key
        assert key is not None
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, public_point)
        except ValueError:
            raise _Answer(StatusWord.INCORRECT_DATA) from None
        shared = key.exchange(ec.ECDH(), peer)
        self._pending_keys = SessionKeys.derive(shared, suite)

    # --- active authentication -------------------------------------------------------------------------------------

    def _internal_authenticate(self, command: CommandAPDU) -> ResponseAPDU:
        if self._sm is None:
            raise _Answer(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
        if len(command.data) != 8:
            raise _Answer(StatusWord.WRONG_LENGTH)
        key = self.profile.aa_key
        if key is None:
            raise _Answer(StatusWord.INS_NOT_SUPPORTED)  # a chip without active authentication
        if isinstance(key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(key.sign(command.data, ec.ECDSA(hashes.SHA256())))
            size = (key.curve.key_size + 7) // 8
            signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        else:
            signature = _iso9796_2_sign(key, command.data, self._rng)
        if command.le is not None and command.le < len(signature) and command.le != 256:
            raise _Answer(StatusWord.WRONG_LENGTH)
        return ResponseAPDU(signature, StatusWord.SUCCESS)


def _iso9796_2_sign(key: rsa.RSAPrivateKey, challenge: bytes, rng: Rng) -> bytes:
    """ISO/IEC 9796-2 digital signature scheme 1, partial recovery, SHA-1 (trailer ``BC``), as eMRTDs sign.

    F = 6A ‖ M1 ‖ SHA-1(M1 ‖ challenge) ‖ BC with M1 a fresh nonce filling the modulus; the signature is F^d mod n.
    """
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    size = (n.bit_length() + 7) // 8
    m1 = rng(size - 22)
    digest = hashlib.sha1(m1 + challenge).digest()  # noqa: S324 - the hash the scheme's trailer BC names
    f = int.from_bytes(b"\x6a" + m1 + digest + b"\xbc", "big")
    return pow(f, numbers.d, n).to_bytes(size, "big")
