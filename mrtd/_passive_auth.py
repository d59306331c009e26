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

from mrtd._certificates import Certificate
from mrtd._checks import Check, CheckStatus
from mrtd._errors import ParseError, PassiveAuthError, TLVError
from mrtd._files import FileId
from mrtd._signatures import verify_signature
from mrtd._sod import SOD
from mrtd._tlv import read_tlv
from mrtd._trust_store import TrustStore


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


def _check_signature(sod: SOD, dsc: Certificate | None) -> Check:
    signer = sod.signer
    econtent = sod.signed_data.econtent
    if dsc is None:
        return Check.failed(
            "dsc_not_found", "EF.SOD does not carry the Document Signer certificate that its signature names."
        )
    if signer.signed_attributes is None:
        message = econtent
    else:
        if signer.message_digest is None:
            return Check.failed("message_digest_missing", "The SOD's signed attributes have no message digest.")
        if hashlib.new(signer.digest_algorithm, econtent).digest() != signer.message_digest:
            return Check.failed(
                "message_digest_mismatch",
                "The data group hash list does not match the digest the SOD signature covers.",
            )
        if signer.content_type is not None and signer.content_type != sod.signed_data.econtent_type:
            return Check.failed("content_type_mismatch", "The signed content type differs from the SOD's content.")
        message = signer.signed_attributes
    try:
        valid = verify_signature(
            dsc.public_key(),
            signer.signature_algorithm,
            message,
            signer.signature,
            digest_algorithm=signer.digest_algorithm,
        )
    except ParseError as exc:
        return Check.failed("sod_algorithm_unsupported", f"The SOD signature cannot be checked: {exc}.")
    if not valid:
        return Check.failed(
            "sod_signature_invalid", "The SOD signature does not verify with its Document Signer certificate."
        )
    return Check.passed(
        "sod_signature_valid",
        f"The SOD signature verifies with the Document Signer certificate {dsc.label} "
        f"({signer.signature_algorithm.name}).",
    )


def _check_chain(dsc: Certificate | None, trust_store: TrustStore, at: dt.datetime) -> tuple[Check, Certificate | None]:
    if dsc is None:
        return Check.skipped("dsc_not_found", "There is no Document Signer certificate to chain."), None
    if len(trust_store) == 0:
        return Check.skipped("no_trust_anchor", "No CSCA certificate or master list is loaded."), None
    candidates = trust_store.issuers_of(dsc)
    if not candidates:
        return Check.failed(
            "csca_not_found", f"No trusted CSCA issued the Document Signer certificate (issuer: {dsc.issuer_text})."
        ), None
    signing = [a.certificate for a in candidates if dsc.is_signed_by(a.certificate)]
    if not signing:
        return Check.failed(
            "dsc_signature_invalid",
            f"The Document Signer certificate is not signed by any trusted CSCA named {dsc.issuer_text}.",
        ), None
    csca = next((c for c in signing if c.valid_at(at)), signing[0])
    problems: list[tuple[str, str]] = []
    day = f"{at:%Y-%m-%d}"
    if at > dsc.not_after:
        problems.append(("dsc_expired", f"The Document Signer certificate expired on {dsc.not_after:%Y-%m-%d}."))
    elif at < dsc.not_before:
        problems.append(
            ("dsc_not_yet_valid", f"The Document Signer certificate is not valid before {dsc.not_before:%Y-%m-%d}.")
        )
    if at > csca.not_after:
        problems.append(("csca_expired", f"The CSCA certificate expired on {csca.not_after:%Y-%m-%d}."))
    elif at < csca.not_before:
        problems.append(("csca_not_yet_valid", f"The CSCA certificate is not valid on {day}."))
    # ICAO 9303-12 requires keyUsage in both certificates, but China's CSCA has none; following RFC 5280, an absent
    # keyUsage restricts nothing, and only one that leaves out the needed use is a failure.
    if dsc.key_usage is not None and "digital_signature" not in dsc.key_usage:
        problems.append(("dsc_key_usage", "The Document Signer certificate is not allowed to sign (keyUsage)."))
    if csca.key_usage is not None and "key_cert_sign" not in csca.key_usage:
        problems.append(("csca_key_usage", "The CSCA certificate is not allowed to sign certificates (keyUsage)."))
    revoked = trust_store.revocation_of(dsc)
    if revoked is not None and revoked.revoked_at <= at:
        problems.append(
            ("dsc_revoked", f"The Document Signer certificate was revoked on {revoked.revoked_at:%Y-%m-%d}.")
        )
    if problems:
        keys = tuple(key for key, _ in problems)
        return Check.failed(keys[0], " ".join(text for _, text in problems), more=keys[1:]), csca
    return Check.passed(
        "chain_valid", f"The Document Signer certificate chains to the trusted CSCA {csca.label}."
    ), csca


def _hash_matches(data: bytes, expected: bytes, algorithm: str) -> bool:
    if hashlib.new(algorithm, data).digest() == expected:
        return True
    # A dump read to the file's allocated size carries padding after the data object; the hash covers the object.
    try:
        _, end = read_tlv(data)
    except TLVError:
        return False
    return end < len(data) and hashlib.new(algorithm, data[:end]).digest() == expected


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
    dsc = sod.dsc
    signature = _check_signature(sod, dsc)
    chain, csca = _check_chain(dsc, trust_store, at)
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
