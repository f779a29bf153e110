"""Uploads: plaintext never rests on disk, not even in a temporary file.

Werkzeug spools uploaded files larger than 500 KB to a temporary file. Here every upload is
spooled through :class:`EncryptedSpool` instead: it encrypts as it writes, under a random key
that lives only in this process's memory, so the temporary file holds ciphertext that is
useless after the request, and a crash leaves nothing readable in /tmp.

Metadata stripping (:mod:`whistle.casefile.metadata`) needs the whole file for the types it
rewrites
(images, PDF, Office), so those are decrypted into memory for the rewrite, bounded by the
per-file limit; every other type streams straight from the spool into the case's encrypted
store, in constant memory.
"""

from __future__ import annotations

import io
import secrets
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from flask import Request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser

from crypto import StreamEncryptor, decrypt_stream
from whistle.casefile import metadata
from whistle.casefile.conversation import PreparedFile
from whistle.core.contexts import UPLOAD_SPOOL_CONTEXT


class EncryptedSpool(io.RawIOBase):
    """A write-then-read spool whose disk copy is encrypted under a per-upload memory key.

    Werkzeug writes the upload, seeks to 0 and hands it over; reads then return plaintext.
    Writing past ``hard_limit`` bytes keeps counting but stores nothing more, and marks the
    spool ``too_large`` so the form can say which file to leave out.
    """

    def __init__(self, hard_limit: int) -> None:
        super().__init__()
        self._key = secrets.token_bytes(32)
        self._encryptor: StreamEncryptor | None = StreamEncryptor(self._key, UPLOAD_SPOOL_CONTEXT)
        self._file = cast(BinaryIO, tempfile.TemporaryFile())  # noqa: SIM115 - closed in close()
        self._reader: Iterator[bytes] | None = None
        self._pending = b""
        self.hard_limit = hard_limit
        self.size = 0
        self.too_large = False

    def writable(self) -> bool:
        return self._encryptor is not None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        if self._encryptor is None:
            raise OSError("spool is read-only after seek(0)")
        chunk = bytes(data)
        self.size += len(chunk)
        if self.size > self.hard_limit:
            self.too_large = True
        elif chunk:
            self._file.write(self._encryptor.update(chunk))
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only ``seek(0)`` once writing is done (what Werkzeug does): switch to reading."""
        if offset != 0 or whence != io.SEEK_SET:
            raise OSError("EncryptedSpool only rewinds to the start")
        if self._encryptor is not None:
            self._file.write(self._encryptor.finalize())
            self._encryptor = None
        self._file.seek(0)
        self._reader = decrypt_stream(self._file, self._key, UPLOAD_SPOOL_CONTEXT)
        self._pending = b""
        return 0

    def tell(self) -> int:
        return 0

    def readinto(self, buffer: Any) -> int:
        if self._reader is None:
            self.seek(0)
        assert self._reader is not None
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = next(self._reader, None)
            if chunk is None:
                return 0
            self._pending = chunk
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self._key = b""
        super().close()


class _NamedPartsOnly(FormDataParser):
    """Werkzeug keeps a multipart part whose header carries no usable name under the key
    ``None``, and Flask-WTF's CSRF check then fails on it with a server error. No form of ours
    has such a field: the part is dropped."""

    def _parse_multipart(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str]
    ) -> tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
        stream, form, files = super()._parse_multipart(stream, mimetype, content_length, options)
        named_files = [(k, f) for k, f in files.items(multi=True) if k is not None]
        for key, upload in files.items(multi=True):
            if key is None:
                upload.close()
        return (
            stream,
            self.cls([(k, v) for k, v in form.items(multi=True) if k is not None]),
            self.cls(named_files),
        )


class WhistleRequest(Request):
    """Flask's request, with uploads spooled encrypted."""

    form_data_parser_class = _NamedPartsOnly

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        limit = self.max_content_length or 1024 * 1024 * 1024
        return EncryptedSpool(limit)  # type: ignore[return-value]


@dataclass(frozen=True)
class UploadProblem:
    """Why one chosen file cannot be accepted (shown next to its name)."""

    filename: str
    reason: str  # "too_large" | "empty" | "unsafe" | "name"


@dataclass(frozen=True)
class UploadBatch:
    """The files of one form, ready to store, or the reasons they cannot be accepted."""

    prepared: list[PreparedFile]
    problems: list[UploadProblem]
    too_many: bool = False
    too_large_together: bool = False

    @property
    def acceptable(self) -> bool:
        return not (self.problems or self.too_many or self.too_large_together)


def chosen_files(request: Request, field_name: str) -> list[FileStorage]:
    """The files the person actually chose in ``field_name`` (browsers send empty parts)."""
    return [f for f in request.files.getlist(field_name) if f.filename]


def prepare_uploads(
    files: list[FileStorage], *, max_file_bytes: int, max_total_bytes: int, max_files: int
) -> UploadBatch:
    """Check the sizes, then strip metadata from each file; nothing is stored here.

    Sizes are checked first, from the spool's byte count, so an oversized batch is refused
    before any file is decoded.
    """
    if len(files) > max_files:
        return UploadBatch([], [], too_many=True)
    sizes = [f.stream.size if isinstance(f.stream, EncryptedSpool) else 0 for f in files]
    if sum(sizes) > max_total_bytes:
        return UploadBatch([], [], too_large_together=True)
    prepared: list[PreparedFile] = []
    problems: list[UploadProblem] = []
    for upload, size in zip(files, sizes, strict=True):
        name = safe_display_name(upload.filename or "")
        spool = upload.stream
        if name_refused(upload.filename or ""):
            problems.append(UploadProblem(name, "name"))
        elif isinstance(spool, EncryptedSpool) and (spool.too_large or size > max_file_bytes):
            problems.append(UploadProblem(name, "too_large"))
        elif isinstance(spool, EncryptedSpool) and size == 0:
            problems.append(UploadProblem(name, "empty"))
        else:
            try:
                prepared.append(prepare(spool, name))  # type: ignore[arg-type]
            except metadata.UnsafeFile:
                problems.append(UploadProblem(name, "unsafe"))
    return UploadBatch(prepared, problems)


# File systems cap a name at 255 characters: a longer one was made up, not chosen from a disk.
MAX_NAME_LENGTH = 255
# A program named like a document ("invoice.pdf.exe") is how malware reaches the people who
# open reports; a real document, photo or archive never ends like that.
_DOCUMENT_EXTENSIONS = frozenset(
    {
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "odt",
        "ods",
        "odp",
        "rtf",
        "txt",
        "csv",
        "jpg",
        "jpeg",
        "png",
        "gif",
        "webp",
        "heic",
        "tif",
        "tiff",
        "mp3",
        "mp4",
        "m4a",
        "mov",
        "wav",
        "zip",
    }
)
_PROGRAM_EXTENSIONS = frozenset(
    {
        "exe",
        "scr",
        "com",
        "bat",
        "cmd",
        "pif",
        "msi",
        "msp",
        "cpl",
        "hta",
        "js",
        "jse",
        "vbs",
        "vbe",
        "wsf",
        "wsh",
        "ps1",
        "psm1",
        "jar",
        "lnk",
        "reg",
        "app",
        "apk",
        "dll",
        "sh",
    }
)


def name_refused(filename: str) -> bool:
    """Whether a file's name is refused outright: longer than any file system allows, with a
    folder or control character in it (no browser sends those for a real file), or a program
    disguised by a document's extension."""
    if len(filename) > MAX_NAME_LENGTH:
        return True
    if any(ch in "/\\" or unicodedata.category(ch) == "Cc" for ch in filename):
        return True
    parts = [part.strip().lower() for part in filename.rsplit(".", 2)]
    return len(parts) == 3 and parts[1] in _DOCUMENT_EXTENSIONS and parts[2] in _PROGRAM_EXTENSIONS


def safe_display_name(filename: str) -> str:
    """The last path component, control characters removed, at most 200 characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or "file")[:200]


def prepare(spool: BinaryIO, filename: str) -> PreparedFile:
    """Strip metadata where we can; keep the original where we cannot (the reporter is
    warned). Raises :class:`whistle.casefile.metadata.UnsafeFile` for a file too dangerous to
    process."""
    head = spool.read(64)
    rest: BinaryIO = _Prefixed(head, spool)  # type: ignore[assignment]
    kind = metadata.sniff_kind(head, filename)
    if kind in metadata.REWRITTEN_KINDS:
        source = io.BytesIO(rest.read())
        output = io.BytesIO()
        result = metadata.strip_metadata(source, output, filename)
        output.seek(0)
        return PreparedFile(safe_display_name(filename), output, result.outcome.value)
    return PreparedFile(safe_display_name(filename), rest, _passthrough_outcome(kind))


def _passthrough_outcome(kind: str) -> str:
    return (
        metadata.StripOutcome.NOT_NEEDED.value
        if kind in metadata.PLAIN_KINDS
        else metadata.StripOutcome.UNSUPPORTED.value
    )


class _Prefixed(io.RawIOBase):
    """``head`` followed by the rest of ``stream``: lets us sniff without seeking."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            count = min(len(view), len(self._head))
            view[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)
