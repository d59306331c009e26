"""The file reader: replays of ICAO App. D.4 and the javacard-express AES session, every fallback on a chip with
quirks, odd-INS reads past 32767, and fuzzing with random file headers (no hang, bounded APDU count)."""

import math
from dataclasses import dataclass, field

import pytest
from apdu_script import ScriptedCard
from hypothesis import given, settings
from hypothesis import strategies as st

from mrtd import AccessDenied, CardError, FileNotFound, ParseError, ProtocolNotSupported
from mrtd._apdu import CommandAPDU, MeteredTransmit, PlainChannel, ResponseAPDU
from mrtd._crypto import CipherSuite
from mrtd._files import FileId
from mrtd._reader import (
    EXTENDED_SM_MAX_LE,
    LE_LADDER,
    FileSelection,
    ReadOptions,
    read_binary_command,
    read_file,
    select_file_command,
)
from mrtd._sm import SecureChannel, SecureMessaging, SessionKeys
from mrtd._tlv import encode_tlv, parse_one

EF_COM = bytes.fromhex("60145F0104303130365F36063034303030305C026175")


async def test_replays_appendix_d4() -> None:
    keys = SessionKeys(
        CipherSuite.DES3,
        bytes.fromhex("979EC13B1CBFE9DCD01AB0FED307EAE5"),
        bytes.fromhex("F1CB1F1FB5ADF208806B89DC579DC1F8"),
    )
    card = ScriptedCard(
        [
            ("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800", "990290008E08FA855A5D4C50A8ED9000"),
            ("0CB000000D9701048E08ED6705417E96BA5500", "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"),
            (
                "0CB000040D9701128E082EA28A70F3C7B53500",
                "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
            ),
        ]
    )
    metered = MeteredTransmit(card)
    channel = SecureChannel(metered, SecureMessaging(keys, ssc=0x887022120C06C226))
    result = await read_file(channel, FileId.COM, options=ReadOptions(header_length=4), meter=metered.counters)
    assert result.data == EF_COM
    assert result.apdus == 3
    assert result.bytes_sent == 27 + 19 + 19
    assert result.bytes_received == 16 + 27 + 43
    assert card.done


async def test_replays_javacard_express_aes_session() -> None:
    keys = SessionKeys(
        CipherSuite.AES128,
        bytes.fromhex("F5F0E35C0D7161EE6724EE513A0D9A7F"),
        bytes.fromhex("FE251C7858B356B24514B3BD5F4297D1"),
    )
    card = ScriptedCard(
        [
            (
                "0CA4020C1D8711016EC84E1358184515AB2D827D30A5C92A8E08403D53BA7533FA7800",
                "990290008E08E00BFFE5473D41409000",
            ),
            (
                "0CB000000D9701048E085F466809FF5A7CFA00",
                "871101589BBC0A6D42160A410E922BF9B053C0990290008E08D740B23B68972F959000",
            ),
            (
                "0CB000040D9701128E08BBBF5ED5E05496B900",
                "872101BEF82DED9B5D74478CBF57D8D9A97CA0A734BF04FDFFB15F3E9B17C4CF0C7FAD990290008E08FEF6E216BE55241B9000",
            ),
            (
                "0CA4020C1D8711015B2F29C050148915B65E27AA5CD2485C8E08FDB5983F8AB5662700",
                "99026A828E0874C75E16C36B7EA56A82",
            ),
        ]
    )
    channel = SecureChannel(card, SecureMessaging(keys, ssc=2))
    result = await read_file(channel, FileId.COM, options=ReadOptions(header_length=4))
    assert result.data == EF_COM
    # The vector reads past the end of EF.COM in between (SSC 9 and A); the protected 6A82 comes at SSC B and C.
    channel.sm = SecureMessaging(keys, ssc=0x0A)
    with pytest.raises(FileNotFound, match="DG7"):
        await read_file(channel, FileId.DG7)
    assert card.done


@dataclass
class QuirkyChip:
    """A plain file system with the length quirks real chips show."""

    files: dict[int, bytes]
    max_le: int = 256  # a larger Le gives `refusal`
    refusal: int = 0x6700
    hint_exact: bool = False  # answer 6Cxx with the largest acceptable Le instead
    eof_status: int = 0x6282  # answer when Le runs past the end of the file
    sfi: bool = True
    odd_ins: bool = True
    extended: bool = True
    protected: frozenset[int] = frozenset()
    select_p1: int | None = None  # the only P1 SELECT EF accepts (6A86 for others); None: any
    selected: int | None = None
    log: list[CommandAPDU] = field(default_factory=list)

    async def __call__(self, raw: bytes) -> bytes:
        command = CommandAPDU.decode(raw)
        self.log.append(command)
        return self.answer(command).encode()

    def answer(self, command: CommandAPDU) -> ResponseAPDU:
        if command.is_extended and not self.extended:
            return ResponseAPDU(b"", 0x6700)
        if command.ins == 0xA4:
            if self.select_p1 is not None and command.p1 != self.select_p1:
                return ResponseAPDU(b"", 0x6A86)
            fid = int.from_bytes(command.data, "big")
            if fid in self.protected:
                return ResponseAPDU(b"", 0x6982)
            if fid not in self.files:
                return ResponseAPDU(b"", 0x6A82)
            self.selected = fid
            return ResponseAPDU(b"", 0x9000)
        if command.ins == 0xB0:
            if command.p1 & 0x80:
                if not self.sfi:
                    return ResponseAPDU(b"", 0x6A86)
                fid = next((f.fid for f in FileId if f.sfi == command.p1 & 0x1F and f.fid in self.files), None)
                if fid is None:
                    return ResponseAPDU(b"", 0x6A82)
                self.selected, offset = fid, command.p2
            else:
                offset = (command.p1 << 8) | command.p2
            return self.read(offset, command.le or 256, odd=False)
        if command.ins == 0xB1:
            if not self.odd_ins:
                return ResponseAPDU(b"", 0x6D00)
            offset = int.from_bytes(parse_one(command.data).value, "big")
            return self.read(offset, command.le or 256, odd=True)
        return ResponseAPDU(b"", 0x6D00)

    def read(self, offset: int, le: int, *, odd: bool) -> ResponseAPDU:
        if self.selected is None:
            return ResponseAPDU(b"", 0x6986)
        content = self.files[self.selected]
        if le > self.max_le:
            return ResponseAPDU(b"", 0x6C00 | (self.max_le % 256) if self.hint_exact else self.refusal)
        if offset >= len(content):
            return ResponseAPDU(b"", 0x6B00)
        if odd:
            chunk = content[offset : offset + le - 4]
            return ResponseAPDU(encode_tlv(0x53, chunk), 0x9000)
        chunk = content[offset : offset + le]
        return ResponseAPDU(chunk, self.eof_status if len(chunk) < le else 0x9000)


def _lds_file(tag: int, size: int) -> bytes:
    body = bytes((i * 7 + 3) % 256 for i in range(size))
    return encode_tlv(tag, body)


DG2 = _lds_file(0x75, 15_000)
DG13 = _lds_file(0x6D, 600)


async def test_reads_with_few_apdus() -> None:
    chip = QuirkyChip({0x0102: DG2})
    result = await read_file(PlainChannel(chip), FileId.DG2)
    assert result.data == DG2
    # SELECT + 8-byte header + ceil((len - 8) / 223) chunks.
    assert result.apdus == 2 + math.ceil((len(DG2) - 8) / 223)
    assert max(c.le or 0 for c in chip.log) == 223


async def test_sfi_saves_the_select() -> None:
    chip = QuirkyChip({0x010D: DG13})
    result = await read_file(PlainChannel(chip), FileId.DG13, options=ReadOptions(selection=FileSelection.SFI))
    assert result.data == DG13
    assert chip.log[0].encode().hex().upper() == "00B08D0008"
    assert all(c.ins == 0xB0 for c in chip.log)
    assert result.apdus == 1 + math.ceil((len(DG13) - 8) / 223)


async def test_sfi_refused_falls_back_to_select() -> None:
    chip = QuirkyChip({0x010D: DG13}, sfi=False)
    result = await read_file(PlainChannel(chip), FileId.DG13, options=ReadOptions(selection=FileSelection.SFI))
    assert result.data == DG13
    assert chip.log[1].encode() == select_file_command(FileId.DG13).encode()


@pytest.mark.parametrize(
    ("quirks", "learned"),
    [
        ({"max_le": 192, "refusal": 0x6700}, 192),  # Ukrainian passport: Le ≤ 192 only
        ({"max_le": 160, "refusal": 0x6B00}, 160),  # Russian passport: 6B00 for a large Le
        ({"max_le": 128, "refusal": 0x6282}, 128),  # Spanish ID: 6282 without data
        ({"max_le": 100, "hint_exact": True}, 100),  # 6Cxx gives the length to use
        ({"max_le": 20, "refusal": 0x6700}, 16),
    ],
)
async def test_smaller_le_when_the_chip_refuses(quirks: dict[str, int], learned: int) -> None:
    chip = QuirkyChip({0x0102: DG2}, **quirks)  # type: ignore[arg-type]
    result = await read_file(PlainChannel(chip), FileId.DG2)
    assert result.data == DG2
    assert result.options.max_le == learned
    # Down the ladder once (one step with a 6Cxx hint), then every chunk at the learned size: the Le is not
    # retried at full size for each chunk.
    refusals = 1 if quirks.get("hint_exact") else len([le for le in LE_LADDER if le > learned])
    assert result.apdus == 2 + refusals + math.ceil((len(DG2) - 8) / learned)
    chip.log.clear()
    await read_file(PlainChannel(chip), FileId.DG2, options=result.options)
    assert max(c.le or 0 for c in chip.log) <= learned


async def test_end_of_file_with_9000_or_6282() -> None:
    tiny = bytes.fromhex("6E03010203")  # 5 bytes: shorter than the 8-byte header read
    for status in (0x9000, 0x6282):
        chip = QuirkyChip({0x010E: tiny}, eof_status=status)
        assert (await read_file(PlainChannel(chip), FileId.DG14)).data == tiny


async def test_padding_after_the_tlv_is_dropped() -> None:
    chip = QuirkyChip({0x011E: EF_COM + b"\xff" * 40})
    assert (await read_file(PlainChannel(chip), FileId.COM)).data == EF_COM


async def test_extended_length_reads_in_one_go() -> None:
    chip = QuirkyChip({0x0102: DG2}, max_le=65536)
    result = await read_file(PlainChannel(chip), FileId.DG2, options=ReadOptions(extended_length=True))
    assert result.data == DG2
    assert result.apdus == 3
    assert chip.log[-1].le == len(DG2) - 8
    assert chip.log[-1].is_extended


async def test_extended_length_refused_falls_back_to_short() -> None:
    chip = QuirkyChip({0x0102: DG2}, extended=False)
    result = await read_file(PlainChannel(chip), FileId.DG2, options=ReadOptions(extended_length=True))
    assert result.data == DG2
    assert not result.options.extended_length


async def test_odd_ins_past_32767() -> None:
    big = _lds_file(0x75, 40_000)
    chip = QuirkyChip({0x0102: big})
    result = await read_file(PlainChannel(chip), FileId.DG2)
    assert result.data == big
    odd = [c for c in chip.log if c.ins == 0xB1]
    assert odd
    # Chunks of 223 from offset 8: the first offset past 32767 is 8 + 147 * 223, carried in DO'54'.
    assert int.from_bytes(parse_one(odd[0].data).value, "big") == 8 + 147 * 223
    assert all(c.ins == 0xB0 for c in chip.log[1:] if c not in odd)


async def test_odd_ins_refused() -> None:
    chip = QuirkyChip({0x0102: _lds_file(0x75, 40_000)}, odd_ins=False)
    with pytest.raises(ProtocolNotSupported, match="B1"):
        await read_file(PlainChannel(chip), FileId.DG2)


def test_read_binary_commands() -> None:
    assert read_binary_command(0, 8, sfi=0x1E).encode().hex().upper() == "00B09E0008"
    assert read_binary_command(0x1234, 223).encode().hex().upper() == "00B01234DF"
    assert read_binary_command(0x8000, 256).encode().hex().upper() == "00B10000045402800000"
    assert read_binary_command(0x12345, 100).encode().hex().upper() == "00B100000554030123456" + "4"
    assert select_file_command(FileId.CARD_ACCESS).encode().hex().upper() == "00A4020C02011C"
    with pytest.raises(ValueError, match="SFI"):
        read_binary_command(300, 8, sfi=1)


async def test_missing_and_protected_files() -> None:
    chip = QuirkyChip({0x0101: EF_COM}, protected=frozenset({0x0103}))
    with pytest.raises(FileNotFound, match="no DG11"):
        await read_file(PlainChannel(chip), FileId.DG11)
    with pytest.raises(AccessDenied, match="protects DG3"):
        await read_file(PlainChannel(chip), FileId.DG3)


async def test_plain_6a82_under_secure_messaging_is_file_not_found() -> None:
    keys = SessionKeys(CipherSuite.AES128, bytes(16), bytes(range(16)))
    channel = SecureChannel(ScriptedCard([(None, "6A82")]), SecureMessaging(keys))
    with pytest.raises(FileNotFound):
        await read_file(channel, FileId.DG11)


async def test_a_chip_refusing_select_p1_02_gets_p1_00_and_keeps_it() -> None:
    # ICAO 9303-10 selects EFs with P1 = 02; a chip that answers 6A86 to it is asked with P1 = 00 (ISO/IEC 7816-4
    # "MF, DF or EF"), and the next file starts with that form.
    chip = QuirkyChip({0x011E: EF_COM, 0x010D: DG13}, select_p1=0x00)
    first = await read_file(PlainChannel(chip), FileId.COM)
    assert first.data == EF_COM
    assert [(c.p1, c.p2) for c in chip.log if c.ins == 0xA4] == [(0x02, 0x0C), (0x00, 0x0C)]
    assert first.options.selection is FileSelection.FID_ANY
    chip.log.clear()
    second = await read_file(PlainChannel(chip), FileId.DG13, options=first.options)
    assert second.data == DG13
    assert [c.p1 for c in chip.log if c.ins == 0xA4] == [0x00]
    # A chip that refuses both forms still gives the error of the last one.
    with pytest.raises(CardError, match="6A86"):
        await read_file(PlainChannel(QuirkyChip({0x011E: EF_COM}, select_p1=0x08)), FileId.COM)


async def test_select_refused_in_clear_under_secure_messaging_is_retried_with_p1_00() -> None:
    keys = SessionKeys(CipherSuite.DES3, bytes(range(16)), bytes(range(16, 32)))
    chip = QuirkyChip({0x011E: EF_COM}, select_p1=0x00)
    chip_sm = SecureMessaging(keys, ssc=0)

    async def clear_refusals(raw: bytes) -> bytes:
        answer = chip.answer(chip_sm.unprotect_command(CommandAPDU.decode(raw)))
        if answer.sw == 0x6A86:
            chip_sm.protect_response(answer)  # keeps the SSC in step, as the reader counts the answer too
            return answer.encode()
        return chip_sm.protect_response(answer).encode()

    channel = SecureChannel(clear_refusals, SecureMessaging(keys, ssc=0))
    result = await read_file(channel, FileId.COM)
    assert result.data == EF_COM
    assert result.options.selection is FileSelection.FID_ANY


async def test_oversized_and_malformed_files() -> None:
    chip = QuirkyChip({0x0102: bytes.fromhex("758400FFFFFF") + bytes(100)})
    with pytest.raises(ParseError, match="claims"):
        await read_file(PlainChannel(chip), FileId.DG2)
    chip = QuirkyChip({0x0102: bytes.fromhex("7582FFFF") + bytes(100)})
    with pytest.raises(ParseError, match="ends at"):
        await read_file(PlainChannel(chip), FileId.DG2)
    chip = QuirkyChip({0x0102: bytes.fromhex("7580") + bytes(100)})
    with pytest.raises(ParseError, match="indefinite"):
        await read_file(PlainChannel(chip), FileId.DG2)
    chip = QuirkyChip({0x0102: bytes(30)})
    with pytest.raises(ParseError, match="TLV header"):
        await read_file(PlainChannel(chip), FileId.DG2)


async def test_chip_that_refuses_everything() -> None:
    chip = QuirkyChip({0x0102: DG2}, max_le=0, refusal=0x6700)
    with pytest.raises(CardError, match="refuses"):
        await read_file(PlainChannel(chip), FileId.DG2)


async def test_read_under_secure_messaging_with_a_chip_side_peer() -> None:
    keys = SessionKeys(CipherSuite.AES256, bytes(range(32)), bytes(range(32, 64)))
    chip = QuirkyChip({0x0102: DG2})
    chip_sm = SecureMessaging(keys, ssc=0)

    sizes: list[int] = []

    async def secured(raw: bytes) -> bytes:
        command = chip_sm.unprotect_command(CommandAPDU.decode(raw))
        answer = chip_sm.protect_response(chip.answer(command)).encode()
        sizes.append(len(answer) - 2)
        return answer

    metered = MeteredTransmit(secured)
    channel = SecureChannel(metered, SecureMessaging(keys, ssc=0))
    result = await read_file(channel, FileId.DG2, meter=metered.counters)
    assert result.data == DG2
    assert result.bytes_received == sum(sizes) + 2 * len(sizes)
    # Every protected answer fits a short response (256 data bytes): that is what the 223 limit is for.
    assert max(sizes) == 242
    assert result.apdus == 2 + math.ceil((len(DG2) - 8) / 223)


def test_extended_limit_fits_one_response() -> None:
    keys = SessionKeys(CipherSuite.DES3, bytes(16), bytes(range(16)))
    sm = SecureMessaging(keys)
    sm.protect_command(CommandAPDU(0, 0xB0, 0, 0, le=EXTENDED_SM_MAX_LE))
    chip = SecureMessaging(keys)
    chip.unprotect_command(SecureMessaging(keys).protect_command(CommandAPDU(0, 0xB0, 0, 0, le=4)))
    answer = chip.protect_response(ResponseAPDU(bytes(EXTENDED_SM_MAX_LE), 0x9000))
    assert len(answer.encode()) <= 65536 + 2


@settings(max_examples=150, deadline=None)
@given(
    content=st.binary(max_size=700),
    max_le=st.integers(1, 256),
    refusal=st.sampled_from([0x6700, 0x6B00, 0x6282, 0x6F00]),
    eof_status=st.sampled_from([0x9000, 0x6282]),
    header_length=st.integers(1, 16),
)
async def test_random_files_never_hang(
    content: bytes, max_le: int, refusal: int, eof_status: int, header_length: int
) -> None:
    chip = QuirkyChip({0x0101: content}, max_le=max_le, refusal=refusal, eof_status=eof_status)
    try:
        result = await read_file(
            PlainChannel(chip), FileId.DG1, options=ReadOptions(header_length=header_length, max_file_size=4096)
        )
    except (ParseError, CardError):
        pass
    else:
        assert content.startswith(result.data)
    # Bounded: one select, the ladder of refusals, and every chunk at least one byte of what the header claims.
    assert len(chip.log) <= 2 + 16 + 2 * (len(content) + 16)
