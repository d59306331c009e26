"""The fleet PKI: a root CA, an issuing CA, the certificates they issue, and the issuing CA's CRL.

All keys are ECDSA P-256 (the device keys sign ES256 envelopes; a secure element can hold them later). CA keys are
stored as PKCS#12 files encrypted with the fleet passphrase. Certificates follow RFC 5280 closely enough for
``openssl verify -x509_strict`` and cryptography's path validation: critical basic constraints and key usage,
subject and authority key identifiers, and an extended key usage on every leaf.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.hazmat.primitives.serialization.pkcs12 import PBES
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from provisioning._errors import BrokerConfigError, InvalidRequest, WrongPassphrase
from wire import WireError, certificate_identity

ORGANIZATION = "cccd-edge fleet"
ROOT_LIFETIME = dt.timedelta(days=20 * 365)
ISSUING_LIFETIME = dt.timedelta(days=10 * 365)
DEVICE_LIFETIME = dt.timedelta(days=30)
SERVICE_LIFETIME = dt.timedelta(days=365)
# Certificates start a little in the past so that a terminal whose clock lags by a few minutes accepts them.
BACKDATE = dt.timedelta(minutes=5)
CRL_LIFETIME = dt.timedelta(days=30)
# mosquitto refuses every client once the CRL passes nextUpdate: re-sign when less than this is left.
CRL_REFRESH_MARGIN = dt.timedelta(days=20)
MAX_CSR_BYTES = 8 * 1024
# PBKDF2-HMAC-SHA256 iterations protecting the CA keys at rest (OWASP's 2023 figure for this KDF).
KDF_ROUNDS = 600_000
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class Role(StrEnum):
    """What a certificate is for; recorded with every certificate the fleet issues."""

    ROOT = "root"
    ISSUING = "issuing"
    DEVICE = "device"
    BROKER = "broker"
    SERVER_CLIENT = "server-client"
    ENROLLMENT = "enrollment"
    CANARY = "canary"


def generate_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def encrypt_key(
    key: ec.EllipticCurvePrivateKey,
    passphrase: bytes,
    *,
    certificate: x509.Certificate | None = None,
    rounds: int = KDF_ROUNDS,
) -> bytes:
    """A PKCS#12 file holding ``key`` (and its certificate), encrypted with PBES2 / AES-256-CBC under
    PBKDF2-HMAC-SHA256 with ``rounds`` iterations. (cryptography's PEM PKCS#8 encryption uses 2048 iterations,
    too few for a CA key that may be copied off a disk.) OpenSSL reads it: ``openssl pkcs12 -in FILE -nocerts``."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(rounds)
        .key_cert_algorithm(PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    return pkcs12.serialize_key_and_certificates(b"cccd-edge fleet CA", key, certificate, None, encryption)


def plain_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key(data: bytes, passphrase: bytes | None) -> ec.EllipticCurvePrivateKey:
    """A PEM private key (terminal keys, unencrypted) or a PKCS#12 file (CA keys, encrypted)."""
    key: object
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=passphrase)
        else:
            key, _, _ = pkcs12.load_key_and_certificates(data, passphrase)
    except (ValueError, TypeError) as exc:
        raise WrongPassphrase("the passphrase does not decrypt the CA key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise WrongPassphrase("the CA key is not an EC key")
    return key


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load_certs(pem: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise InvalidRequest("not a PEM certificate") from exc
    return certs


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 over the DER certificate, lowercase hex: what terminals pin."""
    return cert.fingerprint(hashes.SHA256()).hex()


def normalize_fingerprint(text: str) -> str:
    """Accept ``AB:CD:...``, ``abcd...`` or ``sha256:abcd...`` as the installer may paste them."""
    value = text.strip().lower().removeprefix("sha256:").removeprefix("sha256=").replace(":", "").replace(" ", "")
    if _FINGERPRINT.fullmatch(value) is None:
        raise InvalidRequest("a CA fingerprint is 64 hexadecimal digits (SHA-256)")
    return value


def fingerprints_match(cert: x509.Certificate, pinned: str) -> bool:
    return hmac.compare_digest(fingerprint(cert), normalize_fingerprint(pinned))


def _name(common_name: str, *, unit: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def common_name(cert: x509.Certificate) -> str:
    """The identity a certificate names, as the broker (MQTT username) and the wire contract (``kid``) read it."""
    try:
        return certificate_identity(cert)
    except WireError as exc:
        raise InvalidRequest(exc.detail) from exc


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Every key signs (ECDSA: TLS handshakes, envelopes); only CA keys sign certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def build_root(key: ec.EllipticCurvePrivateKey, *, now: dt.datetime) -> x509.Certificate:
    name = _name("cccd-edge fleet root CA")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + ROOT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True, slots=True)
class Authority:
    """The issuing CA, unlocked: what signs device certificates and the CRL."""

    root: x509.Certificate
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def chain(self) -> tuple[x509.Certificate, x509.Certificate]:
        """Issuing CA first, then the root: what a TLS peer needs to build the path."""
        return (self.certificate, self.root)

    def chain_pem(self) -> bytes:
        return cert_pem(*self.chain)


def build_issuing(
    key: ec.EllipticCurvePrivateKey,
    *,
    root_key: ec.EllipticCurvePrivateKey,
    root: x509.Certificate,
    now: dt.datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name("cccd-edge fleet issuing CA 1"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + ISSUING_LIFETIME, root.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )


def issue(
    authority: Authority,
    public_key: ec.EllipticCurvePublicKey,
    *,
    name: str,
    role: Role,
    now: dt.datetime,
    lifetime: dt.timedelta,
    unit: str | None = None,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    crl_url: str | None = None,
) -> x509.Certificate:
    """A leaf certificate. Terminals, the server client and the canary get ``clientAuth``; the broker and the
    enrollment service get ``serverAuth`` and their host names. ``crl_url`` names where the CRL is published (a CRL
    distribution point), for brokers that fetch it from there (EMQX)."""
    server = role in (Role.BROKER, Role.ENROLLMENT)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    not_after = min(now + lifetime, authority.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name, unit=unit))
        .issuer_name(authority.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
    )
    alt_names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if not server:
        # A URI SAN names the identity in a form path validators expect; the CN stays what the broker reads.
        alt_names.append(x509.UniformResourceIdentifier(f"urn:cccd:{role.value}:{name}"))
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if crl_url is not None:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None, crl_issuer=None
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(authority.key, hashes.SHA256())


def distribution_points(cert: x509.Certificate) -> list[str]:
    """The URLs a certificate names as its CRL distribution points."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(name.value)
        for point in points
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier)
    ]


def load_csr(pem: bytes | str) -> ec.EllipticCurvePublicKey:
    """The public key of a certificate signing request, after checking its proof of possession.

    The subject the terminal asked for is ignored: the fleet assigns the device id.
    """
    data = pem.encode("ascii", errors="replace") if isinstance(pem, str) else pem
    if len(data) > MAX_CSR_BYTES:
        raise InvalidRequest(f"a CSR is at most {MAX_CSR_BYTES} bytes")
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise InvalidRequest("not a PEM certificate signing request") from exc
    if not csr.is_signature_valid:
        raise InvalidRequest("the CSR signature does not verify: the requester does not hold the key")
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidRequest("terminal keys are ECDSA P-256")
    return key


def make_csr(key: ec.EllipticCurvePrivateKey, *, name: str = "cccd-edge terminal") -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_client_chain(
    leaf: x509.Certificate, *, authority_chain: Sequence[x509.Certificate], root: x509.Certificate, now: dt.datetime
) -> None:
    """Full RFC 5280 path validation of a client certificate up to the fleet root at ``now``."""
    verifier = PolicyBuilder().store(Store([root])).time(now).build_client_verifier()
    try:
        verifier.verify(leaf, list(authority_chain))
    except VerificationError as exc:
        raise InvalidRequest(f"certificate does not chain to the fleet root: {exc}") from exc


def build_crl(
    authority: Authority,
    revoked: Iterable[tuple[int, dt.datetime]],
    *,
    number: int,
    now: dt.datetime,
    lifetime: dt.timedelta = CRL_LIFETIME,
    distribution_point: str | None = None,
    on_hold: Iterable[int] = (),
) -> x509.CertificateRevocationList:
    """The issuing CA's CRL. With ``distribution_point`` it carries the (critical) issuing distribution point that
    names where it is published, which EMQX requires before it enforces a CRL fetched from there. ``on_hold`` lists
    serials suspended rather than revoked (reason ``certificateHold``, which a later CRL may lift)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now - BACKDATE)
        .next_update(now + lifetime)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
    )
    if distribution_point is not None:
        scope = x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier(distribution_point)],
            relative_name=None,
            only_contains_user_certs=False,
            only_contains_ca_certs=False,
            only_some_reasons=None,
            indirect_crl=False,
            only_contains_attribute_certs=False,
        )
        builder = builder.add_extension(scope, critical=True)
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    for serial in on_hold:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - BACKDATE)
            .add_extension(x509.CRLReason(x509.ReasonFlags.certificate_hold), critical=False)
        )
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(authority.key, hashes.SHA256())


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def check_crl(
    data: bytes,
    *,
    issuer: x509.Certificate,
    now: dt.datetime,
    must_revoke: Iterable[int] = (),
    min_remaining: dt.timedelta = dt.timedelta(days=1),
) -> x509.CertificateRevocationList:
    """Everything mosquitto will not check for us before a CRL goes live: it parses, the issuing CA signed it,
    nextUpdate is comfortably ahead (past it, mosquitto locks every terminal out), and it revokes what it must
    (a half-written or stale file would make mosquitto fail open)."""
    try:
        crl = x509.load_pem_x509_crl(data)
    except ValueError as exc:
        raise BrokerConfigError("the CRL does not parse") from exc
    public_key = issuer.public_key()
    if crl.issuer != issuer.subject or not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise BrokerConfigError("the CRL is not from the issuing CA")
    if not crl.is_signature_valid(public_key):
        raise BrokerConfigError("the CRL signature does not verify")
    next_update = crl.next_update_utc
    if next_update is None or next_update - now < min_remaining:
        raise BrokerConfigError(f"the CRL's nextUpdate ({next_update}) is too close; it would lock terminals out")
    for serial in must_revoke:
        if crl.get_revoked_certificate_by_serial_number(serial) is None:
            raise BrokerConfigError(f"the CRL does not revoke serial {serial:x}")
    return crl
