"""Opening and checking a case file for counsel, offline (docs/export-format.md).

Counsel's side of the bundle that whistle/export.py writes: ``open_bundle`` decrypts it with
counsel's private key into the ZIP archive, ``verify_archive`` checks the organisation's
signature over the manifest and every part's SHA-256. Used by ``whistle export open`` and
``whistle export verify`` (whistle/export_cli.py); neither needs the server's database, file
store or instance key. What fails is named in a ``BundleError`` (the part's path, or the bundle
or its key), never quoted. The layout both sides agree on is in whistle/bundle_format.py.
"""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crypto import (
    KeyKind,
    OpenError,
    PrivateKey,
    SignaturePurpose,
    VerifyKey,
    decrypt_stream,
    open_case_key,
    verify,
)
from whistle.bundle_format import MAGIC, bundle_context, key_context


class BundleError(ValueError):
    """A bundle that cannot be opened or verified; ``part`` names what failed."""

    def __init__(self, part: str, problem: str) -> None:
        self.part = part
        self.problem = problem
        super().__init__(f"{part}: {problem}")


def _field(src: IO[bytes]) -> bytes:
    raw = src.read(2)
    if len(raw) != 2:
        raise BundleError("bundle", "truncated header")
    (length,) = struct.unpack(">H", raw)
    value = src.read(length)
    if len(value) != length:
        raise BundleError("bundle", "truncated header")
    return value


def read_header(src: IO[bytes]) -> tuple[str, bytes]:
    """Check the magic; return the export id and the sealed bundle key (BundleError else)."""
    if src.read(len(MAGIC)) != MAGIC:
        raise BundleError("bundle", "not a Whistle export (wrong header)")
    try:
        export_id = str(uuid.UUID(_field(src).decode("ascii")))
    except (UnicodeDecodeError, ValueError):
        raise BundleError("bundle", "damaged header") from None
    return export_id, _field(src)


def open_bundle(bundle: Path, private_key: PrivateKey, out: IO[bytes]) -> str:
    """Decrypt ``bundle`` into the ZIP ``out``; return its export id. BundleError when the
    key is not the chosen counsel's or any byte of the bundle was changed."""
    with bundle.open("rb") as src:
        export_id, sealed = read_header(src)
        try:
            key = open_case_key(
                private_key, sealed, case_id=key_context(export_id), kind=KeyKind.CONTENT
            )
        except OpenError:
            raise BundleError("bundle key", "not sealed to this key, or changed") from None
        try:
            for chunk in decrypt_stream(src, key, bundle_context(export_id)):
                out.write(chunk)
        except OpenError:
            raise BundleError("bundle", "the encrypted archive was changed or cut") from None
    return export_id


@dataclass(frozen=True)
class Verified:
    export_id: str
    case: str
    verify_key: str
    parts: int


def verify_archive(archive: IO[bytes], *, expected_key: VerifyKey | None = None) -> Verified:
    """Check the manifest's signature and every part's hash; BundleError names what fails."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise BundleError("archive", "not a ZIP archive") from None
    with zf:
        names = set(zf.namelist())
        for needed in ("manifest.json", "manifest.sig"):
            if needed not in names:
                raise BundleError(needed, "missing")
        manifest_bytes = zf.read("manifest.json")
        signature = zf.read("manifest.sig")
        try:
            manifest = json.loads(manifest_bytes)
            key = VerifyKey.from_bytes(bytes.fromhex(manifest["verify_key"]))
        except (ValueError, KeyError, TypeError):
            raise BundleError("manifest.json", "unreadable") from None
        if expected_key is not None and key != expected_key:
            raise BundleError("manifest.json", "signed by another key than expected")
        try:
            verify(key, manifest_bytes, signature, purpose=SignaturePurpose.EXPORT_MANIFEST)
        except OpenError:
            raise BundleError("manifest.sig", "the signature does not match the manifest") from None
        listed = {p["path"] for p in manifest["parts"]}
        for extra in sorted(names - listed - {"manifest.json", "manifest.sig"}):
            raise BundleError(extra, "not in the manifest")
        for part in manifest["parts"]:
            path = part["path"]
            if path not in names:
                raise BundleError(path, "missing")
            digest = hashlib.sha256()
            size = 0
            try:
                with zf.open(path) as entry:
                    for chunk in iter(lambda: entry.read(1 << 20), b""):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, OSError, EOFError):
                raise BundleError(path, "damaged in the archive") from None
            if digest.hexdigest() != part["sha256"] or size != part["size"]:
                raise BundleError(path, "its SHA-256 does not match the manifest")
        return Verified(
            manifest["export_id"], manifest["case"], manifest["verify_key"], len(listed)
        )
