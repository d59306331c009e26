"""The verification report: one entry point from raw chip files to a verdict, for a dump on disk or a live read.

:func:`verify_document` parses what it is given, runs passive authentication, checks the active-authentication
evidence, takes the chip-authentication outcome from a live session, and merges the holder data (DG13 first, DG1
where DG13 is silent). :func:`verify_card_read` does the same for a :class:`~mrtd.CardReadResult`, with the
live-read rules. Checks made outside the chip (the QR code ↔ chip cross-check) join a report through
:meth:`VerificationReport.with_check`, and the verdict is recomputed by the same rule.

The verdict rule (:func:`decide_verdict`, the only copy):

* ``not_genuine`` when any check fails;
* ``genuine`` when passive_auth, chain and dg_hashes pass, nothing fails and nothing is missing; for a dump, active
  and chip authentication may be ``skipped`` (there is no live chip, and not every dump carries AA evidence);
* ``incomplete`` otherwise: no EF.SOD, no trust anchor, no readable DG1 or DG13, or, for a live read, a chip that
  proved by neither active nor chip authentication that it is the original (``chip_not_authenticated``). Opening a
  chip proves nothing, because the access key is printed on the card; signed data copied to another chip stays signed.

A live read is held to more than a dump: a DG14 or DG15 that the SOD lists but the chip did not return is a failure
(a clone would simply hide the files holding the keys it does not have), and so is a chip that has DG15 but will not
sign the challenge.

``reasons`` lists the stable keys explaining a verdict other than genuine; ``notes`` lists keys worth knowing that do
not change it. The keys, by check (``checks.<name>.reason`` in the JSON; each failure's keys are also in
``reasons``):

* ``passive_auth``: pass ``sod_signature_valid``; fail ``sod_malformed``, ``sod_signature_invalid``,
  ``dsc_not_found`` (the SOD carries certificates, none the one it names), ``message_digest_missing``,
  ``message_digest_mismatch``, ``content_type_mismatch``, ``sod_algorithm_unsupported``; skipped ``sod_missing``,
  ``dsc_not_found`` (the SOD carries no certificate, and the trust store has none that matches).
* ``chain``: pass ``chain_valid``; fail ``csca_not_found``, ``dsc_signature_invalid``, ``dsc_expired``,
  ``dsc_not_yet_valid``, ``csca_expired``, ``csca_not_yet_valid``, ``dsc_key_usage``, ``csca_key_usage``,
  ``csca_not_ca``, ``dsc_revoked``; skipped ``no_trust_anchor``, ``dsc_not_found``, ``sod_missing``,
  ``sod_malformed``.
* ``dg_hashes``: pass ``dg_hashes_match``; fail ``dg_hash_mismatch:<DG>``, ``dg_not_in_sod:<DG>``; skipped
  ``no_data_groups``, ``sod_missing``, ``sod_malformed``.
* ``active_auth``: pass ``aa_signature_valid``; fail ``aa_signature_invalid``, ``aa_algorithm_unknown``,
  ``aa_challenge_mismatch``, ``aa_key_unsupported``, and for a live read ``aa_key_missing`` (the SOD lists DG15, the
  chip did not return it) and ``aa_refused`` (the chip has DG15 but did not sign); skipped ``aa_not_available`` (no
  DG15), ``aa_no_evidence``.
* ``chip_auth``: pass ``ca_valid``; fail ``ca_failed``, ``ca_key_not_verified`` (DG14 not covered by passive
  authentication), and for a live read ``ca_key_missing`` (the SOD lists DG14, the chip did not return it); skipped
  ``ca_not_available`` (DG14 offers no key), ``ca_no_live_chip`` (a dump), ``ca_not_supported``, ``ca_not_run`` (a
  live read that did not run it).
* ``qr_match``, only when a QR code was given (``cccd card read --qr-text``, the terminal's pipeline): pass
  ``qr_match``; fail ``qr_mismatch:<field>`` (one key per field that differs); skipped ``qr_no_chip_id``.

Reasons that are not a check's: ``sod_missing``, ``no_trust_anchor``, ``holder_data_missing``, and for a live read
``chip_not_authenticated``. Notes: ``dg_absent:<DG>`` (listed in the SOD, not read), ``unreadable:<DG>``, and the
reason of every skipped check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol, TypeVar

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
from mrtd._session import CardReadResult, ChipAuthStatus
from mrtd._sod import SOD, parse_sod
from mrtd._trust_store import TrustStore

REPORT_SCHEMA = 1
CHECK_NAMES = ("passive_auth", "chain", "dg_hashes", "active_auth", "chip_auth")
"""The checks every report has, in order; checks made outside the chip follow them."""
_PASSIVE_CHECKS = CHECK_NAMES[:3]
_CHIP_PROOFS = ("active_auth", "chip_auth")

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


class ExternalCheck(Protocol):
    """A check made outside the chip that joins a report (the QR code ↔ chip cross-check): its outcome, and its JSON
    form for ``checks.<name>`` (``Check.to_json()``'s keys plus any detail; never personal data)."""

    @property
    def check(self) -> Check: ...

    def to_json(self) -> dict[str, object]: ...


@dataclass(frozen=True, slots=True)
class LiveSession:
    """What a card on a reader adds to its files. Passing one to :func:`verify_document` applies the live-read
    rules (see the module docstring).

    ``chip_auth`` is the chip-authentication outcome (None: the session did not run it, which is right only when DG14
    offers no key); ``aa_refusal`` is the chip's answer when it has DG15 but did not sign the challenge.
    """

    chip_auth: Check | None = None
    aa_refusal: str | None = None

    @classmethod
    def of(cls, result: CardReadResult) -> LiveSession:
        """The evidence of one :func:`~mrtd.read_card` run."""
        outcome = result.chip_auth
        check: Check | None = None
        if outcome.status is ChipAuthStatus.PASSED:
            check = Check.passed("ca_valid", f"The chip proved it holds the DG14 key ({outcome.protocol}).")
        elif outcome.status is ChipAuthStatus.FAILED:
            check = Check.failed("ca_failed", f"Chip authentication failed: {outcome.reason}")
        elif outcome.status is ChipAuthStatus.NOT_SUPPORTED:
            check = Check.skipped("ca_not_supported", f"Chip authentication is not supported here: {outcome.reason}")
        elif outcome.status is ChipAuthStatus.DISABLED:
            check = Check.skipped("ca_not_run", "Chip authentication was turned off for this read.")
        return cls(chip_auth=check, aa_refusal=result.aa_error)


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """The outcome of one verification. ``missing`` holds the reasons that leave it incomplete whatever the checks
    say (``sod_missing``, ``no_trust_anchor``, ``holder_data_missing``); ``live`` tells which rule applied."""

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
    external: tuple[tuple[str, ExternalCheck], ...] = ()
    missing: tuple[str, ...] = ()
    live: bool = False

    @property
    def printed_holder(self) -> Holder:
        """The holder as printed text (the QR code) is compared with: the full name only as DG13 spells it (None
        without one), because the MRZ's name has lost its diacritics and would differ from any printed name."""
        dg13 = self.parsed.dg13
        return dataclasses.replace(self.holder, full_name=dg13.full_name if dg13 is not None else None)

    @property
    def checks(self) -> dict[str, Check]:
        """Every check by name: the chip's (:data:`CHECK_NAMES`), then those made outside it, in the order added."""
        out: dict[str, Check] = {name: getattr(self, name) for name in CHECK_NAMES}
        out.update((name, outside.check) for name, outside in self.external)
        return out

    def with_check(self, name: str, check: ExternalCheck) -> VerificationReport:
        """This report with a check made outside the chip; the verdict and reasons are decided again by the same
        rule, so a failing outside check makes the card not genuine and a passing one proves nothing about the chip.
        """
        if name in self.checks:
            raise ValueError(f"the report already has a {name!r} check")
        external = (*self.external, (name, check))
        checks = {**self.checks, name: check.check}
        verdict, reasons = decide_verdict(checks, missing=self.missing, live=self.live)
        notes = self.notes
        if check.check.status is CheckStatus.SKIPPED:
            notes = tuple(dict.fromkeys((*notes, check.check.reason)))
        return dataclasses.replace(self, external=external, verdict=verdict, reasons=reasons, notes=notes)

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
            "checks": {
                **{name: getattr(self, name).to_json() for name in CHECK_NAMES},
                **{name: outside.to_json() for name, outside in self.external},
            },
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
    # Expiry from the MRZ unless DG13 says the card does not expire ("Không thời hạn" leaves the date unset on
    # purpose); a DG13 expiry in no known form is as good as absent, as for every other date.
    if dg13 is None or not dg13.no_expiry:
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
    *,
    present: bool,
    listed: bool,
    evidence: ActiveAuthEvidence | None,
    expected_challenge: bytes | None,
    live: LiveSession | None,
) -> Check:
    if not present:
        if live is not None and listed:
            return Check.failed(
                "aa_key_missing",
                "The SOD lists DG15 but the chip did not return it: a chip that hides its active-authentication key"
                " proves nothing, and a clone would do exactly that.",
            )
        return Check.skipped("aa_not_available", "There is no DG15: this chip has no active-authentication key.")
    if live is not None and live.aa_refusal is not None:
        return Check.failed(
            "aa_refused",
            f"The chip has an active-authentication key but did not sign the challenge: {live.aa_refusal}.",
        )
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


def _chip_auth(
    dg14: DG14 | None, pa: PassiveAuthResult | None, *, present: bool, listed: bool, live: LiveSession | None
) -> Check:
    if live is not None and listed and not present:
        return Check.failed(
            "ca_key_missing",
            "The SOD lists DG14 but the chip did not return it: a chip that hides its chip-authentication key proves"
            " nothing, and a clone would do exactly that.",
        )
    offered = dg14 is not None and bool(dg14.security_infos.chip_authentication_keys)
    outcome = live.chip_auth if live is not None else None
    if outcome is None:
        if not offered:
            return Check.skipped("ca_not_available", "DG14 offers no chip-authentication key.")
        if live is not None:
            return Check.skipped("ca_not_run", "The session did not run chip authentication.")
        return Check.skipped("ca_no_live_chip", "Chip authentication needs the card on a reader.")
    if outcome.ok and (pa is None or FileId.DG14 not in pa.verified_groups):
        # The session proved the chip holds *a* key; only a DG14 covered by the SOD makes it the issuer's key.
        return Check.failed(
            "ca_key_not_verified", "Chip authentication used a DG14 that passive authentication did not verify."
        )
    return outcome


def decide_verdict(
    checks: Mapping[str, Check], *, missing: Sequence[str] = (), live: bool = False
) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict rule (the module docstring explains it) over every check of a report, the chip's and those made
    outside it, and the reasons that explain a verdict other than genuine."""
    failures = [key for check in checks.values() if check.is_failure for key in check.reasons]
    if failures:
        return Verdict.NOT_GENUINE, tuple(dict.fromkeys(failures))
    gaps = [*missing, *(checks[name].reason for name in _PASSIVE_CHECKS if not checks[name].ok)]
    if live and not any(checks[name].ok for name in _CHIP_PROOFS):
        gaps.append("chip_not_authenticated")
    reasons = tuple(dict.fromkeys(gaps))
    return (Verdict.INCOMPLETE if reasons else Verdict.GENUINE), reasons


def verify_document(
    files: Mapping[FileId, bytes],
    *,
    trust_store: TrustStore,
    at: dt.datetime,
    active_auth: ActiveAuthEvidence | None = None,
    expected_challenge: bytes | None = None,
    live: LiveSession | None = None,
) -> VerificationReport:
    """Verify the chip files in ``files`` at time ``at`` (timezone-aware) and build the report.

    ``active_auth`` is the challenge the terminal sent and the chip's signature; ``expected_challenge``, when given,
    is the challenge this transaction should have used (a replayed answer then fails). ``live`` is what a session
    with the card on a reader adds (chip authentication, a refused challenge) and makes the live-read rules apply;
    leave it None for a dump. A live read should have asked for DG14 and DG15: one the SOD lists and ``files`` lacks
    counts as hidden.
    """
    if at.tzinfo is None:
        raise ValueError("the verification time must be timezone-aware")
    problems: list[str] = []
    notes: list[str] = []
    com = _parse(files, FileId.COM, parse_ef_com, problems, notes)
    dg1 = _parse(files, FileId.DG1, parse_dg1, problems, notes)
    dg2 = _parse(files, FileId.DG2, parse_dg2, problems, notes)
    dg13 = _parse(files, FileId.DG13, parse_dg13, problems, notes)
    if dg13 is not None:
        problems.extend(problem if problem.startswith("DG13") else f"DG13: {problem}" for problem in dg13.problems)
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

    listed = set(sod.lds.data_groups) if sod is not None else set()
    active = _active_auth(
        dg15,
        dg14,
        present=FileId.DG15 in files,
        listed=FileId.DG15 in listed,
        evidence=active_auth,
        expected_challenge=expected_challenge,
        live=live,
    )
    chip = _chip_auth(dg14, pa, present=FileId.DG14 in files, listed=FileId.DG14 in listed, live=live)
    checks = dict(zip(CHECK_NAMES, (signature, chain, dg_hashes, active, chip), strict=True))
    verdict, reasons = decide_verdict(checks, missing=missing, live=live is not None)
    notes.extend(check.reason for check in (active, chip) if check.status is CheckStatus.SKIPPED)

    mrz = dg1.mrz if dg1 is not None else None
    document = DocumentInfo(
        mrz=mrz.lines if mrz else (),
        document_number=mrz.document_number if mrz else None,
        # The SOD's LDSVersionInfo is signed and EF.COM is not: the signed one wins when both are there.
        lds_version=(sod.lds.lds_version if sod else None) or (com.lds_version if com else None),
        unicode_version=(sod.lds.unicode_version if sod else None) or (com.unicode_version if com else None),
        data_groups=tuple(f.label for f in sorted(files, key=_order) if f.dg_number is not None),
        sod_data_groups=tuple(f.label for f in sod.lds.data_groups) if sod else (),
        absent_data_groups=tuple(f.label for f in pa.absent_groups) if pa else (),
        no_expiry=bool((dg13 and dg13.no_expiry) or (mrz and mrz.has_no_expiry)),
        dsc=CertificateSummary.of(pa.dsc) if pa and pa.dsc else None,
        csca=CertificateSummary.of(pa.csca) if pa and pa.csca else None,
    )
    if pa is not None and pa.dsc is not None and _crls_out_of_date(trust_store, pa.dsc, at):
        # Revocation was checked against lists whose issuer promised newer ones by now: a DSC revoked since would
        # not show. Not a verdict (an offline terminal may lag), but the operator should know.
        notes.append("crl_stale")
    holder = _merge_holder(dg13, dg1, at)
    if holder.date_of_expiry is not None and holder.date_of_expiry < at.date():
        # The chip is what it claims to be, but the card is no longer valid as an ID: not the verdict's business,
        # the operator's (a note, like an absent data group).
        notes.append("document_expired")
    return VerificationReport(
        verdict=verdict,
        reasons=reasons,
        notes=tuple(dict.fromkeys(notes)),
        passive_auth=signature,
        chain=chain,
        dg_hashes=dg_hashes,
        active_auth=active,
        chip_auth=chip,
        holder=holder,
        document=document,
        verified_at=at,
        parsed=ParsedFiles(com=com, sod=sod, dg1=dg1, dg2=dg2, dg13=dg13, dg14=dg14, dg15=dg15),
        problems=tuple(problems),
        missing=tuple(dict.fromkeys(missing)),
        live=live is not None,
    )


def _crls_out_of_date(trust_store: TrustStore, dsc: Certificate, at: dt.datetime) -> bool:
    """Whether every loaded CRL of the DSC's issuer is past its nextUpdate (False when there is none)."""
    issued = [crl for crl in trust_store.crls if crl.issuer == dsc.issuer]
    return bool(issued) and all(crl.next_update is not None and crl.next_update < at for crl in issued)


def verify_card_read(
    result: CardReadResult,
    *,
    trust_store: TrustStore,
    at: dt.datetime,
    expected_challenge: bytes | None = None,
) -> VerificationReport:
    """Verify what :func:`~mrtd.read_card` read, under the live-read rules: the files, the active-authentication
    answer to ``expected_challenge`` (the challenge this transaction sent) and the chip-authentication outcome."""
    evidence = (
        ActiveAuthEvidence(result.aa_challenge, result.aa_signature)
        if result.aa_challenge is not None and result.aa_signature is not None
        else None
    )
    return verify_document(
        result.files,
        trust_store=trust_store,
        at=at,
        active_auth=evidence,
        expected_challenge=expected_challenge,
        live=LiveSession.of(result),
    )


def _order(file: FileId) -> int:
    return file.dg_number or 0
