"""Uploads: plaintext never rests on disk, not even in a temporary file.

Werkzeug spools uploaded files larger than 500 KB to a temporary file. Here every upload is
spooled through :class:`EncryptedSpool` instead: it encrypts as it writes, under a random key
that lives only in this process's memory, so the temporary file holds ciphertext that is
useless after the request, and a crash leaves nothing readable in /tmp. Once written, the
spool reads as a seekable file (:class:`crypto.SeekableDecryptor`, one segment in memory).

Metadata stripping (:mod:`whistle.casefile.metadata`) of the kinds it rewrites (pictures,
PDF, Office) runs in a helper process with CPU-time, memory and wall-clock limits
(:mod:`whistle.casefile.sandbox`), which reads the encrypted spools and writes each cleaned
file to an encrypted temporary file; every other type streams straight from the spool into
the case's encrypted store. Nothing is whole in memory, and this process never imports a
parser. Report intake, the reporter's replies and the handler's messages all come through
:func:`prepare_uploads`, with the same budget and limits.
"""

from __future__ import annotations

import io
import secrets
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from flask import Request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser

from crypto import SeekableDecryptor, StreamEncryptor
from whistle.casefile import metadata, sandbox
from whistle.casefile.conversation import PreparedFile
from whistle.casefile.file_budget import DEFAULT_BUDGET, Budget
from whistle.core.contexts import UPLOAD_SPOOL_CONTEXT


class EncryptedSpool(io.RawIOBase):
    """A write-then-read spool whose disk copy is encrypted under a per-upload memory key.

    Werkzeug writes the upload, seeks to 0 and hands it over; reads then return plaintext,
    and the spool is seekable from then on. Writing past ``hard_limit`` bytes keeps counting
    but stores nothing more, and marks the spool ``too_large`` so the form can say which
    file to leave out.
    """

    def __init__(self, hard_limit: int) -> None:
        super().__init__()
        self._key = secrets.token_bytes(32)
        self._encryptor: StreamEncryptor | None = StreamEncryptor(self._key, UPLOAD_SPOOL_CONTEXT)
        self._file = cast(BinaryIO, tempfile.TemporaryFile())  # noqa: SIM115 - closed in close()
        self._reader: SeekableDecryptor | None = None
        self.hard_limit = hard_limit
        self.size = 0
        self.too_large = False

    def writable(self) -> bool:
        return self._encryptor is not None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

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

    def _finish(self) -> SeekableDecryptor:
        if self._encryptor is not None:
            self._file.write(self._encryptor.finalize())
            self._file.flush()
            self._encryptor = None
        if self._reader is None:
            self._reader = SeekableDecryptor(self._file, self._key, UPLOAD_SPOOL_CONTEXT)
        return self._reader

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """The first seek (Werkzeug's ``seek(0)``) ends writing; reading may seek anywhere."""
        if self._encryptor is not None and (offset != 0 or whence != io.SEEK_SET):
            raise OSError("EncryptedSpool only rewinds to the start while written")
        return self._finish().seek(offset, whence)

    def tell(self) -> int:
        return self._reader.tell() if self._reader is not None else 0

    def readinto(self, buffer: Any) -> int:
        return self._finish().readinto(buffer)

    def sealed(self) -> tuple[BinaryIO, bytes]:
        """The encrypted file and its key, for the upload helper (whistle/casefile/sandbox.py)
        to read from its own process."""
        self._finish()
        return self._file, self._key

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
    # "too_large" | "empty" | "name", or a :class:`Refusal`: "unsafe" | "too_much_inside" |
    # "together" | "costly"
    reason: str


@dataclass(frozen=True)
class UploadBatch:
    """The files of one form, ready to store, or the reasons they cannot be accepted."""

    prepared: list[PreparedFile]
    problems: list[UploadProblem]
    too_many: bool = False
    too_large_together: bool = False
    helper_peak_bytes: int = 0  # the upload helper's peak resident memory (benchmarks)

    @property
    def acceptable(self) -> bool:
        return not (self.problems or self.too_many or self.too_large_together)


def chosen_files(request: Request, field_name: str) -> list[FileStorage]:
    """The files the person actually chose in ``field_name`` (browsers send empty parts)."""
    return [f for f in request.files.getlist(field_name) if f.filename]


def prepare_uploads(
    files: list[FileStorage],
    *,
    max_file_bytes: int,
    max_total_bytes: int,
    max_files: int,
    budget: Budget | None = None,
    limits: sandbox.HelperLimits | None = None,
) -> UploadBatch:
    """Check the sizes, then strip metadata from each file; nothing is stored here.

    Sizes are checked first, from the spool's byte count, so an oversized batch is refused
    before any file is decoded. Then every file of a kind that is rewritten goes to one
    helper process (:func:`whistle.casefile.sandbox.strip_files`) under ``budget``
    (:data:`BUDGET` unless given) and ``limits`` (:data:`HELPER_LIMITS`).
    """
    if len(files) > max_files:
        return UploadBatch([], [], too_many=True)
    spools = [_as_spool(f.stream) for f in files]
    sizes = [spool.size for spool in spools]
    if sum(sizes) > max_total_bytes:
        return UploadBatch([], [], too_large_together=True)
    names = [safe_display_name(f.filename or "") for f in files]
    verdicts: list[PreparedFile | UploadProblem | None] = [None] * len(files)
    helper_peak = 0
    jobs: list[sandbox.Job] = []
    job_of: list[int] = []
    for index, (upload, spool) in enumerate(zip(files, spools, strict=True)):
        name = names[index]
        if name_refused(upload.filename or ""):
            verdicts[index] = UploadProblem(name, "name")
        elif spool.too_large or spool.size > max_file_bytes:
            verdicts[index] = UploadProblem(name, "too_large")
        elif spool.size == 0:
            verdicts[index] = UploadProblem(name, "empty")
        else:
            spool.seek(0)
            kind = metadata.sniff_kind(spool.read(64), upload.filename or "")
            spool.seek(0)
            if kind in metadata.REWRITTEN_KINDS:
                encrypted, key = spool.sealed()
                jobs.append(sandbox.Job(encrypted, key, kind))
                job_of.append(index)
            else:
                verdicts[index] = PreparedFile(name, spool, _passthrough_outcome(kind))  # type: ignore[arg-type]
    if jobs:
        results = sandbox.strip_files(jobs, budget or BUDGET, limits or HELPER_LIMITS)
        helper_peak = max(r.helper_peak_bytes for r in results)
        for index, result in zip(job_of, results, strict=True):
            verdicts[index] = _verdict(names[index], spools[index], result)
    prepared = [v for v in verdicts if isinstance(v, PreparedFile)]
    problems = [v for v in verdicts if isinstance(v, UploadProblem)]
    return UploadBatch(prepared, problems, helper_peak_bytes=helper_peak)


# What one form's files may cost to check, and the helper process's limits (tests lower them).
BUDGET: Budget = DEFAULT_BUDGET
HELPER_LIMITS: sandbox.HelperLimits = sandbox.DEFAULT_LIMITS


def _verdict(
    name: str, spool: EncryptedSpool, result: sandbox.JobResult
) -> PreparedFile | UploadProblem:
    if result.refusal is not None:
        return UploadProblem(name, result.refusal.value)
    if result.output is not None:
        return PreparedFile(name, result.output, metadata.StripOutcome.STRIPPED.value)
    # Not parsed (damaged or exotic): the original, as it came, and the reporter is warned.
    spool.seek(0)
    outcome = result.outcome or metadata.StripOutcome.FAILED
    return PreparedFile(name, spool, outcome.value)  # type: ignore[arg-type]


def _as_spool(stream: Any) -> EncryptedSpool:
    """The upload's encrypted spool (what :class:`WhistleRequest` gives every file); any
    other stream (a test's, or a file Werkzeug kept in memory) is spooled first."""
    if isinstance(stream, EncryptedSpool):
        return stream
    spool = EncryptedSpool(1 << 62)
    shutil.copyfileobj(stream, spool, 1024 * 1024)
    spool.seek(0)
    return spool


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


def _passthrough_outcome(kind: str) -> str:
    return (
        metadata.StripOutcome.NOT_NEEDED.value
        if kind in metadata.PLAIN_KINDS
        else metadata.StripOutcome.UNSUPPORTED.value
    )
