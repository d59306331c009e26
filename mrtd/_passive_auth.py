"""Passive authentication (ICAO 9303-11 §5.1): the EF.SOD signature, the DSC → CSCA chain, the data group hashes.

Three separate outcomes, because they mean different things to the person at the counter: a bad SOD signature or a
changed data group is forgery; a DSC that chains to no trusted CSCA may only mean the trust store lacks a country.
Each failure carries a stable key (``dg_hash_mismatch:DG13``, ``csca_not_found``, ``dsc_expired``...).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from mrtd._certificates import Certificate, issuer_problem
from mrtd._checks import Check, CheckStatus
from mrtd._errors import ParseError, PassiveAuthError, TLVError
from mrtd._files import FileId
from mrtd._sod import ACCEPTED_ECONTENT_TYPES, SOD, signer_verifies
from mrtd._tlv import read_tlv
from mrtd._trust_store import TrustAnchor, TrustStore


@dataclass(frozen=True, slots=True)
class PassiveAuthResult:
    """``signature`` is the SOD signature (with its message digest), ``chain`` the DSC → CSCA path."""

    signature: Check
    chain: Check
    dg_hashes: Check
    dsc: Certificate | None = None
    csca: Certificate | None = None
    verified_groups: tuple[FileId, ...] = ()
    absent_groups: tuple[FileId, ...] = ()

    @property
    def ok(self) -> bool:
        return self.signature.ok and self.chain.ok and self.dg_hashes.ok

    def raise_for_failure(self) -> None:
        """Raise :class:`PassiveAuthError` with the first failing step's reason; return when all three passed."""
        for check in (self.signature, self.chain, self.dg_hashes):
            if not check.ok:
                raise PassiveAuthError(check.message, reason=check.reason)


_MAX_CARRIED_CERTIFICATES = 8


def _find_dsc(sod: SOD, trust_store: TrustStore) -> tuple[Certificate | None, bool]:
    """The Document Signer certificate the SignerInfo names: from the SOD, else from the trust store (ICAO 9303
    asks the SOD to carry it, but a document without it is verifiable once the DSC is known). The flag says whether
    it came from the trust store. Being in the trust store makes a DSC neither trusted nor an issuer: it is still
    chained to a CSCA like any other."""
    if sod.dsc is not None:
        return sod.dsc, False
    found = next((a.certificate for a in trust_store.anchors if sod.signer.identifies(a.certificate)), None)
    return found, found is not None


def _check_signature(sod: SOD, dsc: Certificate | None, *, from_trust_store: bool = False) -> Check:
    signer = sod.signer
    if sod.signed_data.econtent_type not in ACCEPTED_ECONTENT_TYPES:
        # Signed, perhaps, but as something else: content signed for another purpose is not an SOD.
        return Check.failed(
            "content_type_mismatch",
            f"The SOD's content type is {sod.signed_data.econtent_type}, not an LDSSecurityObject.",
        )
    if dsc is None:
        if sod.signed_data.certificates:
            # It carries certificates, but not the one its signature names: an inconsistent SOD, not a short one.
            return Check.failed(
                "dsc_not_found",
                "EF.SOD carries certificates, but not the Document Signer certificate its signature names, and the "
                "trust store has none that matches it.",
            )
        # An SOD without certificates (ICAO 9303 asks for the DSC, some issuers leave it out): nothing shows a
        # forgery, but nothing can be verified either, so incomplete rather than failed.
        return Check.skipped(
            "dsc_not_found",
            "EF.SOD does not carry the Document Signer certificate, and the trust store has no certificate that "
            "matches its signature (give the DSC as a trust file).",
        )
    try:
        valid = signer_verifies(sod.signed_data, signer, dsc)
    except PassiveAuthError as exc:
        # The SOD's content is the data group hash list: a digest mismatch means the list was changed after signing.
        return Check.failed(exc.reason, f"The SOD's signed attributes do not match its data group hash list: {exc}.")
    except ParseError as exc:
        return Check.failed("sod_algorithm_unsupported", f"The SOD signature cannot be checked: {exc}.")
    if not valid:
        return Check.failed(
            "sod_signature_invalid", "The SOD signature does not verify with its Document Signer certificate."
        )
    source = ", taken from the trust store" if from_trust_store else ""
    return Check.passed(
        "sod_signature_valid",
        f"The SOD signature verifies with the Document Signer certificate {dsc.label} "
        f"({signer.signature_algorithm.name}{source}).",
    )


ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0"


def _via_link(
    dsc: Certificate, carried: tuple[Certificate, ...], trust_store: TrustStore
) -> tuple[Certificate | None, list[Certificate]]:
    """A certificate the SOD carries that signed the DSC and is itself signed by a trusted CSCA (a link certificate:
    the CSCA's new key certified by its old one), with those CSCAs; (None, []) when there is none."""
    # A hostile SOD may carry thousands of certificates naming the DSC's issuer; a real one carries one or two.
    for cert in carried[:_MAX_CARRIED_CERTIFICATES]:
        if cert.der == dsc.der or cert.subject != dsc.issuer or not dsc.is_signed_by(cert):
            continue
        roots = [a.certificate for a in _named_issuers(cert, trust_store) if cert.is_signed_by(a.certificate)]
        if roots:
            return cert, roots
    return None, []


def _named_issuers(cert: Certificate, trust_store: TrustStore) -> list[TrustAnchor]:
    """Trusted certificates whose subject is ``cert``'s issuer name (RFC 5280 §6.1.3: a matching key identifier and
    signature are not enough, and a CRL is found by that name)."""
    return [a for a in trust_store.issuers_of(cert) if a.certificate.subject == cert.issuer]


def _link_problems(link: Certificate) -> list[tuple[str, str]]:
    """A link certificate carries a CSCA's new key under its old one: the CSCA certifying itself (the same name)
    as a certification authority. Anything else between a CSCA and a DSC is an intermediate ICAO does not have,
    and a CSCA's pathLenConstraint of 0 forbids."""
    problems = []
    if link.subject != link.issuer:
        problems.append(("csca_not_ca", "The certificate between the CSCA and the Document Signer is not a link."))
    if not link.is_ca:
        problems.append(("csca_not_ca", "The link certificate is not a certification authority (basicConstraints)."))
    return problems


def _signer_problems(dsc: Certificate) -> list[tuple[str, str]]:
    """A Document Signer signs documents, nothing else: keyUsage digitalSignature where it says, no cA, and no
    extended key usage restricting it to other purposes (a master list signer's key must not sign an SOD)."""
    problems = []
    # ICAO 9303-12 requires keyUsage in both certificates, but China's CSCA has none; following RFC 5280, an absent
    # keyUsage restricts nothing, and only one that leaves out the needed use is a failure.
    if dsc.key_usage is not None and "digital_signature" not in dsc.key_usage:
        problems.append(("dsc_key_usage", "The Document Signer certificate is not allowed to sign (keyUsage)."))
    if dsc.is_ca:
        problems.append(("dsc_key_usage", "The Document Signer certificate is a certification authority (cA)."))
    purposes = dsc.extended_key_usage
    if purposes is not None and ANY_EXTENDED_KEY_USAGE not in purposes:
        problems.append(
            ("dsc_key_usage", "The Document Signer certificate is restricted to other purposes (extendedKeyUsage).")
        )
    return problems


def _revocation_problems(
    cert: Certificate, issuer: Certificate, what: str, key: str, trust_store: TrustStore
) -> list[tuple[str, str]]:
    # Listed is revoked, whatever date the entry gives: a key compromised is suspect from before it was noticed.
    revoked = trust_store.revocation_of(cert, issuer=issuer)
    if revoked is None:
        return []
    return [(key, f"The {what} certificate was revoked on {revoked.revoked_at:%Y-%m-%d}.")]


def _validity_problems(cert: Certificate, what: str, key: str, at: dt.datetime) -> list[tuple[str, str]]:
    if at > cert.not_after:
        return [(f"{key}_expired", f"The {what} certificate expired on {cert.not_after:%Y-%m-%d}.")]
    if at < cert.not_before:
        return [(f"{key}_not_yet_valid", f"The {what} certificate is not valid before {cert.not_before:%Y-%m-%d}.")]
    return []


def _issuer_problems(cert: Certificate, what: str) -> list[tuple[str, str]]:
    reason = issuer_problem(cert)
    if reason == "csca_key_usage":
        return [(reason, f"The {what} certificate is not allowed to sign certificates (keyUsage).")]
    if reason == "csca_not_ca":
        text = f"The {what} certificate is not a certification authority (no basicConstraints cA, no keyCertSign)."
        return [(reason, text)]
    return []


def _check_chain(
    dsc: Certificate | None,
    trust_store: TrustStore,
    at: dt.datetime,
    *,
    carried: tuple[Certificate, ...] = (),
) -> tuple[Check, Certificate | None]:
    if dsc is None:
        return Check.skipped("dsc_not_found", "There is no Document Signer certificate to chain."), None
    if len(trust_store) == 0:
        return Check.skipped("no_trust_anchor", "No CSCA certificate or master list is loaded."), None
    candidates = _named_issuers(dsc, trust_store)
    signing = [a.certificate for a in candidates if dsc.is_signed_by(a.certificate)]
    link: Certificate | None = None
    if not signing:
        link, signing = _via_link(dsc, carried, trust_store)
    if not signing:
        if not candidates:
            return Check.failed(
                "csca_not_found",
                f"No trusted CSCA issued the Document Signer certificate (issuer: {dsc.issuer_text}).",
            ), None
        return Check.failed(
            "dsc_signature_invalid",
            f"The Document Signer certificate is not signed by any trusted CSCA named {dsc.issuer_text}.",
        ), None
    csca = next((c for c in signing if c.valid_at(at) and issuer_problem(c) is None), None)
    csca = csca or next((c for c in signing if c.valid_at(at)), signing[0])
    problems: list[tuple[str, str]] = []
    problems += _validity_problems(dsc, "Document Signer", "dsc", at)
    if link is not None:
        problems += _validity_problems(link, "link", "csca", at)
        problems += _issuer_problems(link, "link")
        problems += _link_problems(link)
        problems += _revocation_problems(link, csca, "link", "csca_revoked", trust_store)
    problems += _validity_problems(csca, "CSCA", "csca", at)
    problems += _signer_problems(dsc)
    for cert, what in ((dsc, "Document Signer"), (link, "link"), (csca, "CSCA")):
        if cert is not None and cert.unknown_critical:
            oid = cert.unknown_critical[0]
            text = f"The {what} certificate has a critical extension this verifier does not know ({oid})."
            problems.append(("critical_extension_unknown", text))
    problems += _issuer_problems(csca, "CSCA")
    problems += _revocation_problems(dsc, link or csca, "Document Signer", "dsc_revoked", trust_store)
    if problems:
        keys = tuple(dict.fromkeys(key for key, _ in problems))
        return Check.failed(keys[0], " ".join(text for _, text in problems), more=keys[1:]), csca
    via = f" through the link certificate {link.label}" if link is not None else ""
    return Check.passed(
        "chain_valid", f"The Document Signer certificate chains to the trusted CSCA {csca.label}{via}."
    ), csca


def _hash_matches(data: bytes, expected: bytes, algorithm: str) -> bool:
    if hashlib.new(algorithm, data).digest() == expected:
        return True
    # A dump read to the file's allocated size carries padding after the data object; the hash covers the object.
    try:
        _, end = read_tlv(data)
    except TLVError:
        return False
    # Padding is one byte repeated (00 or FF, as the chip's memory held): anything else after the object is data
    # nobody signed.
    padding = data[end:]
    if not padding or padding.strip(padding[:1]) or padding[:1] not in (b"\x00", b"\xff"):
        return False
    return hashlib.new(algorithm, data[:end]).digest() == expected


def _check_hashes(sod: SOD, files: Mapping[FileId, bytes]) -> tuple[Check, tuple[FileId, ...], tuple[FileId, ...]]:
    lds = sod.lds
    present = sorted((f for f in files if f.dg_number is not None), key=lambda f: f.dg_number or 0)
    absent = tuple(FileId.data_group(n) for n in sorted(lds.dg_hashes) if FileId.data_group(n) not in files)
    if not present:
        return Check.skipped("no_data_groups", "There is no data group to compare with the SOD."), (), absent
    problems: list[tuple[str, str]] = []
    verified: list[FileId] = []
    for file in present:
        number = file.dg_number
        assert number is not None
        expected = lds.dg_hashes.get(number)
        if expected is None:
            problems.append((f"dg_not_in_sod:{file.label}", f"{file.label} is not listed in the SOD."))
        elif not _hash_matches(files[file], expected, lds.hash_algorithm):
            problems.append(
                (f"dg_hash_mismatch:{file.label}", f"{file.label} has been changed: its hash differs from the SOD.")
            )
        else:
            verified.append(file)
    if problems:
        keys = tuple(key for key, _ in problems)
        return Check.failed(keys[0], " ".join(text for _, text in problems), more=keys[1:]), tuple(verified), absent
    labels = ", ".join(f.label for f in verified)
    return Check.passed("dg_hashes_match", f"{labels} match the SOD ({lds.hash_algorithm})."), tuple(verified), absent


def passive_authentication(
    sod: SOD, files: Mapping[FileId, bytes], *, trust_store: TrustStore, at: dt.datetime
) -> PassiveAuthResult:
    """Verify ``sod`` and the data groups in ``files`` against ``trust_store`` at time ``at`` (timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("the verification time must be timezone-aware")
    dsc, from_trust_store = _find_dsc(sod, trust_store)
    signature = _check_signature(sod, dsc, from_trust_store=from_trust_store)
    chain, csca = _check_chain(dsc, trust_store, at, carried=sod.signed_data.certificates)
    dg_hashes, verified, absent = _check_hashes(sod, files)
    return PassiveAuthResult(
        signature=signature,
        chain=chain,
        dg_hashes=dg_hashes,
        dsc=dsc,
        csca=csca if chain.status is not CheckStatus.SKIPPED else None,
        verified_groups=verified,
        absent_groups=absent,
    )
