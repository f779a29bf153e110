"""``whistle export open`` and ``whistle export verify``: counsel's tools, offline.

Neither needs the server's database or instance: ``open`` needs the bundle, counsel's key file
(from their "Case files" page) and their password; ``verify`` needs an opened case file. Both
accept a case file only if its signer is the organisation's key as counsel pinned it
(``--signing-key``, the key file, or the pin file: whistle/counsel/bundle_trust.py), and record the
key in the pin file the first time an organisation's case file verifies.
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import date
from pathlib import Path
from typing import NoReturn

import click

from crypto import OpenError, VerifyKey, unwrap_private_key
from whistle.counsel.bundle_format import MAGIC_PREFIX, KeyFile, KeyFileError, parse_key_file
from whistle.counsel.bundle_reader import (
    BundleError,
    BundleHeader,
    Verified,
    check_matches_header,
    open_bundle,
    verify_archive,
)
from whistle.counsel.bundle_trust import (
    PinFile,
    PinFileError,
    Trusted,
    UntrustedSigner,
    check_signer,
    default_pin_file,
)

export_cli = click.Group("export", help="Case files for legal counsel: open and verify.")

SIGNING_KEY_HELP = (
    "The organisation's verify key (hex, as it publishes it on its receipt page) to require."
)
REPIN_HELP = (
    "Replace the key pinned for the organisation by the one given with --signing-key or in "
    "the key file, after the organisation changed its key."
)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _read_key_file(path: Path) -> KeyFile:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        _fail(f"{path}: cannot read the key file.")
    try:
        return parse_key_file(text)
    except KeyFileError as exc:
        _fail(f"{path}: {exc}.")


def _expected(text: str | None) -> VerifyKey | None:
    if not text:
        return None
    try:
        return VerifyKey.from_bytes(bytes.fromhex(text.strip()))
    except (ValueError, OpenError):  # not hex, or hex that is no verify key
        _fail("--signing-key: not a verify key.")


def _pin_file() -> PinFile:
    try:
        return PinFile.load(default_pin_file())
    except PinFileError as exc:
        _fail(f"pin file: {exc}")


def _trust(
    organisation: str,
    key: VerifyKey,
    *,
    expected: VerifyKey | None,
    key_file: KeyFile | None,
    pins: PinFile,
    repin: bool,
) -> Trusted:
    try:
        return check_signer(
            organisation, key, expected=expected, key_file=key_file, pins=pins, repin=repin
        )
    except UntrustedSigner as exc:
        _fail(f"REFUSED: {exc}")


def _record(pins: PinFile, organisation: str, key: VerifyKey, trusted: Trusted) -> None:
    """Write the pin after everything verified, and say why the signer was accepted."""
    if trusted.repinned_from is not None:
        click.echo(
            f"re-pinned organisation {organisation!r}: {trusted.repinned_from.fingerprint()} "
            f"replaced by {key.fingerprint()} in {pins.path}"
        )
    elif "first use" in trusted.sources:
        click.echo(
            f"first use: pinned organisation {organisation!r} to the signing key "
            f"{key.fingerprint()} in {pins.path}. Check this fingerprint with the organisation "
            "(its receipt page shows it); later case files signed by another key are refused."
        )
    else:
        click.echo(f"signer trusted by: {', '.join(trusted.sources)}")
    if trusted.write_pin:
        try:
            pins.pin(organisation, key, date.today())
        except PinFileError as exc:
            _fail(f"the case file verified, but the pin could not be recorded: {exc}")


def _safe_target(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if root.resolve() not in target.parents:
        raise BundleError(name, "a path outside the case file")
    return target


@export_cli.command("open")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--signing-key", "expected_hex", default=None, help=SIGNING_KEY_HELP)
@click.option("--repin", is_flag=True, default=False, help=REPIN_HELP)
@click.password_option("--password", confirmation_prompt=False, prompt="Password")
def open_command(
    bundle: Path,
    key_file: Path,
    out_dir: Path,
    expected_hex: str | None,
    repin: bool,
    password: str,
) -> None:
    """Decrypt BUNDLE with your key file and password, check it, and unpack it into --out.
    Only a case file signed by the organisation's pinned key is opened."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        _fail(f"{out_dir}: choose a new or empty folder.")
    expected = _expected(expected_hex)
    keys = _read_key_file(key_file)
    pins = _pin_file()
    try:
        private = unwrap_private_key(keys.wrapped_private_key, password)
    except OpenError:
        _fail("Wrong password, or a damaged key file.")
    trusted: list[Trusted] = []

    def signed_header(header: BundleHeader) -> None:
        # A format-2 header names its organisation and signer: refuse a stranger before
        # counsel's key decrypts anything of the file.
        if header.organisation is not None and header.verify_key is not None:
            trusted.append(
                _trust(
                    header.organisation,
                    header.verify_key,
                    expected=expected,
                    key_file=keys,
                    pins=pins,
                    repin=repin,
                )
            )

    archive = io.BytesIO() if bundle.stat().st_size < (64 << 20) else None
    spool = archive if archive is not None else (out_dir.parent / f".{out_dir.name}.zip")
    try:
        if isinstance(spool, Path):
            with spool.open("wb") as handle:
                header = open_bundle(bundle, private, handle, before_decrypting=signed_header)
            source: io.BytesIO | Path = spool
        else:
            header = open_bundle(bundle, private, spool, before_decrypting=signed_header)
            spool.seek(0)
            source = spool
        with source.open("rb") if isinstance(source, Path) else source as data:
            checked = verify_archive(data, expected_key=header.verify_key)
            check_matches_header(checked, header)
            if not trusted:  # format 1: the signer is known only from the manifest
                trusted.append(
                    _trust(
                        checked.organisation,
                        checked.signer,
                        expected=expected,
                        key_file=keys,
                        pins=pins,
                        repin=repin,
                    )
                )
            data.seek(0)
            out_dir.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(data) as zf:
                for name in zf.namelist():
                    target = _safe_target(out_dir, name)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(name) as entry, target.open("wb") as handle:
                        while chunk := entry.read(1 << 20):
                            handle.write(chunk)
    except BundleError as exc:
        _fail(f"FAILED: {exc.part}: {exc.problem}")
    except OSError as exc:
        _fail(f"FAILED: {exc.filename or out_dir}: {exc.strerror or type(exc).__name__}")
    finally:
        if isinstance(spool, Path):
            spool.unlink(missing_ok=True)
    click.echo(
        f"case {checked.case}: {checked.parts} parts verified against the signed manifest; "
        f"unpacked into {out_dir}"
    )
    if header.version >= 2:
        click.echo(f"header signed by the organisation (format {header.version})")
    else:
        click.echo("header not signed (format 1)")
    _describe(checked)
    _record(pins, checked.organisation, checked.signer, trusted[0])


def _describe(checked: Verified) -> None:
    click.echo(
        f"organisation {checked.organisation!r}, signing key {checked.signer.fingerprint()}: "
        f"{checked.verify_key}"
    )


@export_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--signing-key", "expected_hex", default=None, help=SIGNING_KEY_HELP)
@click.option(
    "--key",
    "key_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your key file: the organisation's signing key it carries is required (no password "
    "is asked).",
)
@click.option("--repin", is_flag=True, default=False, help=REPIN_HELP)
def verify_command(
    path: Path, expected_hex: str | None, key_file: Path | None, repin: bool
) -> None:
    """Check an opened case file (a folder from 'open', or the ZIP): the manifest's signature
    by the organisation's pinned key and every part's SHA-256. Names each part that fails."""
    expected = _expected(expected_hex)
    keys = _read_key_file(key_file) if key_file is not None else None
    pins = _pin_file()
    try:
        if path.is_dir():
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w") as zf:
                for item in sorted(p for p in path.rglob("*") if p.is_file()):
                    zf.write(item, item.relative_to(path).as_posix())
            data.seek(0)
            checked = verify_archive(data)
        else:
            with path.open("rb") as handle:
                if handle.read(len(MAGIC_PREFIX)) == MAGIC_PREFIX:
                    _fail(
                        "FAILED: this is the encrypted case file; open it with "
                        "'whistle export open', which checks it too."
                    )
                handle.seek(0)
                checked = verify_archive(handle)
    except BundleError as exc:
        _fail(f"FAILED: {exc.part}: {exc.problem}")
    except OSError as exc:  # a file that cannot be read: named, not a traceback
        _fail(f"FAILED: {exc.filename or path}: {exc.strerror or type(exc).__name__}")
    trusted = _trust(
        checked.organisation,
        checked.signer,
        expected=expected,
        key_file=keys,
        pins=pins,
        repin=repin,
    )
    click.echo(f"OK: case {checked.case}, {checked.parts} parts match the signed manifest")
    _describe(checked)
    _record(pins, checked.organisation, checked.signer, trusted)
