"""The verification report: one entry point from raw chip files to a verdict, for a dump on disk or a live read.

:func:`verify_document` parses what it is given, runs passive authentication, checks the active-authentication
evidence, takes the chip-authentication outcome from the caller (only a live session can run it), and merges the holder
data (DG13 first, DG1 where DG13 is silent). The verdict rule:

* ``not_genuine`` when any check fails;
* ``genuine`` when passive_auth, chain and dg_hashes pass and nothing fails (active and chip authentication may be
  ``skipped``: a dump has no live chip, and not every read collects AA evidence);
* ``incomplete`` otherwise: no EF.SOD, no trust anchor, no readable DG1 or DG13.

``reasons`` lists the stable keys explaining a verdict other than genuine; ``notes`` lists keys worth knowing that do
not change it (a data group listed in the SOD but not read, a skipped check).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from mrtd._aa_verify import ActiveAuthEvidence, verify_active_authentication
from mrtd._certificates import Certificate
from mrtd._checks import Check, CheckStatus
from mrtd._dg1 import DG1, parse_dg1
from mrtd._dg2 import DG2, parse_dg2
from mrtd._dg13 import DG13, parse_dg13
from mrtd._dg14 import DG14, parse_dg14
from mrtd._dg15 import DG15, parse_dg15
from mrtd._ef_com import EfCom, parse_ef_com
from mrtd._errors import ActiveAuthError, MrtdError, ParseError
from mrtd._files import FileId
from mrtd._holder import Holder
from mrtd._passive_auth import PassiveAuthResult, passive_authentication
from mrtd._sod import SOD, parse_sod
from mrtd._trust_store import TrustStore

REPORT_SCHEMA = 1
CHECK_NAMES = ("passive_auth", "chain", "dg_hashes", "active_auth", "chip_auth")

_T = TypeVar("_T")


class Verdict(enum.Enum):
    GENUINE = "genuine"
    NOT_GENUINE = "not_genuine"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    subject: str
    issuer: str
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    sha256: str

    @classmethod
    def of(cls, cert: Certificate) -> CertificateSummary:
        return cls(cert.subject_text, cert.issuer_text, cert.serial, cert.not_before, cert.not_after, cert.sha256)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": format(self.serial, "x"),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    mrz: tuple[str, ...] = ()
    document_number: str | None = None
    lds_version: str | None = None
    unicode_version: str | None = None
    data_groups: tuple[str, ...] = ()
    sod_data_groups: tuple[str, ...] = ()
    absent_data_groups: tuple[str, ...] = ()
    no_expiry: bool = False
    dsc: CertificateSummary | None = None
    csca: CertificateSummary | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "mrz": list(self.mrz),
            "document_number": self.document_number,
            "lds_version": self.lds_version,
            "unicode_version": self.unicode_version,
            "data_groups": list(self.data_groups),
            "sod_data_groups": list(self.sod_data_groups),
            "absent_data_groups": list(self.absent_data_groups),
            "no_expiry": self.no_expiry,
            "dsc": self.dsc.to_json() if self.dsc else None,
            "csca": self.csca.to_json() if self.csca else None,
        }


@dataclass(frozen=True, slots=True)
class ParsedFiles:
    """The files :func:`verify_document` could decode (None when absent or unreadable)."""

    com: EfCom | None = None
    sod: SOD | None = None
    dg1: DG1 | None = None
    dg2: DG2 | None = None
    dg13: DG13 | None = None
    dg14: DG14 | None = None
    dg15: DG15 | None = None


@dataclass(frozen=True, slots=True)
class VerificationReport:
    verdict: Verdict
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    passive_auth: Check
    chain: Check
    dg_hashes: Check
    active_auth: Check
    chip_auth: Check
    holder: Holder
    document: DocumentInfo
    verified_at: dt.datetime
    parsed: ParsedFiles
    problems: tuple[str, ...] = ()

    @property
    def checks(self) -> dict[str, Check]:
        return {name: getattr(self, name) for name in CHECK_NAMES}

    @property
    def genuine(self) -> bool:
        return self.verdict is Verdict.GENUINE

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON types (documented in the README, ``cccd card verify --json``)."""
        return {
            "schema": REPORT_SCHEMA,
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "checks": {name: check.to_json() for name, check in self.checks.items()},
            "holder": holder_to_json(self.holder),
            "document": self.document.to_json(),
            "problems": list(self.problems),
            "verified_at": self.verified_at.isoformat(),
        }


def holder_to_json(holder: Holder) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in fields(holder):
        value = getattr(holder, item.name)
        out[item.name] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def _merge_holder(dg13: DG13 | None, dg1: DG1 | None, at: dt.datetime) -> Holder:
    base = dg13.to_holder() if dg13 is not None else Holder()
    if dg1 is None:
        return base
    mrz = dg1.mrz
    sex = mrz.sex if mrz.sex in ("M", "F") else None
    from_mrz: dict[str, object] = {
        "id_number": mrz.id_number,
        "full_name": mrz.name or None,
        "date_of_birth": mrz.birth_date(reference=at.date()),
        "sex": sex,
        "nationality": mrz.nationality or None,
    }
    # Expiry from the MRZ only when DG13 says nothing about it (DG13 "Không thời hạn" leaves the date unset on purpose).
    if dg13 is None or dg13.date_of_expiry_text is None:
        from_mrz["date_of_expiry"] = mrz.expiry_date()
    values = {item.name: getattr(base, item.name) for item in fields(base)}
    for name, value in from_mrz.items():
        if values.get(name) is None and value is not None:
            values[name] = value
    return Holder(**values)


def _parse(
    files: Mapping[FileId, bytes],
    file: FileId,
    parser: Callable[[bytes], _T],
    problems: list[str],
    notes: list[str],
) -> _T | None:
    data = files.get(file)
    if data is None:
        return None
    try:
        return parser(data)
    except MrtdError as exc:
        notes.append(f"unreadable:{file.label}")
        problems.append(f"{file.label}: {exc}")
        return None


def _active_auth(
    dg15: DG15 | None,
    dg14: DG14 | None,
    has_dg15: bool,
    evidence: ActiveAuthEvidence | None,
    expected_challenge: bytes | None,
) -> Check:
    if not has_dg15:
        return Check.skipped("aa_not_available", "There is no DG15: this chip has no active-authentication key.")
    if evidence is None:
        return Check.skipped("aa_no_evidence", "No challenge and signature from the chip were given.")
    if dg15 is None:
        return Check.failed(
            "aa_key_unsupported", "The DG15 key cannot be read, so the chip's signature cannot be checked."
        )
    if expected_challenge is not None and evidence.challenge != expected_challenge:
        return Check.failed("aa_challenge_mismatch", "The chip answered another challenge than this transaction's.")
    info = dg14.security_infos.active_authentication if dg14 is not None else None
    try:
        verify_active_authentication(
            dg15.public_key, challenge=evidence.challenge, signature=evidence.signature, info=info
        )
    except ActiveAuthError as exc:
        return Check.failed(exc.reason, f"Active authentication failed: {exc}.")
    return Check.passed(
        "aa_signature_valid", f"The chip signed the challenge with its DG15 key ({dg15.public_key.description})."
    )


def _chip_auth(outcome: Check | None, dg14: DG14 | None, pa: PassiveAuthResult | None) -> Check:
    offered = dg14 is not None and bool(dg14.security_infos.chip_authentication_keys)
    if outcome is None:
        if not offered:
            return Check.skipped("ca_not_available", "DG14 offers no chip-authentication key.")
        return Check.skipped("ca_no_live_chip", "Chip authentication needs the card on a reader.")
    if outcome.ok and (pa is None or FileId.DG14 not in pa.verified_groups):
        # The session proved the chip holds *a* key; only a DG14 covered by the SOD makes it the issuer's key.
        return Check.failed(
            "ca_key_not_verified", "Chip authentication used a DG14 that passive authentication did not verify."
        )
    return outcome


def verify_document(
    files: Mapping[FileId, bytes],
    *,
    trust_store: TrustStore,
    at: dt.datetime,
    active_auth: ActiveAuthEvidence | None = None,
    expected_challenge: bytes | None = None,
    chip_auth: Check | None = None,
) -> VerificationReport:
    """Verify the chip files in ``files`` at time ``at`` (timezone-aware) and build the report.

    ``active_auth`` is the challenge the terminal sent and the chip's signature; ``expected_challenge``, when given,
    is the challenge this transaction should have used (a replayed answer then fails). ``chip_auth`` is the outcome
    of chip authentication in a live session (``Check.passed("ca_valid", ...)`` or a failure); leave it None for a
    dump.
    """
    if at.tzinfo is None:
        raise ValueError("the verification time must be timezone-aware")
    problems: list[str] = []
    notes: list[str] = []
    com = _parse(files, FileId.COM, parse_ef_com, problems, notes)
    dg1 = _parse(files, FileId.DG1, parse_dg1, problems, notes)
    dg2 = _parse(files, FileId.DG2, parse_dg2, problems, notes)
    dg13 = _parse(files, FileId.DG13, parse_dg13, problems, notes)
    dg14 = _parse(files, FileId.DG14, parse_dg14, problems, notes)
    dg15 = _parse(files, FileId.DG15, parse_dg15, problems, notes)

    sod: SOD | None = None
    pa: PassiveAuthResult | None = None
    missing: list[str] = []
    if FileId.SOD not in files:
        missing.append("sod_missing")
        skipped = Check.skipped("sod_missing", "There is no EF.SOD, so nothing can be verified.")
        signature = chain = dg_hashes = skipped
    else:
        try:
            sod = parse_sod(files[FileId.SOD])
        except ParseError as exc:
            problems.append(f"SOD: {exc}")
            signature = Check.failed("sod_malformed", f"EF.SOD cannot be decoded: {exc}.")
            chain = dg_hashes = Check.skipped("sod_malformed", "EF.SOD cannot be decoded.")
        else:
            pa = passive_authentication(sod, files, trust_store=trust_store, at=at)
            signature, chain, dg_hashes = pa.signature, pa.chain, pa.dg_hashes
            notes.extend(f"dg_absent:{f.label}" for f in pa.absent_groups)
    if len(trust_store) == 0:
        missing.append("no_trust_anchor")
    if dg1 is None and dg13 is None:
        missing.append("holder_data_missing")

    active = _active_auth(dg15, dg14, FileId.DG15 in files, active_auth, expected_challenge)
    chip = _chip_auth(chip_auth, dg14, pa)
    checks = (signature, chain, dg_hashes, active, chip)
    failures = [key for check in checks if check.is_failure for key in check.reasons]
    if failures:
        verdict, reasons = Verdict.NOT_GENUINE, failures
    else:
        missing.extend(check.reason for check in (signature, chain, dg_hashes) if not check.ok)
        reasons = list(dict.fromkeys(missing))
        verdict = Verdict.INCOMPLETE if reasons else Verdict.GENUINE
    notes.extend(check.reason for check in (active, chip) if check.status is CheckStatus.SKIPPED)

    mrz = dg1.mrz if dg1 is not None else None
    document = DocumentInfo(
        mrz=mrz.lines if mrz else (),
        document_number=mrz.document_number if mrz else None,
        lds_version=(com.lds_version if com else None) or (sod.lds.lds_version if sod else None),
        unicode_version=(com.unicode_version if com else None) or (sod.lds.unicode_version if sod else None),
        data_groups=tuple(f.label for f in sorted(files, key=_order) if f.dg_number is not None),
        sod_data_groups=tuple(f.label for f in sod.lds.data_groups) if sod else (),
        absent_data_groups=tuple(f.label for f in pa.absent_groups) if pa else (),
        no_expiry=bool((dg13 and dg13.no_expiry) or (mrz and mrz.has_no_expiry)),
        dsc=CertificateSummary.of(pa.dsc) if pa and pa.dsc else None,
        csca=CertificateSummary.of(pa.csca) if pa and pa.csca else None,
    )
    return VerificationReport(
        verdict=verdict,
        reasons=tuple(reasons),
        notes=tuple(dict.fromkeys(notes)),
        passive_auth=signature,
        chain=chain,
        dg_hashes=dg_hashes,
        active_auth=active,
        chip_auth=chip,
        holder=_merge_holder(dg13, dg1, at),
        document=document,
        verified_at=at,
        parsed=ParsedFiles(com=com, sod=sod, dg1=dg1, dg2=dg2, dg13=dg13, dg14=dg14, dg15=dg15),
        problems=tuple(problems),
    )


def _order(file: FileId) -> int:
    return file.dg_number or 0
