"""``whistle export open`` and ``whistle export verify``: counsel's tools, offline.

Neither needs the server's database or instance: ``open`` needs the bundle, counsel's key file
(from their "Case files" page) and their password; ``verify`` needs an opened case file.
"""

from __future__ import annotations

import base64
import binascii
import io
import sys
import zipfile
from pathlib import Path

import click

from crypto import OpenError, VerifyKey, unwrap_private_key
from whistle.bundle_format import KEY_FILE_HEADER
from whistle.bundle_reader import BundleError, open_bundle, verify_archive

export_cli = click.Group("export", help="Case files for legal counsel: open and verify.")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def _read_key_file(path: Path) -> bytes:
    try:
        lines = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        _fail(f"{path}: cannot read the key file.")
    text = " ".join(lines)
    if not text.startswith(KEY_FILE_HEADER) or len(lines) < 6:
        _fail(f"{path}: not a Whistle counsel key file.")
    try:
        return base64.b64decode(lines[-1], validate=True)
    except (binascii.Error, ValueError):
        _fail(f"{path}: the key file is damaged.")
    raise AssertionError  # unreachable: _fail exits


def _safe_target(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if root.resolve() not in target.parents:
        raise BundleError(name, "a path outside the case file")
    return target


@export_cli.command("open")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.password_option("--password", confirmation_prompt=False, prompt="Password")
def open_command(bundle: Path, key_file: Path, out_dir: Path, password: str) -> None:
    """Decrypt BUNDLE with your key file and password, check it, and unpack it into --out."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        _fail(f"{out_dir}: choose a new or empty folder.")
    wrapped = _read_key_file(key_file)
    try:
        private = unwrap_private_key(wrapped, password)
    except OpenError:
        _fail("Wrong password, or a damaged key file.")
    archive = io.BytesIO() if bundle.stat().st_size < (64 << 20) else None
    spool = archive if archive is not None else (out_dir.parent / f".{out_dir.name}.zip")
    try:
        if isinstance(spool, Path):
            with spool.open("wb") as handle:
                open_bundle(bundle, private, handle)
            source: io.BytesIO | Path = spool
        else:
            open_bundle(bundle, private, spool)
            spool.seek(0)
            source = spool
        with source.open("rb") if isinstance(source, Path) else source as data:
            checked = verify_archive(data)
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
    click.echo(f"organisation signing key: {checked.verify_key}")


@export_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--signing-key",
    "expected",
    default=None,
    help="The organisation's verify key (hex) to require, as published by the organisation.",
)
def verify_command(path: Path, expected: str | None) -> None:
    """Check an opened case file (a folder from 'open', or the ZIP): the manifest's signature
    and every part's SHA-256. Names each part that fails."""
    key = None
    if expected:
        try:
            key = VerifyKey.from_bytes(bytes.fromhex(expected))
        except (ValueError, OpenError):  # not hex, or hex that is no verify key
            _fail("--signing-key: not a verify key.")
    try:
        if path.is_dir():
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w") as zf:
                for item in sorted(p for p in path.rglob("*") if p.is_file()):
                    zf.write(item, item.relative_to(path).as_posix())
            data.seek(0)
            checked = verify_archive(data, expected_key=key)
        else:
            with path.open("rb") as handle:
                checked = verify_archive(handle, expected_key=key)
    except BundleError as exc:
        _fail(f"FAILED: {exc.part}: {exc.problem}")
    except OSError as exc:  # a file that cannot be read: named, not a traceback
        _fail(f"FAILED: {exc.filename or path}: {exc.strerror or type(exc).__name__}")
    click.echo(f"OK: case {checked.case}, {checked.parts} parts match the signed manifest")
    click.echo(f"organisation signing key: {checked.verify_key}")
