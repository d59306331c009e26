"""Command-line group of this package, composed into ``cccd`` by ``cccd.cli``: ``cccd card ...``.

Each card command ends in :func:`print_report`, so a verification looks the same whether it came from a dump
(``card verify``) or from a card on a reader. :func:`card_commands` builds the group from what it is given: the QR
support (``agent``'s parser and cross-check, which ``hw`` may not import) and the reader to open, so tests can play
an in-process card.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hw._dump import DumpError, read_dump, write_private
from hw._portrait_file import PortraitConversionError, portrait_file
from hw._reader import CardReader, CardRemoved, HwError, NoCard, ReaderUnavailable
from hw._reader_pcsc import PcscReader
from hw._reader_session import CardVerification, QrSupport, keys_from_id, read_and_verify
from hw.sim._commands import sim_app
from mrtd import (
    NO_EXPIRY,
    AccessKey,
    Can,
    CheckStatus,
    MrtdError,
    MRZError,
    MrzKey,
    TrustStore,
    TrustStoreError,
    Verdict,
    VerificationReport,
    WrongAccessKey,
    cccd_document_number,
    holder_to_json,
    load_trust_store,
    mrz_date,
    parse_mrz,
    verify_document,
)

ReaderFactory = Callable[[str | int | None], CardReader]
"""Opens the reader ``--reader`` names (its name, a unique part of it, its index, or None for the only one)."""

_VERDICT_STYLE = {Verdict.GENUINE: "bold green", Verdict.NOT_GENUINE: "bold red", Verdict.INCOMPLETE: "bold yellow"}
_VERDICT_TEXT = {
    Verdict.GENUINE: "GENUINE: the chip data is signed by a trusted issuer and unchanged",
    Verdict.NOT_GENUINE: "NOT GENUINE",
    Verdict.INCOMPLETE: "INCOMPLETE: something needed for a verdict is missing",
}
# What the reasons an operator must act on mean, in words (the keys stay in the report for scripts).
_CLONE = "The chip could not prove it is this card's original chip: a possible clone. Do not accept the card."
_HIDDEN = "The chip hides the key it should prove itself with: a possible clone. Do not accept the card."
_MEANING_BY_KEY = {
    "aa_signature_invalid": _CLONE,
    "ca_failed": _CLONE,
    "ca_key_not_verified": _CLONE,
    "aa_key_missing": _HIDDEN,
    "ca_key_missing": _HIDDEN,
    "aa_refused": "The chip refused to prove that it is the original chip. Do not accept the card.",
    "dg_hash_mismatch": "Data on the chip was changed after the card was issued. Do not accept the card.",
    "dg_not_in_sod": "The chip holds data its issuer did not sign. Do not accept the card.",
    "sod_signature_invalid": "The chip's security data is not signed by its issuer: forged or damaged.",
    "csca_not_found": "The card was not issued under a trusted authority (or that authority is not in --trust).",
    "dsc_signature_invalid": "The card's signing certificate was not issued by the authority it names.",
    "dsc_revoked": "The card's signing certificate has been revoked.",
    "dsc_expired": "The card's signing certificate has expired.",
    "qr_mismatch": "The printed QR code does not match the chip: the QR code was pasted over or forged.",
    "no_trust_anchor": "No trusted authority was given (--trust): the card's origin cannot be checked.",
    "document_expired": "Note: the card is past its date of expiry.",
    "crl_stale": "Note: the revocation list checked is out of date; a signer revoked since would not show.",
}
_STATUS_STYLE = {CheckStatus.PASS: "green", CheckStatus.FAIL: "red", CheckStatus.SKIPPED: "yellow"}
_CHECK_LABELS = {
    "passive_auth": "SOD signature",
    "chain": "Certificate chain",
    "dg_hashes": "Data group hashes",
    "active_auth": "Active authentication",
    "chip_auth": "Chip authentication",
    "qr_match": "QR code ↔ chip",
}
_HOLDER_LABELS = {
    "id_number": "ID number",
    "old_id_number": "Old ID (CMND)",
    "full_name": "Full name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "nationality": "Nationality",
    "ethnicity": "Ethnicity",
    "religion": "Religion",
    "place_of_origin": "Place of origin",
    "place_of_residence": "Place of residence",
    "identifying_marks": "Identifying marks",
    "date_of_issue": "Date of issue",
    "date_of_expiry": "Date of expiry",
    "father_name": "Father",
    "mother_name": "Mother",
    "spouse_name": "Spouse",
}


def _render(report: VerificationReport, console: Console) -> None:
    console.print(f"[{_VERDICT_STYLE[report.verdict]}]{_VERDICT_TEXT[report.verdict]}[/]")
    # "dg_hash_mismatch:DG13" means what "dg_hash_mismatch" means; each sentence once.
    meanings = (_MEANING_BY_KEY.get(key.partition(":")[0]) for key in (*report.reasons, *report.notes))
    for meaning in dict.fromkeys(m for m in meanings if m is not None):
        console.print(meaning, highlight=False, markup=False)
    if report.reasons:
        console.print("reasons: " + ", ".join(report.reasons), highlight=False, markup=False)
    checks = Table(title="Checks", title_justify="left")
    for column in ("check", "status", "reason", "detail"):
        checks.add_column(column)
    for name, check in report.checks.items():
        style = _STATUS_STYLE[check.status]
        checks.add_row(
            _CHECK_LABELS.get(name, name),
            f"[{style}]{check.status.value}[/]",
            escape(check.reason),
            escape(check.message),
        )
    console.print(checks)
    for name, outside in report.external:
        # The detail a check made outside the chip adds to its outcome (per-field results of qr_match).
        plain = {"status", "reason", "message"}
        for key, value in outside.to_json().items():
            if key in plain:
                continue
            text = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
            console.print(
                f"{_CHECK_LABELS.get(name, name)} {key}: {text}", highlight=False, markup=False, soft_wrap=True
            )
    holder = Table(title="Holder", title_justify="left", show_header=False)
    holder.add_column("field")
    holder.add_column("value")
    for name, value in holder_to_json(report.holder).items():
        if value is not None:
            holder.add_row(_HOLDER_LABELS.get(name, name), escape(str(value)))
    if report.document.no_expiry:
        holder.add_row(_HOLDER_LABELS["date_of_expiry"], "none (Không thời hạn)")
    if holder.row_count:
        console.print(holder)
    doc = report.document
    lines = [
        f"document number: {doc.document_number or '-'}",
        f"LDS version: {doc.lds_version or '-'}",
        f"data groups read: {', '.join(doc.data_groups) or '-'}",
    ]
    if doc.absent_data_groups:
        lines.append(f"listed in the SOD but not read: {', '.join(doc.absent_data_groups)}")
    if doc.dsc is not None:
        lines.append(f"document signer: {doc.dsc.subject}")
    if doc.csca is not None:
        lines.append(f"CSCA: {doc.csca.subject}")
    lines.extend(f"MRZ: {line}" for line in doc.mrz)
    for line in lines:
        console.print(line, highlight=False, markup=False)
    for problem in report.problems:
        console.print(f"[yellow]problem:[/] {escape(problem)}", highlight=False)


def print_report(report: VerificationReport, *, as_json: bool) -> int:
    """Print ``report`` (rich text, or one JSON document) and return the exit code: 0 genuine, 1 otherwise."""
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        _render(report, Console())
    return 0 if report.genuine else 1


def _usage(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]usage error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _usage(f"{option} takes a date as YYYY-MM-DD, not {value!r}") from None


def _access_keys(
    *,
    can: str | None,
    mrz: tuple[str, str, str] | None,
    doc_number: str | None,
    dob: str | None,
    expiry: str | None,
    id_number: str | None,
    qr_text: str | None,
    qr: QrSupport[Any] | None,
    as_json: bool,
) -> tuple[list[AccessKey], Any]:
    """The keys to try, and the parsed QR code when ``--qr-text`` gave them (None otherwise). A malformed option
    exits 2; a scanned or typed zone that does not verify (an MRZ whose check digits disagree, a QR that is not a
    CCCD's) exits 1, like a key the card refuses."""
    chosen = [
        name
        for name, given in (
            ("--can", can is not None),
            ("--mrz", mrz is not None),
            ("--doc-number", doc_number is not None),
            ("--id", id_number is not None),
            ("--qr-text", qr_text is not None),
        )
        if given
    ]
    if len(chosen) != 1:
        raise _usage("give exactly one of --can, --mrz, --doc-number/--dob/--expiry, --id/--dob, --qr-text")
    try:
        if can is not None:
            return [Can(can.strip())], None
        if mrz is not None:
            try:
                zone = parse_mrz("\n".join(mrz))
            except MRZError as exc:
                message = f"the MRZ does not verify: {exc}; check what was typed"
                raise _read_error("bad_input", message, 1, as_json) from exc
            return [MrzKey(zone.document_number, zone.date_of_birth, zone.date_of_expiry)], None
        if doc_number is not None:
            if dob is None or expiry is None:
                raise _usage("--doc-number needs --dob and --expiry (YYYY-MM-DD, or 'none' for no expiry)")
            number = doc_number.strip()
            if len(number) == 12 and number.isdigit():
                number = cccd_document_number(number)  # the 12-digit ID was given: the chip's number is its tail
            birth = _mrz_birth(dob)
            no_expiry = expiry.strip().lower() in ("none", "never", "991231")
            end = NO_EXPIRY if no_expiry else mrz_date(_date(expiry, "--expiry"))
            return [MrzKey(number, birth, end)], None
        if id_number is not None:
            if dob is None:
                raise _usage("--id needs --dob (YYYY-MM-DD)")
            return keys_from_id(id_number.strip(), _date(dob, "--dob"), today=dt.date.today()), None
        assert qr_text is not None
        if qr is None:
            raise _usage("--qr-text is not available in this build (no QR parser)")
        try:
            printed = qr.parse(qr_text)
        except ValueError as exc:
            raise _read_error("bad_input", f"the QR text is not a CCCD QR code: {exc}", 1, as_json) from exc
        return qr.keys(printed), printed
    except MRZError as exc:
        raise _usage(str(exc)) from exc


def _mrz_birth(value: str) -> str:
    """``--dob`` for the MRZ key: YYYY-MM-DD, or YYYY-MM / YYYY for a holder whose day (and month) of birth is
    unknown, which the MRZ prints as ``<<`` (ICAO 9303-3)."""
    parts = value.strip().split("-")
    if len(parts) == 1 and re.fullmatch(r"[0-9]{4}", parts[0]):
        return parts[0][2:] + "<<<<"
    if len(parts) == 2 and re.fullmatch(r"[0-9]{4}", parts[0]) and re.fullmatch(r"0[1-9]|1[0-2]", parts[1]):
        return parts[0][2:] + parts[1] + "<<"
    return mrz_date(_date(value, "--dob"))


def _read_error(kind: str, message: str, code: int, as_json: bool) -> typer.Exit:
    """A read that produced no report: the message on stderr (and, with --json, as a JSON document on stdout)."""
    if as_json:
        sys.stdout.write(json.dumps({"verdict": None, "error": {"kind": kind, "message": message}}) + "\n")
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=code)


def _trust_store(paths: list[Path] | None, *, at: dt.datetime, as_json: bool) -> TrustStore:
    """The trust store the ``--trust`` options name; exit 1 with the reason when a file cannot be trusted."""
    try:
        return load_trust_store(paths or [], at=at)
    except TrustStoreError as exc:
        raise _read_error("bad_trust_store", f"trust store: {exc}", 1, as_json) from exc


def _render_session(verification: CardVerification, console: Console) -> None:
    session = verification.session_json()
    ms = session["ms"]
    console.print(
        f"session: {session['protocol']} ({session['variant']}, {session['password']}), {session['apdus']} APDUs, "
        f"{session['bytes']} bytes, {ms.get('total', 0):.0f} ms",
        highlight=False,
        markup=False,
    )


def card_commands(*, qr: QrSupport[Any] | None = None, open_reader: ReaderFactory = PcscReader) -> typer.Typer:
    """The ``cccd card`` group. ``qr`` enables ``card read --qr-text`` (key derivation and the ``qr_match`` check);
    ``open_reader`` opens the reader ``--reader`` names (PC/SC by default)."""
    card_app = typer.Typer(
        name="card",
        help="Read and verify the chip of a CCCD (or any ICAO 9303 document).",
        no_args_is_help=True,
    )

    @card_app.command("verify")
    def verify(
        directory: Annotated[
            Path,
            typer.Argument(
                help="Folder of chip files: SOD, COM, DG1 ... DG16, CardAccess (also EF_SOD.BIN, 011D.bin, DG01, "
                "hex text; see docs/cards.md)."
            ),
        ],
        trust: Annotated[
            list[Path] | None,
            typer.Option("--trust", help="CSCA certificate (PEM/DER), master list (.ml), CRL, or a folder of them."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
        at: Annotated[
            dt.datetime | None,
            typer.Option("--at", formats=["%Y-%m-%d"], help="Verify as of this day (UTC) instead of now."),
        ] = None,
    ) -> None:
        """Verify a dump of chip files offline: SOD signature, DSC → CSCA chain, data group hashes, AA evidence.

        Optional AA.challenge and AA.signature files (or .hex text) hold an active-authentication exchange to check.
        """
        when = at.replace(tzinfo=dt.UTC) if at is not None else dt.datetime.now(dt.UTC)
        # With --json a script reads stdout, so a refused input is a JSON document there too.
        try:
            dump = read_dump(directory)
        except DumpError as exc:
            raise _read_error("bad_input", str(exc), 1, as_json) from exc
        store = _trust_store(trust, at=when, as_json=as_json)
        report = verify_document(dump.files, trust_store=store, at=when, active_auth=dump.active_auth)
        raise typer.Exit(code=print_report(report, as_json=as_json))

    @card_app.command("read")
    def read(
        *,
        reader: Annotated[
            str | None, typer.Option("--reader", help="PC/SC reader: its name (or a unique part of it) or its index.")
        ] = None,
        can: Annotated[
            str | None, typer.Option("--can", help="Card access number (the last 6 digits of the ID).")
        ] = None,
        mrz: Annotated[
            tuple[str, str, str] | None,
            typer.Option("--mrz", help="The three MRZ lines of the card.", show_default=False),
        ] = None,
        doc_number: Annotated[
            str | None,
            typer.Option("--doc-number", help="MRZ document number (on a CCCD: the last 9 digits of the ID)."),
        ] = None,
        dob: Annotated[
            str | None,
            typer.Option(
                "--dob",
                help="Date of birth, YYYY-MM-DD (with --doc-number also YYYY-MM or YYYY: day or month unknown).",
            ),
        ] = None,
        expiry: Annotated[
            str | None, typer.Option("--expiry", help="Date of expiry, YYYY-MM-DD ('none': no expiry).")
        ] = None,
        id_number: Annotated[
            str | None, typer.Option("--id", help="The 12-digit ID: tries the CAN, then each possible expiry date.")
        ] = None,
        qr_text: Annotated[str | None, typer.Option("--qr-text", help="The text of the card's QR code.")] = None,
        trust: Annotated[
            list[Path] | None,
            typer.Option("--trust", help="CSCA certificate (PEM/DER), master list (.ml), CRL, or a folder of them."),
        ] = None,
        photo: Annotated[
            Path | None,
            typer.Option(
                "--photo",
                help="Also read DG2 and write the portrait here: .jpg/.jpeg, .png or .jp2 converts to that format, "
                "any other name gets the image as the card stores it (JPEG or JPEG 2000).",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
        wait: Annotated[
            float, typer.Option("--wait", min=0, max=600, help="Seconds to wait for a card to be placed.")
        ] = 3.0,
    ) -> None:
        """Read a card on a reader: PACE (or BAC), the chip files, passive, active and chip authentication.

        With --qr-text the QR code also gives the access keys, and is compared with the chip field by field (the
        qr_match check): a QR that disagrees with its card's chip makes the card not genuine. Without --qr-text the
        report has no qr_match check.

        Exit 0 when genuine, 1 when not genuine, incomplete, or the key is wrong (the card refuses it, or an MRZ's
        check digits disagree), 2 on usage errors, 3 when there is no reader, no card, or pcscd is not running.
        """
        keys, printed = _access_keys(
            can=can,
            mrz=mrz,
            doc_number=doc_number,
            dob=dob,
            expiry=expiry,
            id_number=id_number,
            qr_text=qr_text,
            qr=qr,
            as_json=as_json,
        )
        now = dt.datetime.now(dt.UTC)
        store = _trust_store(trust, at=now, as_json=as_json)
        selector: str | int | None = int(reader) if reader is not None and reader.isdigit() else reader
        try:
            verification = asyncio.run(
                read_and_verify(
                    open_reader(selector), keys, trust_store=store, at=now, portrait=photo is not None, wait=wait
                )
            )
        except (CardRemoved, NoCard, ReaderUnavailable) as exc:
            kind = "card_removed" if isinstance(exc, CardRemoved) else "no_card_or_reader"
            raise _read_error(kind, str(exc), 3, as_json) from exc
        except WrongAccessKey as exc:
            raise _read_error("wrong_access_key", f"the access key does not open this card: {exc}", 1, as_json) from exc
        except (HwError, MrtdError) as exc:
            raise _read_error("read_failed", f"reading the card failed: {exc}", 1, as_json) from exc
        if qr is not None and printed is not None:
            match = qr.cross_check(printed, verification.report.printed_holder)
            verification = verification.with_check("qr_match", match)
        if photo is not None:
            image = verification.portrait
            warnings = Console(stderr=True, soft_wrap=True)
            if image is None:
                warnings.print("[yellow]warning:[/] the card has no readable portrait", highlight=False)
            else:
                try:
                    image = portrait_file(image, photo.suffix)
                except PortraitConversionError as exc:
                    warnings.print(f"[yellow]warning:[/] {escape(str(exc))}; written as the card stores it")
                try:
                    write_private(photo, image)
                except OSError as exc:
                    message = f"cannot write the portrait to {photo}: {exc.strerror or exc}"
                    warnings.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)
        if as_json:
            sys.stdout.write(json.dumps(verification.to_json(), ensure_ascii=False, indent=2) + "\n")
        else:
            console = Console()
            _render(verification.report, console)
            _render_session(verification, console)
        raise typer.Exit(code=0 if verification.report.genuine else 1)

    return card_app


def register(app: typer.Typer, *, qr: QrSupport[Any] | None = None) -> None:
    """Add this package's commands to the ``cccd`` application; ``qr`` enables ``card read --qr-text``."""
    app.add_typer(card_commands(qr=qr), name="card")
    app.add_typer(sim_app, name="sim")
