"""The error hierarchy of device identity: CA, tokens, enrollment, renewal, revocation and broker configuration.

Each error carries a message an operator can act on. The CLI maps them to exit codes: ``EnvironmentProblem`` and its
subclasses to 3 (fleet directory, broker or service unavailable), everything else to 1 (refused or bad input).
"""

from __future__ import annotations

from enum import StrEnum


class ProvisioningError(Exception):
    """Base class of every error raised by ``provisioning``."""


class EnvironmentProblem(ProvisioningError):
    """Something outside the input is missing or unusable: the fleet directory, the broker, the network."""


class FleetNotInitialized(EnvironmentProblem):
    """The fleet directory has no CA yet (run ``cccd fleet init``)."""


class FleetAlreadyInitialized(ProvisioningError):
    """``init`` would overwrite an existing CA."""


class WrongPassphrase(ProvisioningError):
    """The passphrase does not decrypt the CA keys."""


class InvalidRequest(ProvisioningError):
    """A CSR, site, device id or option is malformed."""


class TokenRejection(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    WRONG_SITE = "wrong_site"
    UNUSED = "unused"  # asked to recover an enrollment that never happened: enroll with the token instead


class TokenRejected(ProvisioningError):
    """An enrollment token is unknown, already used, expired, or made for another site than the terminal's."""

    def __init__(self, reason: TokenRejection) -> None:
        super().__init__(f"enrollment token rejected: {reason.value}")
        self.reason = reason


class DeviceNotFound(ProvisioningError):
    """No device with that id was ever enrolled."""


class RenewalRefused(ProvisioningError):
    """The fleet will not renew this certificate (revoked, expired or unknown); the terminal must re-enroll."""


class FingerprintMismatch(ProvisioningError):
    """The enrollment server's CA is not the one whose fingerprint the installer gave: stop, do not send the token."""


class EnrollmentFailed(ProvisioningError):
    """The enrollment service refused the request or answered with something unusable."""


class ServiceUnavailable(EnvironmentProblem):
    """The enrollment service or the broker cannot be reached."""


class ClockNotPlausible(EnvironmentProblem):
    """The local clock is clearly wrong (before the fleet existed, or far from the server's), so certificate
    validity cannot be judged. The terminal waits for time sync instead of acting on a wrong time."""


class BrokerConfigError(ProvisioningError):
    """The broker configuration cannot be written or a CRL failed its check before installation."""
