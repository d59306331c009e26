"""The error hierarchy of the chip core.

Every failure a terminal can meet while opening, reading or verifying a chip is one of these, each with a
message a person at the counter understands. Library exceptions are re-raised as one of them
(``raise ... from exc``) so callers never see an asn1crypto or cryptography traceback.
"""

from __future__ import annotations


class MrtdError(Exception):
    """Base class of every error raised by ``mrtd``."""


class ParseError(MrtdError):
    """Bytes from a card, a file or the network do not have the structure the standard requires."""


class TLVError(ParseError):
    """A BER-TLV object is truncated, over-long or otherwise malformed."""


class MRZError(ParseError):
    """A machine readable zone has the wrong layout or a wrong check digit; ``field`` names the field that failed."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CardError(MrtdError):
    """The chip answered a command with an error status word."""

    def __init__(self, message: str, *, sw: int | None = None) -> None:
        super().__init__(message)
        self.sw = sw


class FileNotFound(CardError):
    """The chip does not have the requested file (``6A82``)."""


class AccessDenied(CardError):
    """The chip protects the file or refused the access key (``6982``, ``6300`` and similar)."""


class WrongAccessKey(AccessDenied):
    """BAC or PACE failed: the CAN or the MRZ data does not open this chip."""


class ProtocolNotSupported(CardError):
    """The chip does not offer the requested protocol (for example PACE on an old card)."""


class CardRemoved(CardError):
    """The card left the field in the middle of an exchange; place it on the reader again."""


class SecureMessagingError(MrtdError):
    """A secured response failed its MAC check or is malformed: the channel can no longer be trusted.

    ``sw`` is the status word when the chip answered in clear (``6987``/``6988``, or any error it did not protect).
    """

    def __init__(self, message: str, *, sw: int | None = None) -> None:
        super().__init__(message)
        self.sw = sw


class VerificationError(MrtdError):
    """A cryptographic check of the document failed."""


class PassiveAuthError(VerificationError):
    """The EF.SOD signature, its certificate chain or a data group hash does not verify."""

    def __init__(self, message: str, *, reason: str = "passive_auth") -> None:
        super().__init__(message)
        self.reason = reason


class ActiveAuthError(VerificationError):
    """The chip's signature over the challenge does not verify with the DG15 key (a possible clone)."""

    def __init__(self, message: str, *, reason: str = "aa_signature_invalid") -> None:
        super().__init__(message)
        self.reason = reason


class ChipAuthError(VerificationError):
    """Chip authentication with the DG14 key failed (a possible clone)."""


class TrustStoreError(MrtdError):
    """A CSCA certificate, master list or CRL could not be loaded."""
