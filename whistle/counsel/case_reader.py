"""Counsel reads a case file in the browser: the bundle opened on the server with counsel's
private key (from their session's vault), checked as ``whistle export open`` checks it
(whistle/counsel/cli.py), and read from the archive it holds: the case document, the PDF and
every file, nothing else.

What ``open`` checks, checked here the same way (whistle/counsel/bundle_reader.py): the
header's signature; that its signer is the organisation's own signing key (the server knows
it, so it is the pin); the bundle key opens with counsel's key; the encrypted archive is whole;
the manifest's signature by that key and every part's SHA-256 and size; the manifest names the
same export, organisation and key as the header. Any failure is a :class:`BundleError`, and
nothing of the case file is shown.

Nothing is written in clear anywhere: the archive is decrypted into memory, a window of at
most :data:`WINDOW` bytes of it at a time (:class:`_Replay`). A ZIP is read from its end, so a
case file larger than the window is decrypted from the start again when a part before the
window is read (twice or three times in all); a smaller one, once.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import (
    STREAM_HEADER_SIZE,
    KeyKind,
    OpenError,
    PrivateKey,
    VerifyKey,
    decrypt_stream,
    open_case_key,
    stream_plaintext_size,
)
from whistle.core.contexts import export_bundle_context, export_key_context
from whistle.core.models import CaseExport, KeyPurpose, OrgKey
from whistle.counsel.bundle_reader import (
    BundleError,
    BundleHeader,
    Verified,
    check_matches_header,
    read_header,
    verify_archive,
)

WINDOW = 16 << 20  # plaintext kept in memory while a case file is read


class _Replay(io.RawIOBase):
    """The decrypted archive as a seekable, read-only file, without ever holding more than
    :data:`WINDOW` bytes of it: reading before the window decrypts from the start again."""

    def __init__(self, start: Callable[[], Iterator[bytes]], size: int) -> None:
        self._start = start
        self._size = size
        self._chunks: deque[tuple[int, bytes]] = deque()  # (offset, plaintext), in order
        self._kept = 0
        self._source: Iterator[bytes] | None = None
        self._decrypted = 0  # offset of the end of what the source has yielded
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _restart(self) -> None:
        self._chunks.clear()
        self._kept = 0
        self._decrypted = 0
        self._source = self._start()

    def _pull(self) -> bool:
        """Decrypt the next segment into the window; False at the end."""
        if self._source is None:
            self._restart()
        assert self._source is not None
        try:
            chunk = next(self._source)
        except StopIteration:
            return False
        except OpenError:
            raise BundleError("bundle", "the encrypted archive was changed or cut") from None
        self._chunks.append((self._decrypted, chunk))
        self._decrypted += len(chunk)
        self._kept += len(chunk)
        while self._kept > WINDOW and len(self._chunks) > 1:
            self._kept -= len(self._chunks.popleft()[1])
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        if not self._chunks or self._pos < self._chunks[0][0]:
            self._restart()
        while self._pos >= self._decrypted:
            if not self._pull():
                return 0
        for offset, chunk in self._chunks:
            if offset <= self._pos < offset + len(chunk):
                piece = chunk[self._pos - offset : self._pos - offset + len(view)]
                view[: len(piece)] = piece
                self._pos += len(piece)
                return len(piece)
        raise AssertionError("the window lost the position it was filled for")


@dataclass
class OpenedCaseFile:
    """A case file opened and verified for counsel: read parts with :meth:`read` and
    :meth:`stream`, then :meth:`close`."""

    header: BundleHeader
    checked: Verified
    archive: zipfile.ZipFile
    handle: IO[bytes]
    document: dict[str, Any] = field(default_factory=dict)

    def read(self, path: str) -> bytes:
        return self.archive.read(path)

    def size(self, path: str) -> int:
        return self.archive.getinfo(path).file_size

    def stream(self, path: str) -> Iterator[bytes]:
        """The part ``path``, a megabyte at a time; closes the case file at the end."""
        try:
            with self.archive.open(path) as entry:
                while chunk := entry.read(1 << 20):
                    yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.archive.close()
        self.handle.close()


def organisation_keys(session: Session, org_id: int) -> list[VerifyKey]:
    """Every signing key the organisation has had (the current one and those retired): the
    server's pin for the case files it signed."""
    rows = session.scalars(
        select(OrgKey.public_key).where(
            OrgKey.org_id == org_id, OrgKey.purpose == KeyPurpose.SIGNING
        )
    )
    return [VerifyKey.from_bytes(raw) for raw in rows]


def _trusted(
    organisation: str | None, key: VerifyKey | None, slug: str, keys: list[VerifyKey]
) -> None:
    """The signer is this organisation's key (its pin), as ``open`` requires of a pinned
    key."""
    if organisation is not None and organisation != slug:
        raise BundleError("bundle header", "made for another organisation")
    if key is None or key not in keys:
        raise BundleError("bundle header", "not signed by the organisation's key")


def open_case_file(
    path: Path | BinaryIO,
    export: CaseExport,
    private_key: PrivateKey,
    *,
    slug: str,
    keys: list[VerifyKey],
) -> OpenedCaseFile:
    """Open the bundle at ``path`` (the stored file of ``export``, or that file opened from
    the store: taken over, closed with the result) with counsel's private key and verify it as
    ``whistle export open`` does; BundleError names what fails."""
    handle = path.open("rb") if isinstance(path, Path) else path
    try:
        header = read_header(handle)
        if header.export_id != export.uid:
            raise BundleError("bundle header", "belongs to another export")
        if header.version >= 2:  # refuse a stranger before counsel's key touches the file
            _trusted(header.organisation, header.verify_key, slug, keys)
        try:
            bundle_key = open_case_key(
                private_key,
                header.sealed_key,
                case_id=export_key_context(header.export_id),
                kind=KeyKind.CONTENT,
            )
        except OpenError:
            raise BundleError("bundle key", "not sealed to this key, or changed") from None
        offset = handle.tell()
        head = handle.read(STREAM_HEADER_SIZE)
        try:
            size = stream_plaintext_size(head, handle.seek(0, os.SEEK_END) - offset)
        except OpenError:
            raise BundleError("bundle", "the encrypted archive was changed or cut") from None

        def start() -> Iterator[bytes]:
            handle.seek(offset)
            try:
                return decrypt_stream(handle, bundle_key, export_bundle_context(header.export_id))
            except OpenError:
                raise BundleError("bundle", "the encrypted archive was changed or cut") from None

        data = io.BufferedReader(_Replay(start, size), buffer_size=1 << 16)
        checked = verify_archive(data, expected_key=header.verify_key)
        check_matches_header(checked, header)
        if header.version < 2:  # format 1: the signer is known from the manifest only
            _trusted(checked.organisation, checked.signer, slug, keys)
        data.seek(0)
        archive = zipfile.ZipFile(data)
        opened = OpenedCaseFile(header, checked, archive, handle)
        try:
            opened.document = json.loads(archive.read("case.json"))
        except ValueError:
            raise BundleError("case.json", "unreadable") from None
        return opened
    except BaseException:
        handle.close()
        raise


def listed_files(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file of the case document, in the order of the archive (its number is its
    place in this list, from 1)."""
    found = list(document.get("report_files") or [])
    for message in document.get("conversation") or []:
        found += message.get("files") or []
    return found
