"""The terminal service: QR decoding and CCCD QR parsing, the QR ↔ chip cross-check, and the authentication pipeline."""

from agent._cccd_qr import (
    BacInputs,
    CccdQr,
    CccdQrError,
    ChipAccess,
    QrError,
    QrForm,
    QrRejectReason,
    parse_cccd_qr,
)
from agent._qr_decode import (
    FALLBACKS,
    LIVE_FALLBACKS,
    Attempt,
    DecodeFailure,
    QrDecodeError,
    QrDecoder,
    QrSymbol,
    Strategy,
    decode_image,
    iter_decode_attempts,
    read_cccd_qr,
)
from agent._qr_match import FieldCheck, FieldMatch, QrField, QrMatch, cross_check, normalise_name

__all__ = [
    "FALLBACKS",
    "LIVE_FALLBACKS",
    "Attempt",
    "BacInputs",
    "CccdQr",
    "CccdQrError",
    "ChipAccess",
    "DecodeFailure",
    "FieldCheck",
    "FieldMatch",
    "QrDecodeError",
    "QrDecoder",
    "QrError",
    "QrField",
    "QrForm",
    "QrMatch",
    "QrRejectReason",
    "QrSymbol",
    "Strategy",
    "cross_check",
    "decode_image",
    "iter_decode_attempts",
    "normalise_name",
    "parse_cccd_qr",
    "read_cccd_qr",
]
