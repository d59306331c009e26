"""The trust store: CSCA certificates (PEM/DER, PEM or PKCS#7 bundles), ICAO master lists and CRLs, for chains.

A master list is only as good as its signer, so its CMS signature is verified and the signer certificate must be
issued by a CSCA the store already trusts (for the German and Dutch lists: their national roots). A list that does
not verify is refused, never half-loaded. CRLs are accepted only with a signature from a trusted CSCA.

Certificates are decoded once into plain data; public keys are decoded lazily (and cached) on first use, which keeps
loading the two real master lists (about 1,000 certificates) well under a second.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import logging
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, core

from mrtd._certificates import (
    Certificate,
    RevocationList,
    RevokedCertificate,
    issuer_problem,
    parse_certificate,
    parse_crl,
)
from mrtd._errors import ParseError, PassiveAuthError, TLVError, TrustStoreError
from mrtd._lds import ASN1_ERRORS
from mrtd._oids import ID_CSCA_MASTER_LIST, ID_MASTER_LIST_SIGNER
from mrtd._sod import ID_SIGNED_DATA, SignedData, parse_signed_data, signer_verifies
from mrtd._tlv import parse_all, parse_one, read_tlv

_log = logging.getLogger(__name__)

# Real master lists are about 1 MB; anything much larger is not one.
MAX_TRUST_FILE_SIZE = 32 * 1024 * 1024
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_CERT_SUFFIXES = (".cer", ".crt", ".der", ".pem", ".cert")
_ML_SUFFIXES = (".ml",)
_CRL_SUFFIXES = (".crl",)


class TrustSource(enum.Enum):
    """How a certificate came into the store."""

    FILE = "file"
    MASTER_LIST = "master_list"


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """A trusted CSCA (self-signed or link) certificate and where it came from."""

    certificate: Certificate
    source: TrustSource
    origin: str


@dataclass(frozen=True, slots=True)
class MasterListInfo:
    """What loading a master list found: its signer, when it was signed, what it added."""

    origin: str
    signer: Certificate
    signer_issuer: Certificate
    signing_time: dt.datetime | None
    certificates: int
    added: int
    skipped: int


def _signer_of(signed: SignedData, what: str) -> tuple[Certificate, int]:
    for index, signer in enumerate(signed.signer_infos):
        cert = signed.signer_certificate(signer)
        if cert is not None:
            return cert, index
    raise TrustStoreError(f"{what}: the signer certificate is not in the file")


def _verify_cms_signature(signed: SignedData, signer_index: int, cert: Certificate, what: str) -> None:
    signer = signed.signer_infos[signer_index]
    try:
        ok = signer_verifies(signed, signer, cert)
    except PassiveAuthError as exc:
        raise TrustStoreError(f"{what}: {exc}") from exc
    except ParseError as exc:
        raise TrustStoreError(f"{what}: cannot check the signature: {exc}") from exc
    if not ok:
        raise TrustStoreError(f"{what}: the signature does not verify")


def _split_master_list(content: bytes) -> list[bytes]:
    """The DER of each certificate in a CscaMasterList ``SEQUENCE { version, SET OF Certificate }``."""
    try:
        top = parse_one(content)
        items = top.children() if top.tag == 0x30 else []
        if len(items) != 2 or items[0].tag != 0x02 or items[1].tag != 0x31:
            raise TrustStoreError("master list content is not a CscaMasterList")
        return [item.encode() for item in parse_all(items[1].value)]
    except TLVError as exc:
        raise TrustStoreError(f"master list content is malformed: {exc}") from exc


class TrustStore:
    """CSCA certificates and CRLs, looked up by issuer name and authority key identifier."""

    def __init__(self) -> None:
        self._anchors: list[TrustAnchor] = []
        self._by_subject: dict[tuple[tuple[str, str], ...], list[TrustAnchor]] = {}
        self._by_key_id: dict[bytes, list[TrustAnchor]] = {}
        self._seen: set[bytes] = set()
        self._crls: list[RevocationList] = []
        self._master_lists: list[MasterListInfo] = []

    def __len__(self) -> int:
        return len(self._anchors)

    @property
    def anchors(self) -> tuple[TrustAnchor, ...]:
        return tuple(self._anchors)

    @property
    def crls(self) -> tuple[RevocationList, ...]:
        return tuple(self._crls)

    @property
    def master_lists(self) -> tuple[MasterListInfo, ...]:
        return tuple(self._master_lists)

    def _add(self, cert: Certificate, source: TrustSource, origin: str) -> bool:
        digest = hashlib.sha256(cert.der).digest()
        if digest in self._seen:
            return False
        self._seen.add(digest)
        anchor = TrustAnchor(cert, source, origin)
        self._anchors.append(anchor)
        self._by_subject.setdefault(cert.subject, []).append(anchor)
        if cert.subject_key_id is not None:
            self._by_key_id.setdefault(cert.subject_key_id, []).append(anchor)
        return True

    def add_certificate(self, data: bytes, *, origin: str = "certificate") -> Certificate:
        """Trust one CSCA (or link) certificate given as DER or PEM."""
        der = _single_der(data, "CERTIFICATE", origin)
        try:
            cert = parse_certificate(der)
        except ParseError as exc:
            raise TrustStoreError(f"{origin}: {exc}") from exc
        self._add(cert, TrustSource.FILE, origin)
        return cert

    def issuers_of(self, cert: Certificate) -> list[TrustAnchor]:
        """Trusted certificates that may have issued ``cert``: same name and key identifier first, then either."""
        by_name = self._by_subject.get(cert.issuer, [])
        by_key = self._by_key_id.get(cert.authority_key_id, []) if cert.authority_key_id else []
        both = [a for a in by_name if a in by_key]
        ordered = both + [a for a in by_name if a not in both] + [a for a in by_key if a not in both]
        if cert.authority_key_id is not None and both:
            return both
        return ordered

    def add_master_list(
        self, data: bytes, *, origin: str = "master list", at: dt.datetime | None = None
    ) -> MasterListInfo:
        """Verify an ICAO CSCA master list and trust the certificates it carries.

        The signer certificate must be a master list signer (extended key usage 2.23.136.1.1.3), valid when the
        list was signed (its signingTime, else ``at``, else now) and issued by a CSCA already in the store.
        Certificates inside that cannot be decoded are skipped (DEBUG log).
        """
        try:
            signed = parse_signed_data(data, accepted_types=(ID_CSCA_MASTER_LIST,))
        except ParseError as exc:
            raise TrustStoreError(f"{origin} is not a CSCA master list: {exc}") from exc
        signer_cert, index = _signer_of(signed, origin)
        _verify_cms_signature(signed, index, signer_cert, origin)
        when = signed.signer_infos[index].signing_time or at or dt.datetime.now(dt.UTC)
        if not signer_cert.valid_at(when):
            raise TrustStoreError(
                f"{origin}: the signer certificate {signer_cert.subject_text!r} was not valid on {when:%Y-%m-%d}"
            )
        if signer_cert.key_usage is not None and "digital_signature" not in signer_cert.key_usage:
            raise TrustStoreError(f"{origin}: the signer certificate may not sign (no digitalSignature key usage)")
        if ID_MASTER_LIST_SIGNER not in (signer_cert.extended_key_usage or ()):
            # ICAO 9303-12 gives master list signers this purpose. Without the check, any document signer under any
            # trusted CSCA could publish a "master list" that makes a CSCA of its own trusted.
            raise TrustStoreError(
                f"{origin}: the signer certificate {signer_cert.subject_text!r} is not a master list signer "
                f"(its extended key usage lacks {ID_MASTER_LIST_SIGNER})"
            )
        # Only a CSCA may vouch for a list signer: not a Document Signer someone gave with --trust, whose key would
        # otherwise certify a "list signer" of its own and, through it, any CSCA.
        issuer = next(
            (
                a.certificate
                for a in self.issuers_of(signer_cert)
                if a.certificate.subject == signer_cert.issuer
                and issuer_problem(a.certificate) is None
                and a.certificate.valid_at(when)
                and signer_cert.is_signed_by(a.certificate)
            ),
            None,
        )
        if issuer is None:
            raise TrustStoreError(
                f"{origin}: its signer {signer_cert.subject_text!r} is not issued by any trusted CSCA; "
                f"load the issuer's root ({signer_cert.issuer_text}) first"
            )
        added = skipped = 0
        ders = _split_master_list(signed.econtent)
        for der in ders:
            try:
                cert = parse_certificate(der)
            except ParseError as exc:
                skipped += 1
                _log.debug("%s: skipping a certificate that cannot be decoded: %s", origin, exc)
                continue
            added += self._add(cert, TrustSource.MASTER_LIST, origin)
        info = MasterListInfo(
            origin=origin,
            signer=signer_cert,
            signer_issuer=issuer,
            signing_time=signed.signer_infos[index].signing_time,
            certificates=len(ders),
            added=added,
            skipped=skipped,
        )
        self._master_lists.append(info)
        return info

    def add_crl(self, data: bytes, *, origin: str = "CRL") -> RevocationList:
        """Accept a CRL (DER or PEM) whose signature verifies with a trusted CSCA."""
        der = _single_der(data, "X509 CRL", origin)
        try:
            crl = parse_crl(der)
        except ParseError as exc:
            raise TrustStoreError(f"{origin}: {exc}") from exc
        by_name = self._by_subject.get(crl.issuer, [])
        if not by_name:
            raise UnknownCrlIssuer(f"{origin}: its issuer {crl.issuer_text!r} is not a trusted CSCA")
        if not any(crl.is_signed_by(a.certificate) for a in by_name):
            raise TrustStoreError(f"{origin}: the signature does not verify with the CSCA {crl.issuer_text!r}")
        self._crls.append(crl)
        return crl

    def revocation_of(self, cert: Certificate, *, issuer: Certificate | None = None) -> RevokedCertificate | None:
        """The CRL entry revoking ``cert``, if a loaded CRL from its issuer lists it. With ``issuer`` (the
        certificate whose key signed ``cert``), only CRLs that key signed count: after a CSCA key rollover the old
        and the new key share the name, and each numbers its certificates on its own."""
        for crl in self._crls:
            if crl.issuer != cert.issuer:
                continue
            entry = crl.revocation_of(cert.serial)
            if entry is not None and (issuer is None or crl.is_signed_by(issuer)):
                return entry
        return None


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    blocks = []
    for match in _PEM_BLOCK.finditer(data):
        try:
            blocks.append((match.group(1).decode("ascii"), base64.b64decode(match.group(2), validate=False)))
        except (binascii.Error, ValueError) as exc:
            raise TrustStoreError(f"a PEM {match.group(1).decode('ascii', 'replace')} block is not base64") from exc
    return blocks


def _single_der(data: bytes, label: str, origin: str) -> bytes:
    if b"-----BEGIN" not in data:
        return data
    blocks = [der for kind, der in _pem_blocks(data) if kind == label]
    if len(blocks) != 1:
        raise TrustStoreError(f"{origin}: expected one PEM {label} block, found {len(blocks)}")
    return blocks[0]


class _Kind(enum.Enum):
    CERTIFICATES = "certificates"
    MASTER_LIST = "master list"
    CRL = "CRL"


def _classify(data: bytes) -> _Kind | None:
    """What a trust file holds, judged by its content (never its name); None when it holds nothing we use."""
    if b"-----BEGIN" in data:
        kinds = {kind for kind, _ in _pem_blocks(data)}
        if "X509 CRL" in kinds:
            return _Kind.CRL
        if kinds & {"CERTIFICATE", "TRUSTED CERTIFICATE"}:
            return _Kind.CERTIFICATES
        if kinds & {"CMS", "PKCS7"}:
            return _Kind.MASTER_LIST
        return None
    try:
        top = parse_one(data)
        first = top.children()[0] if top.tag == 0x30 and top.value else None
    except (TLVError, IndexError):
        return None
    if first is None:
        return None
    if first.tag == 0x06:
        return _Kind.MASTER_LIST
    if first.tag != 0x30:
        return None
    try:
        tbs = [item.tag for item in first.children()]
    except TLVError:
        return None
    # tbsCertificate: [0] version (v3) or serial, AlgorithmIdentifier, issuer, validity SEQUENCE, ...;
    # tbsCertList: optional version INTEGER, AlgorithmIdentifier, issuer, thisUpdate (a Time: 17 or 18), ...
    if tbs[:1] == [0xA0]:
        return _Kind.CERTIFICATES
    body = tbs[1:] if tbs[:1] == [0x02] else tbs
    if len(body) >= 3 and body[0] == 0x30 and body[1] == 0x30:
        if body[2] in (0x17, 0x18):
            return _Kind.CRL
        if body[2] == 0x30 and tbs[:1] == [0x02]:
            return _Kind.CERTIFICATES
    return None


def _certificate_ders(data: bytes) -> list[bytes]:
    if b"-----BEGIN" in data:
        return [
            _without_trust_settings(der) if kind == "TRUSTED CERTIFICATE" else der
            for kind, der in _pem_blocks(data)
            if kind in ("CERTIFICATE", "TRUSTED CERTIFICATE")
        ]
    return [data]


def _without_trust_settings(der: bytes) -> bytes:
    """The certificate of an OpenSSL ``TRUSTED CERTIFICATE`` block, without the trust settings OpenSSL appends to
    it (``x509 -addtrust``): they are local OpenSSL policy, and this store's trust is the user naming the file."""
    try:
        _, end = read_tlv(der)
    except TLVError:
        return der  # the certificate parser says what is wrong with it
    return der[:end]


def _master_list_der(data: bytes) -> bytes:
    if b"-----BEGIN" in data:
        blocks = [der for kind, der in _pem_blocks(data) if kind in ("CMS", "PKCS7")]
        return blocks[0] if blocks else data
    return data


def _certs_only(der: bytes) -> list[bytes] | None:
    """The certificates of a certs-only PKCS#7 (``.p7b``: SignedData with neither signers nor content, as
    ``openssl crl2pkcs7`` writes CSCA bundles), or None when ``der`` is something else.

    Such a file signs nothing, so its certificates are exactly as trusted as a PEM bundle's: because the user named
    the file, not because of the file.
    """
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].dotted != ID_SIGNED_DATA:
            return None
        signed = info["content"]
        if len(signed["signer_infos"]) or not isinstance(signed["encap_content_info"]["content"], core.Void):
            return None
        certs = signed["certificates"]
        if isinstance(certs, core.Void):
            return []
        return [choice.chosen.dump() for choice in certs if choice.name == "certificate"]
    except ASN1_ERRORS:
        return None


def _read(path: Path) -> bytes:
    """A regular file's bytes, bounded by what is read rather than by stat() (a device or a pipe given as a trust
    file would otherwise never end, and /proc files report a size of 0)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise TrustStoreError(f"{path} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_TRUST_FILE_SIZE + 1)
    except OSError as exc:
        raise TrustStoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_TRUST_FILE_SIZE:
        raise TrustStoreError(f"{path} is larger than {MAX_TRUST_FILE_SIZE} bytes: not a certificate, CRL or list")
    return data


def _expand(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """Each file to load, with whether the user named it (True) or it came from a folder (False)."""
    files: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            # Top level only: a folder of trust files is flat, and sub-folders may hold things not meant for trust.
            try:
                files.extend((child, False) for child in sorted(path.iterdir()) if child.is_file())
            except OSError as exc:
                raise TrustStoreError(f"cannot list {path}: {exc.strerror or exc}") from exc
        elif path.exists():
            files.append((path, True))
        else:
            raise TrustStoreError(f"trust path {path} does not exist")
    return files


class UnknownCrlIssuer(TrustStoreError):
    """A CRL whose issuer is not a trusted CSCA."""


def load_trust_store(paths: Sequence[Path], *, at: dt.datetime | None = None) -> TrustStore:
    """Build a trust store from files and folders (top level) of certificates, master lists and CRLs.

    Certificates are loaded first, then master lists (retrying those whose signer's CSCA arrives with another list),
    then CRLs, so the order of ``paths`` does not matter. A file given by name that holds none of these is an error;
    such a file inside a folder (a README, a licence) is skipped.
    """
    store = TrustStore()
    certificates: list[tuple[str, bytes]] = []
    master_lists: list[tuple[str, bytes]] = []
    crls: list[tuple[str, bytes, bool]] = []
    for path, named in _expand(paths):
        data = _read(path)
        kind = _classify(data)
        if kind is None:
            if named or path.suffix.lower() in _CERT_SUFFIXES + _ML_SUFFIXES + _CRL_SUFFIXES:
                raise TrustStoreError(f"{path} is not a certificate, master list or CRL")
            _log.debug("skipping %s: not a certificate, master list or CRL", path)
            continue
        origin = str(path)
        if kind is _Kind.CERTIFICATES:
            certificates.extend((origin, der) for der in _certificate_ders(data))
        elif kind is _Kind.MASTER_LIST:
            der = _master_list_der(data)
            bundle = _certs_only(der)
            if bundle is None:
                master_lists.append((origin, der))
            elif bundle:
                certificates.extend((origin, cert) for cert in bundle)
            else:
                raise TrustStoreError(f"{path} is a PKCS#7 bundle without certificates")
        else:
            crls.append((origin, data, named))
    for origin, der in certificates:
        store.add_certificate(der, origin=origin)
    pending = master_lists
    while pending:
        failures: list[tuple[str, bytes, TrustStoreError]] = []
        for origin, der in pending:
            try:
                store.add_master_list(der, origin=origin, at=at)
            except TrustStoreError as exc:
                failures.append((origin, der, exc))
        if len(failures) == len(pending):
            raise failures[0][2]
        pending = [(origin, der) for origin, der, _ in failures]
    for origin, data, named in crls:
        try:
            store.add_crl(data, origin=origin)
        except UnknownCrlIssuer:
            if named:
                raise
            # A folder of every country's CRLs (the ICAO PKD's) holds many whose CSCA is not trusted here.
            _log.debug("skipping %s: its issuer is not a trusted CSCA", origin)
    for info in store.master_lists:
        if store.revocation_of(info.signer, issuer=info.signer_issuer) is not None:
            raise TrustStoreError(f"{info.origin}: its signer {info.signer.subject_text!r} is revoked")
    return store
