"""Object identifiers of ICAO 9303 and BSI TR-03110, and the DER primitives (OID, INTEGER) the chip files use."""

from __future__ import annotations

from mrtd._errors import ParseError

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

# ICAO arcs under 2.23.136.1.1.
ID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
ID_CSCA_MASTER_LIST = "2.23.136.1.1.2"
ID_AA = "2.23.136.1.1.5"

# The last arc of a PACE or CA protocol OID names the cipher and MAC (ICAO 9303-11 §9.2).
CIPHER_ARCS = {1: "3DES", 2: "AES-128", 3: "AES-192", 4: "AES-256"}


def decode_oid(content: bytes) -> str:
    """The dotted form of the contents octets of a DER OBJECT IDENTIFIER."""
    if not content or content[-1] & 0x80:
        raise ParseError("malformed object identifier")
    arcs: list[int] = []
    value = 0
    for i, byte in enumerate(content):
        if value == 0 and byte == 0x80:
            raise ParseError("object identifier arc with a leading zero byte")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
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
    """The value of a DER INTEGER's contents octets (two's complement)."""
    if not content:
        raise ParseError("empty INTEGER")
    return int.from_bytes(content, "big", signed=True)


def encode_integer(value: int) -> bytes:
    """Contents octets of a DER INTEGER."""
    length = max(1, (value.bit_length() + 8) // 8)
    return value.to_bytes(length, "big", signed=True)
