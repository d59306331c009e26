"""Command-line groups of this package, composed into ``cccd`` by ``cccd.cli``: ``cccd qr ...``, ``cccd agent ...``."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent._cccd_qr import CccdQr, CccdQrError, parse_cccd_qr
from agent._qr_decode import QrDecodeError, QrDecoder, read_cccd_qr
from hw._camera import CameraError, CameraUnavailable, FrameError, FrameSource
from hw._camera_files import image_files, load_gray_image
from hw._camera_spec import open_camera
from mrtd import mrz_date

qr_app = typer.Typer(
    name="qr",
    help="Read the QR code of CCCD cards: decode photos, or scan a camera for cards.",
    no_args_is_help=True,
)

_FIELD_LABELS = {
    "id_number": "ID number",
    "old_id_number": "Old ID (CMND)",
    "full_name": "Full name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "place_of_residence": "Place of residence",
    "date_of_issue": "Date of issue",
    "form": "QR form",
    "extra_fields": "Extra fields (2024)",
}


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``cccd`` application."""
    app.add_typer(qr_app, name="qr")
    app.add_typer(agent_app, name="agent")


def decode_file(path: Path, *, today: dt.date | None = None) -> dict[str, object]:
    """One item of ``cccd qr decode --json``: ``{"file", "fields"}`` or ``{"file", "error"}``; never raises."""
    item: dict[str, object] = {"file": str(path)}
    try:
        image = load_gray_image(path)
        qr = read_cccd_qr(image, today=today)
    except FrameError as exc:
        item["error"] = f"unreadable_image: {exc}"
    except (QrDecodeError, CccdQrError) as exc:
        item["error"] = str(exc)
    else:
        item["fields"] = qr.to_fields()
    return item


def _decode_inputs(paths: list[Path]) -> list[dict[str, object]]:
    """One item per image; a folder gives one per image in it, or one error item when it holds none."""
    items: list[dict[str, object]] = []
    for path in paths:
        if not path.is_dir():
            items.append(decode_file(path))
            continue
        try:
            files = image_files(path)
        except OSError as exc:
            items.append({"file": str(path), "error": f"unreadable_folder: {exc.strerror or exc}"})
            continue
        if not files:
            items.append({"file": str(path), "error": "no_images: the folder holds no image files"})
        items.extend(decode_file(file) for file in files)
    return items


def _print_fields(console: Console, title: str, fields: dict[str, object]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in fields.items():
        if key == "extra_fields" and isinstance(value, list):
            shown = " | ".join(str(item) for item in value) if any(value) else "(empty)"
        else:
            shown = "—" if value is None else str(value)
        table.add_row(_FIELD_LABELS.get(key, key), shown)
    console.print(table)


@qr_app.command("decode")
def decode_command(
    images: Annotated[
        list[Path],
        typer.Argument(
            help="Photos or scans of cards (JPEG, PNG, HEIC, WebP, ..., or .npy arrays), or folders of them (each "
            "folder's images in name order, sub-folders not searched)."
        ),
    ],
    json_output: Annotated[bool, typer.Option("--json", help="One JSON list, in input order.")] = False,
) -> None:
    """Decode the CCCD QR in each image. Exit 0 when every image decoded, 1 otherwise."""
    items = _decode_inputs(images)
    if json_output:
        typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
    else:
        console = Console(highlight=False)
        for item in items:
            fields = item.get("fields")
            if isinstance(fields, dict):
                _print_fields(console, f"[green]✔[/] {item['file']}", fields)
            else:
                console.print(f"[red]✘[/] {item['file']}: {item['error']}")
    if any("error" in item for item in items):
        raise typer.Exit(code=1)


@qr_app.command("parse")
def parse_command(
    text: Annotated[str, typer.Argument(help="The QR payload, as a scanner types it.")],
    json_output: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Validate a QR payload read by another scanner; exit 1 with the reason when it is not a valid CCCD QR."""
    try:
        qr = parse_cccd_qr(text)
    except CccdQrError as exc:
        if json_output:
            typer.echo(json.dumps({"error": str(exc)}, ensure_ascii=False))
        else:
            Console(stderr=True, highlight=False).print(f"[red]✘[/] {exc}")
        raise typer.Exit(code=1) from exc
    fields = qr.to_fields()
    access = qr.chip_access()
    fields["can"] = access.can
    # The BAC inputs: the chip's document number and date of birth as the MRZ writes them, and each expiry to try.
    fields["bac_document_number"] = access.document_number
    fields["bac_date_of_birth"] = mrz_date(qr.date_of_birth)
    fields["bac_expiry_candidates"] = [bac.date_of_expiry for bac in access.bac_inputs()]
    if json_output:
        typer.echo(json.dumps(fields, ensure_ascii=False, indent=2))
    else:
        _print_fields(Console(highlight=False), "CCCD QR", fields)


@qr_app.command("scan")
def scan_command(
    *,
    camera: Annotated[
        str,
        typer.Option(
            "--camera",
            help="auto, picamera[:WxH], a device index (0) or path (/dev/video0), a video file, a folder of "
            "images, an image, or synthetic[:SEED].",
        ),
    ] = "auto",
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per line for each card.")] = False,
    max_cards: Annotated[int | None, typer.Option(min=1, help="Stop after this many cards.")] = None,
    max_frames: Annotated[int | None, typer.Option(min=1, help="Stop after this many frames.")] = None,
    timeout: Annotated[float | None, typer.Option(min=0.1, help="Stop after this many seconds.")] = None,
    forget: Annotated[
        float, typer.Option(min=0.0, help="Report a card again after it was out of view this long.")
    ] = 3.0,
) -> None:
    """Watch a camera and print each new card whose QR is read. Exit 3 when the camera cannot be opened."""
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    try:
        source = _open(camera)
        limits = _ScanLimits(max_cards=max_cards, max_frames=max_frames, seconds=timeout, forget=forget)
        cards = asyncio.run(_scan(source, console, json_output=json_output, limits=limits))
    except CameraUnavailable as exc:
        errors.print(f"[bold red]camera unavailable:[/] {exc}")
        raise typer.Exit(code=3) from exc
    except CameraError as exc:
        errors.print(f"[bold red]camera error:[/] {exc}")
        raise typer.Exit(code=3) from exc
    except KeyboardInterrupt:
        cards = -1
    if not json_output and cards >= 0:
        errors.print(f"{cards} card(s) read")


def _open(spec: str) -> FrameSource:
    if spec == "auto":
        # A Raspberry Pi with its camera stack installed has picamera2; anything else uses the first V4L2 camera.
        return open_camera("picamera" if importlib.util.find_spec("picamera2") is not None else "0")
    return open_camera(spec)


@dataclass(frozen=True, slots=True)
class _ScanLimits:
    max_cards: int | None
    max_frames: int | None
    seconds: float | None
    forget: float


async def _scan(source: FrameSource, console: Console, *, json_output: bool, limits: _ScanLimits) -> int:
    decoder = QrDecoder()
    last_seen: dict[str, float] = {}
    rejected: set[bytes] = set()
    ambiguous: set[frozenset[str]] = set()
    cards = 0
    frames = 0
    first: float | None = None  # times are reported from the first frame, on the source's own timeline
    try:
        async with asyncio.timeout(limits.seconds):
            async for frame in source:
                frames += 1
                first = frame.timestamp if first is None else first
                at = frame.timestamp - first
                symbols = await asyncio.to_thread(decoder.decode, frame.image)
                seen: dict[str, CccdQr] = {}
                for symbol in symbols:
                    try:
                        qr = parse_cccd_qr(symbol.raw)
                    except CccdQrError as exc:
                        if symbol.raw not in rejected:
                            rejected.add(symbol.raw)
                            _report_rejected(console, str(exc), json_output=json_output, at=at)
                        continue
                    seen[qr.to_text()] = qr
                if len(seen) > 1:
                    # Two cards in view: which one the operator means is not ours to guess (as `qr decode`).
                    if frozenset(seen) not in ambiguous:
                        ambiguous.add(frozenset(seen))
                        message = "ambiguous: more than one CCCD QR code in view"
                        _report_rejected(console, message, json_output=json_output, at=at)
                    continue
                for key, qr in seen.items():
                    previous = last_seen.get(key)
                    last_seen[key] = frame.timestamp
                    if previous is not None and frame.timestamp - previous <= limits.forget:
                        continue
                    cards += 1
                    _report_card(console, qr, json_output=json_output, at=at)
                    if limits.max_cards is not None and cards >= limits.max_cards:
                        return cards
                if limits.max_frames is not None and frames >= limits.max_frames:
                    return cards
    except TimeoutError:
        return cards
    finally:
        await source.aclose()
    return cards


def _report_card(console: Console, qr: CccdQr, *, json_output: bool, at: float) -> None:
    if json_output:
        typer.echo(json.dumps({"time": round(at, 3), "fields": qr.to_fields()}, ensure_ascii=False))
    else:
        _print_fields(console, f"[green]card[/] at {at:.1f} s", qr.to_fields())


def _report_rejected(console: Console, reason: str, *, json_output: bool, at: float) -> None:
    if json_output:
        typer.echo(json.dumps({"time": round(at, 3), "error": reason}, ensure_ascii=False))
    else:
        console.print(f"[red]✘[/] QR code rejected at {at:.1f} s: {escape(reason)}")


agent_app = typer.Typer(name="agent", help="This terminal's identity and service.", no_args_is_help=True)


@agent_app.command("enroll")
def enroll_command(
    *,
    server: Annotated[str, typer.Option("--server", help="The enrollment service, https://HOST:PORT.")],
    ca_fingerprint: Annotated[
        str, typer.Option("--ca-fingerprint", help="SHA-256 of the fleet root certificate (`cccd fleet init`).")
    ],
    state_dir: Annotated[
        Path, typer.Option("--state-dir", help="Where device.key, device.pem, ca-chain.pem and config.json go.")
    ],
    site: Annotated[
        str | None,
        typer.Option(
            "--site",
            help="PROVINCE/COMMUNE or PROVINCE/COMMUNE/TEAM of this terminal: another site's token is refused.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CCCD_ENROLL_TOKEN",
            show_envvar=True,
            help="One-time token from `cccd fleet token create` (on a shared machine prefer the variable or "
            "--token-file: a command line is visible to every user).",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="Read the token from this file (- for standard input)."),
    ] = None,
) -> None:
    """Enroll this terminal: make its key and CSR here, check the service's CA against the fingerprint, redeem the
    token, and print the device id. Exit 1 when refused (wrong fingerprint, used token), 2 without a token, 3 when the
    service is unreachable or the state directory cannot be written."""
    from provisioning import EnvironmentProblem, ProvisioningError, enroll  # noqa: PLC0415 - only this command

    errors = Console(stderr=True, highlight=False)
    token = _enrollment_token(token, token_file)
    try:
        enrolled = asyncio.run(
            enroll(server_url=server, token=token, ca_fingerprint=ca_fingerprint, state_dir=state_dir, site=site)
        )
    except EnvironmentProblem as exc:
        errors.print(f"[bold red]enrollment failed:[/] {escape(str(exc))}")
        raise typer.Exit(code=3) from exc
    except ProvisioningError as exc:
        errors.print(f"[bold red]enrollment refused:[/] {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    except OSError as exc:
        # The state directory: not writable, on a full or read-only disk, or a file where a folder should be.
        errors.print(f"[bold red]enrollment failed:[/] {escape(str(exc))}")
        raise typer.Exit(code=3) from exc
    errors.print(f"Enrolled; identity written to {escape(str(state_dir))}")
    typer.echo(enrolled.identity.device_id)


_MAX_TOKEN_FILE = 4096


def _enrollment_token(token: str | None, token_file: Path | None) -> str:
    """The token from exactly one of --token (or CCCD_ENROLL_TOKEN) and --token-file."""
    if token_file is not None:
        if token is not None:
            raise typer.BadParameter("give the token once: --token (or CCCD_ENROLL_TOKEN) or --token-file")
        try:
            if str(token_file) == "-":
                text = sys.stdin.read(_MAX_TOKEN_FILE + 1)
            else:
                with token_file.open(encoding="utf-8") as handle:
                    text = handle.read(_MAX_TOKEN_FILE + 1)
        except (OSError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"cannot read the token: {exc}", param_hint="--token-file") from exc
        if len(text) > _MAX_TOKEN_FILE:
            raise typer.BadParameter("this file is too long to hold a token", param_hint="--token-file")
        token = text.strip()
        if not token:
            raise typer.BadParameter("no token in it", param_hint="--token-file")
    if not token:
        raise typer.BadParameter("an enrollment token is needed: --token, CCCD_ENROLL_TOKEN or --token-file")
    return token
