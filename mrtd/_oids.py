"""Object identifiers of ICAO 9303 and BSI TR-03110, and the DER primitives (OID, INTEGER) the chip files use."""

from __future__ import annotations

from mrtd._errors import ParseError

# Hostile input must not grow numbers without bound: Python refuses to print an integer of more than 4300 digits, so an
# oversized arc or INTEGER would otherwise escape as a ValueError from the first message that names it. Real arcs fit
# 128 bits (UUID arcs under 2.25), and the INTEGERs read with decode_integer are versions, numbers and identifiers.
_MAX_ARC_BYTES = 19
_MAX_INTEGER_BYTES = 8

# BSI TR-03110 / ICAO 9303-11 protocol arcs, under bsi-de 0.4.0.127.0.7.
ID_PK = "0.4.0.127.0.7.2.2.1"
ID_PK_DH = ID_PK + ".1"
ID_PK_ECDH = ID_PK + ".2"
ID_TA = "0.4.0.127.0.7.2.2.2"
ID_CA = "0.4.0.127.0.7.2.2.3"
ID_CA_DH = ID_CA + ".1"
ID_CA_ECDH = ID_CA + ".2"
ID_PACE = "0.4.0.127.0.7.2.2.4"
ID_PACE_DH_GM = ID_PACE + ".1"
ID_PACE_ECDH_GM = ID_PACE + ".2"
ID_PACE_DH_IM = ID_PACE + ".3"
ID_PACE_ECDH_IM = ID_PACE + ".4"
ID_PACE_ECDH_CAM = ID_PACE + ".6"
ECDSA_PLAIN_SIGNATURES = "0.4.0.127.0.7.1.1.4.1"

# Key and signature algorithms of the PKIX profiles (RFC 3279, RFC 4055, RFC 5480).
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"

# ICAO arcs under 2.23.136.1.1.
ID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
ID_CSCA_MASTER_LIST = "2.23.136.1.1.2"
ID_MASTER_LIST_SIGNER = "2.23.136.1.1.3"  # extended key usage of a master list signer (ICAO 9303-12)
ID_AA = "2.23.136.1.1.5"


def decode_oid(content: bytes) -> str:
    """The dotted form of the contents octets of a DER OBJECT IDENTIFIER."""
    if not content or content[-1] & 0x80:
        raise ParseError("malformed object identifier")
    arcs: list[int] = []
    value = 0
    arc_bytes = 0
    for i, byte in enumerate(content):
        if value == 0 and byte == 0x80:
            raise ParseError("object identifier arc with a leading zero byte")
        arc_bytes += 1
        if arc_bytes > _MAX_ARC_BYTES:
            raise ParseError("object identifier arc too large")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = arc_bytes = 0
        elif i == len(content) - 1:
            raise ParseError("truncated object identifier")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def encode_oid(dotted: str) -> bytes:
    """Contents octets of a DER OBJECT IDENTIFIER."""
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise ValueError(f"not a dotted object identifier: {dotted!r}") from None
    if len(arcs) < 2 or arcs[0] > 2:
        raise ValueError(f"not a valid object identifier: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def decode_integer(content: bytes) -> int:
    """The value of a DER INTEGER's contents octets (two's complement), at most 8 of them."""
    if not content:
        raise ParseError("empty INTEGER")
    if len(content) > _MAX_INTEGER_BYTES:
        raise ParseError(f"INTEGER of {len(content)} bytes where a small number belongs")
    return int.from_bytes(content, "big", signed=True)


def encode_integer(value: int) -> bytes:
    """Contents octets of a DER INTEGER."""
    length = max(1, (value.bit_length() + 8) // 8)
    return value.to_bytes(length, "big", signed=True)
