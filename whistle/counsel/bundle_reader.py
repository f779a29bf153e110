"""Opening and checking a case file for counsel, offline (docs/export-format.md).

Counsel's side of the bundle that whistle/counsel/export.py writes: ``open_bundle`` decrypts it with
counsel's private key into the ZIP archive, ``verify_archive`` checks the organisation's
signature over the manifest and every part's SHA-256, and ``read_header`` checks the
organisation's signature over a format-2 header before anything is decrypted. Used by
``whistle export open`` and ``whistle export verify`` (whistle/counsel/cli.py); neither needs
the server's database, file store or instance key. What fails is named in a ``BundleError``
(the part's path, or the bundle, its header or its key), never quoted. Whether the signer is
the organisation's key is decided by whistle/counsel/bundle_trust.py. The layout both sides agree on
is in whistle/counsel/bundle_format.py.
"""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
import zipfile
from collections.abc import Callable
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
from whistle.core.contexts import export_bundle_context, export_key_context
from whistle.counsel.bundle_format import MAGIC, MAGIC_PREFIX, MAGIC_V1, signed_header_part


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


@dataclass(frozen=True)
class BundleHeader:
    """What a bundle's header says. ``organisation`` and ``verify_key`` are None in format 1,
    whose header is not signed; in format 2 the signature by ``verify_key`` was checked."""

    version: int
    export_id: str
    sealed_key: bytes
    organisation: str | None = None
    verify_key: VerifyKey | None = None


def read_header(src: IO[bytes]) -> BundleHeader:
    """Check the magic and, in format 2, the header's signature by the key it names; return
    the header (BundleError else). Whether that key is the organisation's is the caller's
    question (whistle/counsel/bundle_trust.py)."""
    magic = src.read(len(MAGIC))
    if magic not in (MAGIC, MAGIC_V1):
        if magic.startswith(MAGIC_PREFIX) and len(magic) == len(MAGIC):
            raise BundleError("bundle", f"format {magic[-1]}, newer than this Whistle reads")
        raise BundleError("bundle", "not a Whistle export (wrong header)")
    try:
        export_id = str(uuid.UUID(_field(src).decode("ascii")))
        organisation = _field(src).decode("utf-8") if magic == MAGIC else None
    except (UnicodeDecodeError, ValueError):
        raise BundleError("bundle header", "damaged") from None
    sealed = _field(src)
    if magic == MAGIC_V1:
        return BundleHeader(1, export_id, sealed)
    assert organisation is not None
    try:
        key = VerifyKey.from_bytes(_field(src))
    except OpenError:
        raise BundleError("bundle header", "its signing key is damaged") from None
    signature = _field(src)
    try:
        verify(
            key,
            signed_header_part(export_id, organisation, sealed, key),
            signature,
            purpose=SignaturePurpose.EXPORT_HEADER,
        )
    except OpenError:
        raise BundleError(
            "bundle header", "its signature does not match (it was changed)"
        ) from None
    return BundleHeader(2, export_id, sealed, organisation, key)


def open_bundle(
    bundle: Path,
    private_key: PrivateKey,
    out: IO[bytes],
    *,
    before_decrypting: Callable[[BundleHeader], None] | None = None,
) -> BundleHeader:
    """Decrypt ``bundle`` into the ZIP ``out``; return its header. BundleError when the key is
    not the chosen counsel's or any byte of the bundle was changed. ``before_decrypting`` sees
    the checked header first and may refuse (raise) before counsel's key touches the file."""
    with bundle.open("rb") as src:
        header = read_header(src)
        if before_decrypting is not None:
            before_decrypting(header)
        export_id = header.export_id
        try:
            key = open_case_key(
                private_key,
                header.sealed_key,
                case_id=export_key_context(export_id),
                kind=KeyKind.CONTENT,
            )
        except OpenError:
            raise BundleError("bundle key", "not sealed to this key, or changed") from None
        try:
            for chunk in decrypt_stream(src, key, export_bundle_context(export_id)):
                out.write(chunk)
        except OpenError:
            raise BundleError("bundle", "the encrypted archive was changed or cut") from None
    return header


@dataclass(frozen=True)
class Verified:
    export_id: str
    case: str
    verify_key: str
    parts: int
    organisation: str = ""

    @property
    def signer(self) -> VerifyKey:
        return VerifyKey.from_bytes(bytes.fromhex(self.verify_key))


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
            organisation = str(manifest["organisation"])
        except (ValueError, KeyError, TypeError, OpenError):
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
            manifest["export_id"],
            manifest["case"],
            manifest["verify_key"],
            len(listed),
            organisation,
        )


def check_matches_header(checked: Verified, header: BundleHeader) -> None:
    """The signed manifest belongs to this header: same export and, in format 2, the same
    organisation and signer (BundleError otherwise). A manifest of one export never passes
    for another's, and a format-2 header and its archive are signed by one key."""
    if checked.export_id != header.export_id:
        raise BundleError("manifest.json", "belongs to another export than the header")
    if header.version >= 2 and (
        checked.organisation != header.organisation or checked.signer != header.verify_key
    ):
        raise BundleError("manifest.json", "signed for another organisation or key than the header")
