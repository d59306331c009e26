"""ICAO Doc 9303 eMRTD core for Vietnamese chip ID cards, sans-IO.

Pure code over bytes: APDUs, BER-TLV, MRZ, access control (PACE, BAC), secure messaging, the LDS files,
chip and active authentication, passive authentication and the trust store. Multi-step exchanges are async
functions that take a ``transmit`` callable; nothing here knows a card reader.
"""

from mrtd._errors import (
    AccessDenied,
    ActiveAuthError,
    CardError,
    CardRemoved,
    ChipAuthError,
    FileNotFound,
    MrtdError,
    MRZError,
    ParseError,
    PassiveAuthError,
    ProtocolNotSupported,
    SecureMessagingError,
    TLVError,
    TrustStoreError,
    VerificationError,
    WrongAccessKey,
)
from mrtd._holder import Holder, Sex
from mrtd._tlv import TLV, decode_header, encode_tlv, parse_all, parse_one, read_tlv

__all__ = [
    "TLV",
    "AccessDenied",
    "ActiveAuthError",
    "CardError",
    "CardRemoved",
    "ChipAuthError",
    "FileNotFound",
    "Holder",
    "MRZError",
    "MrtdError",
    "ParseError",
    "PassiveAuthError",
    "ProtocolNotSupported",
    "SecureMessagingError",
    "Sex",
    "TLVError",
    "TrustStoreError",
    "VerificationError",
    "WrongAccessKey",
    "decode_header",
    "encode_tlv",
    "parse_all",
    "parse_one",
    "read_tlv",
]
