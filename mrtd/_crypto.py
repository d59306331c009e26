"""Symmetric primitives of ICAO Doc 9303-11: 3DES and AES in CBC, the retail MAC and CMAC, padding, the KDF.

The chip core needs these both on the terminal side and in the virtual chip; keeping them here means the two sides
share one implementation, so the tests check them against the ICAO and BSI vectors rather than against each other.
"""

from __future__ import annotations

import enum
import hashlib

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes

from mrtd._errors import ParseError


class CipherSuite(enum.Enum):
    """The block ciphers ICAO 9303 pairs with its MACs: 3DES + retail MAC, AES + CMAC."""

    DES3 = ("3DES", 16, 8)
    AES128 = ("AES-128", 16, 16)
    AES192 = ("AES-192", 24, 16)
    AES256 = ("AES-256", 32, 16)

    def __init__(self, label: str, key_length: int, block_size: int) -> None:
        self.label = label
        self.key_length = key_length
        self.block_size = block_size

    @property
    def is_aes(self) -> bool:
        return self is not CipherSuite.DES3


class KdfCounter(enum.IntEnum):
    """The counter that ICAO 9303-11 §9.7.1 appends to the shared secret to derive each key."""

    ENC = 1
    MAC = 2
    PACE = 3


def pad(data: bytes, block_size: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2: ``80`` then zeros up to a whole block (always adds at least one byte)."""
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % block_size)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise ParseError("padding is not ISO/IEC 9797-1 method 2")
    return stripped[:-1]


def adjust_des_parity(key: bytes) -> bytes:
    """Set the low bit of every byte so each has odd parity, as DES keys require."""
    out = bytearray()
    for byte in key:
        high = byte & 0xFE
        out.append(high | (bin(high).count("1") + 1) % 2)
    return bytes(out)


def kdf(shared_secret: bytes, counter: KdfCounter, suite: CipherSuite) -> bytes:
    """Key derivation of ICAO 9303-11 §9.7.1: hash(secret ‖ counter), cut to the cipher's key length."""
    data = shared_secret + int(counter).to_bytes(4, "big")
    if suite is CipherSuite.DES3:
        return adjust_des_parity(hashlib.sha1(data).digest()[:16])  # noqa: S324 - SHA-1 is what the standard mandates
    if suite is CipherSuite.AES128:
        return hashlib.sha1(data).digest()[:16]  # noqa: S324 - as above
    return hashlib.sha256(data).digest()[: suite.key_length]


def _des3(key: bytes) -> TripleDES:
    if len(key) == 8:
        # Single DES as 3DES with K1 = K2 = K3, which is how the retail MAC's DES steps run.
        key = key * 3
    elif len(key) == 16:
        key = key + key[:8]
    return TripleDES(key)


def _block_cipher(suite: CipherSuite, key: bytes) -> TripleDES | algorithms.AES:
    if len(key) != suite.key_length:
        raise ValueError(f"{suite.label} needs a {suite.key_length}-byte key, not {len(key)}")
    return _des3(key) if suite is CipherSuite.DES3 else algorithms.AES(key)


def cbc_encrypt(suite: CipherSuite, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """CBC encryption of whole blocks (the caller pads); the IV defaults to zeros as BAC and PACE use it."""
    if len(data) % suite.block_size:
        raise ValueError("data is not a whole number of blocks")
    iv = iv if iv is not None else bytes(suite.block_size)
    encryptor = _Cipher(_block_cipher(suite, key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def cbc_decrypt(suite: CipherSuite, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    if len(data) % suite.block_size:
        raise ParseError("encrypted data is not a whole number of blocks")
    iv = iv if iv is not None else bytes(suite.block_size)
    decryptor = _Cipher(_block_cipher(suite, key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def ecb_encrypt_block(suite: CipherSuite, key: bytes, block: bytes) -> bytes:
    """One block in ECB mode: the AES secure-messaging IV is E(K_enc, SSC)."""
    encryptor = _Cipher(_block_cipher(suite, key), modes.ECB()).encryptor()  # noqa: S305 - single block by design
    return encryptor.update(block) + encryptor.finalize()


def retail_mac(key: bytes, data: bytes, *, padded: bool = False) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES (the "retail MAC" of BAC and 3DES secure messaging).

    ``padded`` says the caller already applied padding method 2.
    """
    if len(key) != 16:
        raise ValueError("the retail MAC needs a 16-byte key")
    message = data if padded else pad(data, 8)
    if len(message) % 8:
        raise ValueError("MAC input is not a whole number of blocks")
    k1, k2 = key[:8], key[8:]
    encryptor = _Cipher(_des3(k1), modes.CBC(bytes(8))).encryptor()
    last = (encryptor.update(message) + encryptor.finalize())[-8:]
    decryptor = _Cipher(_des3(k2), modes.ECB()).decryptor()  # noqa: S305 - single block by design
    step = decryptor.update(last) + decryptor.finalize()
    final = _Cipher(_des3(k1), modes.ECB()).encryptor()  # noqa: S305 - single block by design
    return final.update(step) + final.finalize()


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B), truncated to the 8 bytes ICAO 9303 uses."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:8]


def mac(suite: CipherSuite, key: bytes, data: bytes, *, padded: bool = False) -> bytes:
    """The 8-byte MAC of ``suite``. AES-CMAC pads internally, so ``padded`` only matters for 3DES."""
    if suite is CipherSuite.DES3:
        return retail_mac(key, data, padded=padded)
    return aes_cmac(key, data)


def digest(name: str, data: bytes) -> bytes:
    """Hash by the lower-case names the LDS uses (``sha1``, ``sha224``, ``sha256``, ``sha384``, ``sha512``)."""
    if name not in ("sha1", "sha224", "sha256", "sha384", "sha512"):
        raise ParseError(f"unsupported hash algorithm {name}")
    return hashlib.new(name, data).digest()
