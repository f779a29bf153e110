"""Removing hidden information from attachments before they are encrypted.

A photo can carry the GPS position where it was taken and the camera's serial number; a PDF
or an Office file the author's name, the organisation and the editing software. Any of these
can identify an anonymous reporter, so they are removed before the file is encrypted:

- JPEG, PNG and WebP are rewritten at the container level, without decoding a pixel
  (whistle/casefile/images.py): EXIF (but its orientation), XMP, IPTC, comments and text
  chunks go; pixels, colour profiles and animation frames stay exactly as they were.
- PDF: the document information dictionary, the trailer's document ID and the XMP metadata
  streams (document and pages) are dropped (pikepdf, on qpdf, which reads the file lazily
  and copies stream data without decoding it); only what the document still uses is
  written, so earlier revisions of an incrementally saved file go too.
- docx, xlsx, pptx: the document properties (core, extended and custom, wherever the
  package's relationships put them) are replaced by empty ones, as are the zip's comment
  and timestamps; the rest of the package is copied member by member. Names inside the
  document body (comment authors, tracked changes) are content the reporter can see and
  edit, so they are left alone; the form's help text tells reporters to check them.

Every parser reads from a seekable file (in the web app, the encrypted upload spool through
:class:`crypto.SeekableDecryptor`) and writes a piece at a time: nothing holds a whole file
in memory. What each file may cost is counted against a :class:`Budget`
(whistle/casefile/file_budget.py); the work runs in a helper process with CPU-time, memory
and wall-clock limits (whistle/casefile/sandbox.py).

What cannot be stripped is kept as it is and marked, so the reporter is warned rather than
losing the file. A file that is too dangerous or too costly to process (a picture of absurd
dimensions, a zip bomb, a PDF of 100,000 pages) raises :class:`UnsafeFile` and is not
accepted at all.

This module imports no parser at import time (pikepdf is imported when a PDF comes, Pillow
only to read and write an EXIF orientation), so the web worker that sniffs a file's kind
here never loads them.
"""

from __future__ import annotations

import enum
import html
import logging
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote

from whistle.casefile import images
from whistle.casefile.file_budget import (
    DEFAULT_BUDGET,
    Budget,
    Refusal,
    Spent,
    UnsafeFile,
)

__all__ = [
    "DEFAULT_BUDGET",
    "IMAGE_KINDS",
    "OFFICE_KINDS",
    "PLAIN_KINDS",
    "REWRITTEN_KINDS",
    "Budget",
    "Refusal",
    "Spent",
    "StripOutcome",
    "StripResult",
    "UnsafeFile",
    "rewrite",
    "sniff_kind",
    "strip_metadata",
]

log = logging.getLogger(__name__)

IMAGE_KINDS = frozenset({"jpeg", "png", "webp"})
OFFICE_KINDS = frozenset({"docx", "xlsx", "pptx"})
REWRITTEN_KINDS = IMAGE_KINDS | OFFICE_KINDS | {"pdf"}
# Formats that hold no hidden metadata of their own, so nothing needs removing.
PLAIN_KINDS = frozenset({"text"})

_OFFICE_EXTENSIONS = {".docx": "docx", ".xlsx": "xlsx", ".pptx": "pptx"}
_PLAIN_EXTENSIONS = (".txt", ".csv", ".md", ".log")

_EMPTY_CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)
_EMPTY_APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-'
    b'properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'docPropsVTypes"/>'
)
_EMPTY_CUSTOM = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-'
    b'properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'docPropsVTypes"/>'
)
# Where the properties usually are; the package's relationships (``_rels/.rels``) can name
# other parts, e.g. System.IO.Packaging writes ``package/services/metadata/core-properties/
# <id>.psmdcp``, so those are read too.
_REPLACED_PARTS = {
    "docprops/core.xml": _EMPTY_CORE,
    "docprops/app.xml": _EMPTY_APP,
    "docprops/custom.xml": _EMPTY_CUSTOM,
}
# Relationship type endings (transitional and strict OOXML) of the property parts.
_PROPERTY_RELATIONSHIPS = {
    "/core-properties": _EMPTY_CORE,
    "/extended-properties": _EMPTY_APP,
    "/extendedproperties": _EMPTY_APP,
    "/custom-properties": _EMPTY_CUSTOM,
    "/customproperties": _EMPTY_CUSTOM,
}
_PACKAGE_RELATIONSHIPS = "_rels/.rels"
_MAX_RELATIONSHIPS_BYTES = 1024 * 1024
_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship\b([^>]*)>")
_ATTRIBUTE = re.compile(rb"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


class StripOutcome(enum.StrEnum):
    """What happened to a file's hidden information (stored with the attachment)."""

    STRIPPED = "stripped"  # removed
    NOT_NEEDED = "not_needed"  # a format without hidden metadata
    UNSUPPORTED = "unsupported"  # a format we do not rewrite: kept as is, reporter warned
    FAILED = "failed"  # a rewritable format we could not parse: kept as is, reporter warned


@dataclass(frozen=True)
class StripResult:
    outcome: StripOutcome
    kind: str


def sniff_kind(head: bytes, filename: str) -> str:
    """The file's kind from its first bytes (and, for zip packages and text, its name).

    Magic bytes win over the name, so a JPEG renamed to ``.txt`` is still stripped.
    """
    lower = filename.lower()
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        for extension, kind in _OFFICE_EXTENSIONS.items():
            if lower.endswith(extension):
                return kind
        return "zip"
    if lower.endswith(_PLAIN_EXTENSIONS) and _looks_like_text(head):
        return "text"
    return "other"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sniffed head is still text; an invalid
        # byte near the end is not.
        return exc.reason == "unexpected end of data" and exc.start >= len(head) - 3
    return True


def strip_metadata(
    source: BinaryIO,
    output: BinaryIO,
    filename: str,
    budget: Budget = DEFAULT_BUDGET,
    spent: Spent | None = None,
) -> StripResult:
    """Write ``source`` (seekable) without its hidden information to ``output``.

    When the format is not rewritten, or cannot be parsed, the original bytes are written
    unchanged and the outcome says so (``output`` must then be seekable, to start again).
    Raises :class:`UnsafeFile` for bombs and for files over ``budget``; ``spent`` counts
    what the files of one form use together.
    """
    kind = sniff_kind(source.read(64), filename)
    source.seek(0)
    outcome = (
        rewrite(kind, source, output, budget, spent if spent is not None else Spent())
        if kind in REWRITTEN_KINDS
        else (StripOutcome.NOT_NEEDED if kind in PLAIN_KINDS else StripOutcome.UNSUPPORTED)
    )
    if outcome is not StripOutcome.STRIPPED:
        output.seek(0)
        output.truncate()
        source.seek(0)
        shutil.copyfileobj(source, output, _PIECE)
    return StripResult(outcome, kind)


def rewrite(
    kind: str, source: BinaryIO, output: BinaryIO, budget: Budget, spent: Spent
) -> StripOutcome:
    """Rewrite ``source``, a file of a kind in :data:`REWRITTEN_KINDS`, into ``output``.

    Returns ``STRIPPED``, or ``FAILED`` for a file that could not be parsed: then ``output``
    holds a partial rewrite that the caller must discard (keeping the original). Raises
    :class:`UnsafeFile` for bombs and files over budget; a ``MemoryError`` is passed on.
    """
    strip: Callable[[BinaryIO, BinaryIO, Budget, Spent], None] = {
        "jpeg": images.strip_jpeg,
        "png": images.strip_png,
        "webp": images.strip_webp,
        "pdf": _strip_pdf,
    }.get(kind, _strip_office)
    try:
        strip(source, output, budget, spent)
    except (UnsafeFile, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - parsers raise anything on damaged input
        # A damaged or exotic file: keep it whole and warn, rather than lose evidence (or fail
        # the whole report). qpdf and zipfile raise far more than their documented errors on
        # hostile input: zlib.error, EOFError, NotImplementedError (unknown zip compression),
        # RuntimeError (encrypted zip member). Only the type is logged: a message can quote
        # the file.
        log.warning("metadata not stripped from a %s file: %s", kind, type(exc).__name__)
        return StripOutcome.FAILED
    return StripOutcome.STRIPPED


_PIECE = 1024 * 1024
# Where the trailer of a PDF is looked for, and how much is read at its cross-reference stream.
_PDF_TAIL = 4096
_PDF_SIZE = re.compile(rb"/Size\s+(\d+)")
_PDF_STARTXREF = re.compile(rb"startxref\s+(\d+)")


def _declared_pdf_objects(source: BinaryIO) -> int | None:
    """The object count the last trailer (or cross-reference stream) declares, read from a
    few kilobytes before the parser opens the file (which costs memory per object)."""
    end = source.seek(0, 2)
    source.seek(max(0, end - _PDF_TAIL))
    tail = source.read(_PDF_TAIL)
    sizes = _PDF_SIZE.findall(tail)
    if sizes:
        return int(sizes[-1])
    offsets = _PDF_STARTXREF.findall(tail)
    if offsets and int(offsets[-1]) < end:
        source.seek(int(offsets[-1]))
        sizes = _PDF_SIZE.findall(source.read(_PDF_TAIL))
        if sizes:
            return int(sizes[0])
    return None


def _strip_pdf(source: BinaryIO, output: BinaryIO, budget: Budget, spent: Spent) -> None:
    import pikepdf  # here, not at the top: only the helper process parses PDFs

    declared = _declared_pdf_objects(source)
    if declared is not None and declared > budget.pdf_objects:
        raise UnsafeFile("too many objects", Refusal.TOO_MUCH_INSIDE)
    source.seek(0)
    # No recovery: qpdf would rebuild a damaged file from what it finds, and a cut file would
    # come out as a shorter document; kept whole, the reporter is warned instead.
    with pikepdf.open(source, attempt_recovery=False) as pdf:
        if pdf.is_encrypted:
            raise ValueError("encrypted PDF")
        objects = int(pdf.trailer.get("/Size", 0))
        if objects > budget.pdf_objects:
            raise UnsafeFile("too many objects", Refusal.TOO_MUCH_INSIDE)
        pages_node = pdf.Root.get("/Pages")
        declared_pages = int(pages_node.get("/Count", 0)) if pages_node is not None else 0
        if declared_pages > budget.pdf_pages:
            raise UnsafeFile("too many pages", Refusal.TOO_MUCH_INSIDE)
        pages = list(pdf.pages)
        if not pages:
            # A page tree qpdf cannot follow: rewriting would drop every page.
            raise ValueError("no pages found")
        if len(pages) > budget.pdf_pages:
            raise UnsafeFile("too many pages", Refusal.TOO_MUCH_INSIDE)
        for holder in (pdf.Root, *(page.obj for page in pages)):
            if "/Metadata" in holder:
                del holder["/Metadata"]
        for key in ("/Info", "/ID"):
            if key in pdf.trailer:
                del pdf.trailer[key]
        # Stream data is copied as it is, never decoded: a compressed bomb inside a PDF
        # costs its compressed size. ``fix_metadata_version`` would write XMP back.
        pdf.save(
            output,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
            fix_metadata_version=False,
            compress_streams=False,
        )


def _strip_office(source: BinaryIO, output: BinaryIO, budget: Budget, spent: Spent) -> None:
    end = source.seek(0, 2)
    source.seek(0)
    with (
        zipfile.ZipFile(source) as package,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as clean,
    ):
        members = package.infolist()
        declared = sum(m.file_size for m in members)
        if (
            len(members) > budget.office_members
            or declared > budget.unpacked_bytes
            or declared > budget.compression_ratio * max(end, 1)
        ):
            raise UnsafeFile("package too large when unpacked", Refusal.TOO_MUCH_INSIDE)
        if "[Content_Types].xml" not in package.namelist():
            raise ValueError("not an Office package")
        replacements = _REPLACED_PARTS | _property_parts(package)
        unpacked = 0
        for member in members:
            info = zipfile.ZipInfo(member.filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            # Part names are case-insensitive in Office packages.
            replacement = replacements.get(member.filename.lower())
            if replacement is not None:
                clean.writestr(info, replacement)
            elif member.is_dir():
                clean.writestr(info, b"")
            else:
                # Streamed a piece at a time, and the bytes really unpacked are counted as
                # they come, whatever the headers declared.
                with package.open(member) as part, clean.open(info, "w") as copy:
                    while piece := part.read(_PIECE):
                        unpacked += len(piece)
                        if unpacked > budget.unpacked_bytes:
                            raise UnsafeFile("package unpacks to too much", Refusal.TOO_MUCH_INSIDE)
                        spent.add_unpacked(len(piece), budget)
                        copy.write(piece)


def _property_parts(package: zipfile.ZipFile) -> dict[str, bytes]:
    """The property parts the package's relationships name (lower-cased), with replacements."""
    # Part names are case-insensitive, so ``_RELS/.RELS`` is read too (as is every copy).
    found = [i for i in package.infolist() if i.filename.lower() == _PACKAGE_RELATIONSHIPS]
    if sum(info.file_size for info in found) > _MAX_RELATIONSHIPS_BYTES:
        raise ValueError("package relationships too large")
    relationships = [
        relationship
        for info in found
        for relationship in _RELATIONSHIP.finditer(package.read(info))
    ]
    parts: dict[str, bytes] = {}
    for relationship in relationships:
        attributes = {
            match[1].decode("utf-8", "replace"): (match[2] or match[3] or b"").decode(
                "utf-8", "replace"
            )
            for match in _ATTRIBUTE.finditer(relationship[1])
        }
        kind = attributes.get("Type", "").lower()
        target = unquote(html.unescape(attributes.get("Target", "")))
        if attributes.get("TargetMode", "").lower() == "external" or not target:
            continue
        for ending, replacement in _PROPERTY_RELATIONSHIPS.items():
            if kind.endswith(ending):
                parts[target.lstrip("/").lower()] = replacement
    return parts
