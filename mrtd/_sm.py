"""Secure messaging of ICAO Doc 9303-11 §9.8 (3DES and AES), for both ends of the channel.

A ``SecureMessaging`` object holds the session keys and the send sequence counter (SSC) of one session. The terminal
calls ``protect_command`` and ``unprotect_response``; a chip (our virtual CCCD) calls ``unprotect_command`` and
``protect_response`` on its own object with the same keys. The SSC is incremented before every command and every
response, so after one exchange both ends are two steps further.

Every response must carry DO'8E' (the MAC) and the MAC is always checked: a reader that skips it reads whatever a relay
injects. ICAO asks for DO'99' (the status word) too; some older chips leave it out of successful answers, which are
accepted when the plain status word is 9000 and the MAC over the data verifies, as JMRTD does: without DO'99' only the
status word is unprotected, and a forged one could only turn success into failure. A bare status word from the chip
(``6987``/``6988`` after an SM error, or any error it answered in clear) is a SecureMessagingError carrying it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from mrtd._apdu import CommandAPDU, ResponseAPDU, StatusWord, Transmit, describe_status
from mrtd._crypto import CipherSuite, KdfCounter, cbc_decrypt, cbc_encrypt, ecb_encrypt_block, kdf, mac, pad, unpad
from mrtd._errors import ParseError, SecureMessagingError
from mrtd._tlv import encode_tlv, read_tlv

MAC_LENGTH = 8
_DO_ODD_DATA = 0x85  # cryptogram of BER-TLV data (odd INS)
_DO_DATA = 0x87  # padding-content indicator ‖ cryptogram (even INS)
_DO_LE = 0x97
_DO_STATUS = 0x99
_DO_MAC = 0x8E
_PADDING_INDICATOR = 0x01


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """KS_enc and KS_mac of one secure-messaging session, with the cipher suite that uses them."""

    suite: CipherSuite
    k_enc: bytes
    k_mac: bytes

    def __post_init__(self) -> None:
        for name in ("k_enc", "k_mac"):
            if len(getattr(self, name)) != self.suite.key_length:
                raise ValueError(f"{name} must be {self.suite.key_length} bytes for {self.suite.label}")

    @classmethod
    def derive(cls, shared_secret: bytes, suite: CipherSuite) -> SessionKeys:
        """KS_enc = KDF(K, 1), KS_mac = KDF(K, 2) (ICAO 9303-11 §9.7.4)."""
        return cls(suite, kdf(shared_secret, KdfCounter.ENC, suite), kdf(shared_secret, KdfCounter.MAC, suite))

    def __repr__(self) -> str:
        # Keys never reach logs.
        return f"SessionKeys({self.suite.label})"


def sm_class_byte(cla: int) -> int:
    """The class byte with the secure-messaging indication of ISO/IEC 7816-4 §5.4.1 (header authenticated)."""
    if 0x40 <= cla <= 0x7F:  # further interindustry classes: SM is bit 6
        return cla | 0x20
    return cla | 0x0C


def plain_class_byte(cla: int) -> int:
    if 0x40 <= cla <= 0x7F:
        return cla & ~0x20
    return cla & ~0x0C


def has_sm_indication(cla: int) -> bool:
    if 0x40 <= cla <= 0x7F:
        return bool(cla & 0x20)
    return cla & 0x0C == 0x0C


def _le_object(le: int) -> bytes:
    # One byte when the value fits a short Le (256 encodes as 00), two bytes otherwise (65536 as 0000).
    if le <= 256:
        return encode_tlv(_DO_LE, bytes((le % 256,)))
    return encode_tlv(_DO_LE, (le % 65536).to_bytes(2, "big"))


class SecureMessaging:
    """The SM state of one session (keys and SSC), usable from the terminal side and from the chip side."""

    def __init__(self, keys: SessionKeys, *, ssc: int = 0) -> None:
        self._keys = keys
        self._block = keys.suite.block_size
        if not 0 <= ssc < 1 << (8 * self._block):
            raise ValueError("SSC out of range for the cipher's block size")
        self._ssc = ssc
        self._last_command_ins: int | None = None

    @property
    def keys(self) -> SessionKeys:
        return self._keys

    @property
    def suite(self) -> CipherSuite:
        return self._keys.suite

    @property
    def ssc(self) -> int:
        return self._ssc

    def ssc_bytes(self) -> bytes:
        return self._ssc.to_bytes(self._block, "big")

    def __repr__(self) -> str:
        return f"SecureMessaging({self.suite.label}, ssc={self._ssc:X})"

    # The primitives, with the SSC as it stands.

    def _increment(self) -> None:
        self._ssc = (self._ssc + 1) % (1 << (8 * self._block))

    def _iv(self) -> bytes:
        if self.suite is CipherSuite.DES3:
            return bytes(8)
        return ecb_encrypt_block(self.suite, self._keys.k_enc, self.ssc_bytes())

    def _encrypt(self, data: bytes) -> bytes:
        return cbc_encrypt(self.suite, self._keys.k_enc, pad(data, self._block), self._iv())

    def _decrypt(self, cryptogram: bytes) -> bytes:
        if not cryptogram or len(cryptogram) % self._block:
            raise SecureMessagingError("the encrypted data is not a whole number of cipher blocks")
        try:
            return unpad(cbc_decrypt(self.suite, self._keys.k_enc, cryptogram, self._iv()))
        except ParseError as exc:
            raise SecureMessagingError("the decrypted data has no valid padding") from exc

    def _mac(self, data: bytes) -> bytes:
        return mac(self.suite, self._keys.k_mac, pad(self.ssc_bytes() + data, self._block), padded=True)

    def _data_object(self, ins: int, data: bytes) -> bytes:
        if ins & 1:
            return encode_tlv(_DO_ODD_DATA, self._encrypt(data))
        return encode_tlv(_DO_DATA, bytes((_PADDING_INDICATOR,)) + self._encrypt(data))

    def _open_data_object(self, tag: int, value: bytes) -> bytes:
        if tag == _DO_ODD_DATA:
            return self._decrypt(value)
        if not value or value[0] != _PADDING_INDICATOR:
            raise SecureMessagingError("DO'87' does not start with the padding-content indicator 01")
        return self._decrypt(value[1:])

    # Terminal side.

    def protect_command(self, command: CommandAPDU) -> CommandAPDU:
        """Wrap a plain command (Figure 5 of ICAO 9303-11): [DO'87'/'85'] [DO'97'] DO'8E', Le' = 00 or 0000."""
        cla = sm_class_byte(command.cla)
        self._increment()
        body = self._data_object(command.ins, command.data) if command.data else b""
        if command.le is not None:
            body += _le_object(command.le)
        header = bytes((cla, command.ins, command.p1, command.p2))
        checksum = self._mac(pad(header, self._block) + body)
        body += encode_tlv(_DO_MAC, checksum)
        # The protected APDU is extended when its body or the expected data no longer fit the short form; a plain
        # extended APDU with a small Le becomes a short protected one.
        extended = len(body) > 255 or (command.le is not None and command.le > 256)
        return CommandAPDU(
            cla, command.ins, command.p1, command.p2, data=body, le=65536 if extended else 256, extended=extended
        )

    def unprotect_response(self, raw: bytes) -> ResponseAPDU:
        """Check and unwrap a protected response; the status word returned is the one inside DO'99'."""
        self._increment()
        if len(raw) < 2:
            raise SecureMessagingError(f"the chip's answer of {len(raw)} bytes has no status word")
        data, sw = raw[:-2], int.from_bytes(raw[-2:], "big")
        if not data:
            raise SecureMessagingError(
                f"the chip answered {sw:04X} ({describe_status(sw)}) without secure messaging", sw=sw
            )
        objects = _split_objects(bytes(data), allowed=(_DO_DATA, _DO_ODD_DATA, _DO_STATUS))
        if objects.status is None and sw != StatusWord.SUCCESS:
            raise SecureMessagingError(f"the chip's answer {sw:04X} has no DO'99' (protected status word)", sw=sw)
        if not hmac.compare_digest(self._mac(objects.authenticated), objects.checksum):
            raise SecureMessagingError("the MAC of the chip's answer does not verify")
        if objects.status is not None and len(objects.status) != 2:
            raise SecureMessagingError("DO'99' must hold exactly two bytes")
        status = int.from_bytes(objects.status, "big") if objects.status is not None else sw
        plain = self._open_data_object(objects.data_tag, objects.data) if objects.data_tag else b""
        return ResponseAPDU(plain, status)

    # Chip side.

    def unprotect_command(self, command: CommandAPDU) -> CommandAPDU:
        """Check and unwrap a protected command (chip side).

        A SecureMessagingError carries the status word the chip must answer in clear: ``6987`` when SM objects are
        missing, ``6988`` when they are wrong.
        """
        self._increment()
        self._last_command_ins = command.ins
        if not has_sm_indication(command.cla):
            raise SecureMessagingError(
                "plain command received during secure messaging", sw=StatusWord.SM_DATA_OBJECTS_MISSING
            )
        try:
            objects = _split_objects(command.data, allowed=(_DO_DATA, _DO_ODD_DATA, _DO_LE))
        except SecureMessagingError as exc:
            raise SecureMessagingError(str(exc), sw=StatusWord.SM_DATA_OBJECTS_MISSING) from exc
        header = command.header
        if not hmac.compare_digest(self._mac(pad(header, self._block) + objects.authenticated), objects.checksum):
            raise SecureMessagingError(
                "the MAC of the command does not verify", sw=StatusWord.SM_DATA_OBJECTS_INCORRECT
            )
        if objects.data_tag is not None and (objects.data_tag == _DO_ODD_DATA) != bool(command.ins & 1):
            raise SecureMessagingError(
                "DO'85' is for odd INS and DO'87' for even INS", sw=StatusWord.SM_DATA_OBJECTS_INCORRECT
            )
        le: int | None = None
        if objects.le is not None:
            if len(objects.le) == 1:
                le = objects.le[0] or 256
            elif len(objects.le) == 2:
                le = int.from_bytes(objects.le, "big") or 65536
            else:
                raise SecureMessagingError("DO'97' must hold one or two bytes", sw=StatusWord.SM_DATA_OBJECTS_INCORRECT)
        try:
            data = self._open_data_object(objects.data_tag, objects.data) if objects.data_tag else b""
        except SecureMessagingError as exc:
            raise SecureMessagingError(str(exc), sw=StatusWord.SM_DATA_OBJECTS_INCORRECT) from exc
        return CommandAPDU(
            plain_class_byte(command.cla),
            command.ins,
            command.p1,
            command.p2,
            data=data,
            le=le,
            extended=len(data) > 255 or (le is not None and le > 256),
        )

    def protect_response(self, response: ResponseAPDU, *, ins: int | None = None) -> ResponseAPDU:
        """Wrap a plain response (Figure 6): [DO'87'/'85'] DO'99' DO'8E'. ``ins`` defaults to the last command's."""
        command_ins = ins if ins is not None else self._last_command_ins
        self._increment()
        body = b""
        if response.data:
            body += self._data_object(command_ins if command_ins is not None else 0, response.data)
        body += encode_tlv(_DO_STATUS, response.sw.to_bytes(2, "big"))
        body += encode_tlv(_DO_MAC, self._mac(body))
        return ResponseAPDU(body, response.sw)


@dataclass(frozen=True, slots=True)
class _SmObjects:
    data_tag: int | None
    data: bytes
    le: bytes | None
    status: bytes | None
    authenticated: bytes
    checksum: bytes


_ORDER = {_DO_DATA: 0, _DO_ODD_DATA: 0, _DO_LE: 1, _DO_STATUS: 1, _DO_MAC: 2}


def _split_objects(body: bytes, *, allowed: tuple[int, ...]) -> _SmObjects:
    """The SM data objects of a body in the order ICAO 9303-11 §9.8.4 mandates, DO'8E' last and required.

    The MAC input is the encoded objects exactly as received, so a non-minimal length encoding is authenticated as
    sent rather than re-encoded.
    """
    pos = 0
    seen: list[int] = []
    data_tag: int | None = None
    data = b""
    le: bytes | None = None
    status: bytes | None = None
    checksum: bytes | None = None
    mac_start = len(body)
    while pos < len(body):
        try:
            tlv, end = read_tlv(body, pos)
        except ParseError as exc:
            raise SecureMessagingError(f"malformed secure-messaging data object: {exc}") from exc
        tag = tlv.tag
        if checksum is not None:
            raise SecureMessagingError("data after DO'8E'")
        if tag != _DO_MAC and tag not in allowed:
            raise SecureMessagingError(f"unexpected data object {tag:X} in a secure-messaging APDU")
        if seen and _ORDER[tag] <= _ORDER[seen[-1]]:
            raise SecureMessagingError("secure-messaging data objects out of order or repeated")
        seen.append(tag)
        if tag in (_DO_DATA, _DO_ODD_DATA):
            data_tag, data = tag, tlv.value
        elif tag == _DO_LE:
            le = tlv.value
        elif tag == _DO_STATUS:
            status = tlv.value
        else:
            mac_start = pos
            checksum = tlv.value
        pos = end
    if checksum is None:
        raise SecureMessagingError("no DO'8E' (MAC) in the secure-messaging APDU")
    if len(checksum) != MAC_LENGTH:
        raise SecureMessagingError(f"DO'8E' must hold an {MAC_LENGTH}-byte MAC")
    return _SmObjects(data_tag, data, le, status, body[:mac_start], checksum)


def sm_error_response(error: SecureMessagingError) -> ResponseAPDU:
    """What a chip answers, in clear, to a command that failed its SM check (the session ends)."""
    return ResponseAPDU(b"", error.sw or StatusWord.SM_DATA_OBJECTS_INCORRECT)


class SecureChannel:
    """The terminal end of a secure-messaging session over a transmit callable."""

    def __init__(self, transmit: Transmit, sm: SecureMessaging) -> None:
        self._transmit = transmit
        self.sm = sm

    @property
    def secure(self) -> bool:
        return True

    @property
    def transmit(self) -> Transmit:
        return self._transmit

    async def send(self, command: CommandAPDU) -> ResponseAPDU:
        protected = self.sm.protect_command(command)
        return self.sm.unprotect_response(await self._transmit(protected.encode()))
