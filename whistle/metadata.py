"""Removing hidden information from attachments before they are encrypted.

A photo can carry the GPS position where it was taken and the camera's serial number; a PDF
or an Office file the author's name, the organisation and the editing software. Any of these
can identify an anonymous reporter, so they are removed before the file is encrypted:

- JPEG, PNG and WebP are decoded and written again without EXIF, XMP, IPTC or text chunks
  (Pillow). Orientation from EXIF is applied to the pixels first, so photos stay upright.
- PDF: the document information dictionary and the XMP metadata stream are dropped (pypdf).
- docx, xlsx, pptx: the document properties (core, extended and custom) are replaced by
  empty ones; the rest of the package is copied unchanged. Names inside the document body
  (comment authors, tracked changes) are content the reporter can see and edit, so they are
  left alone; the form's help text tells reporters to check them.

What cannot be stripped is kept as it is and marked, so the reporter is warned rather than
losing the file. A file that is too dangerous to process (an image of absurd dimensions, a
zip bomb) raises :class:`UnsafeFile` and is not accepted at all.
"""

from __future__ import annotations

import enum
import io
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import NameObject

# Pillow refuses images above this many pixels (a decompression bomb): 80 megapixels is more
# than any phone camera takes.
MAX_IMAGE_PIXELS = 80_000_000
# Office packages: refuse when the unpacked size is absurd or far out of proportion.
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
MAX_MEMBERS = 10_000

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
_REPLACED_PARTS = {
    "docProps/core.xml": _EMPTY_CORE,
    "docProps/app.xml": _EMPTY_APP,
    "docProps/custom.xml": _EMPTY_CUSTOM,
}


class StripOutcome(enum.StrEnum):
    """What happened to a file's hidden information (stored with the attachment)."""

    STRIPPED = "stripped"  # removed
    NOT_NEEDED = "not_needed"  # a format without hidden metadata
    UNSUPPORTED = "unsupported"  # a format we do not rewrite: kept as is, reporter warned
    FAILED = "failed"  # a rewritable format we could not parse: kept as is, reporter warned


class UnsafeFile(Exception):
    """The file is too dangerous to process (decompression or zip bomb); it is not accepted."""


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
        # A multi-byte character cut at the end of the sniffed head is still text.
        return exc.start >= len(head) - 3
    return True


def strip_metadata(source: BinaryIO, output: BinaryIO, filename: str) -> StripResult:
    """Write ``source`` without its hidden information to ``output``.

    When the format is not rewritten, or cannot be parsed, the original bytes are written
    unchanged and the outcome says so. Raises :class:`UnsafeFile` for bombs.
    """
    data = source.read()
    kind = sniff_kind(data[:64], filename)
    try:
        if kind in IMAGE_KINDS:
            output.write(_strip_image(data, kind))
        elif kind == "pdf":
            output.write(_strip_pdf(data))
        elif kind in OFFICE_KINDS:
            output.write(_strip_office(data))
        else:
            output.write(data)
            outcome = StripOutcome.NOT_NEEDED if kind in PLAIN_KINDS else StripOutcome.UNSUPPORTED
            return StripResult(outcome, kind)
    except UnsafeFile:
        raise
    except (OSError, ValueError, SyntaxError, PyPdfError, zipfile.BadZipFile, KeyError):
        # A damaged or exotic file: keep it whole and warn, rather than lose evidence.
        output.write(data)
        return StripResult(StripOutcome.FAILED, kind)
    return StripResult(StripOutcome.STRIPPED, kind)


def _strip_image(data: bytes, kind: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise UnsafeFile("image too large")
            image.load()
            frames = getattr(image, "n_frames", 1)
            out = io.BytesIO()
            if kind == "jpeg":
                orientation = image.getexif().get(0x0112, 1)
                if orientation != 1:
                    upright = ImageOps.exif_transpose(image)
                    upright.save(out, "JPEG", quality=95, icc_profile=image.info.get("icc_profile"))
                else:
                    # Re-use the original quantisation tables: no visible loss.
                    image.save(
                        out,
                        "JPEG",
                        quality="keep",
                        icc_profile=image.info.get("icc_profile"),
                    )
            elif kind == "png":
                image.save(out, "PNG", icc_profile=image.info.get("icc_profile"))
            else:
                image.save(
                    out,
                    "WEBP",
                    lossless=bool(image.info.get("lossless")),
                    quality=95,
                    save_all=frames > 1,
                    icc_profile=image.info.get("icc_profile"),
                )
            return out.getvalue()
    except Image.DecompressionBombError:
        raise UnsafeFile("image too large") from None


def _strip_pdf(data: bytes) -> bytes:
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise ValueError("encrypted PDF")
    writer = PdfWriter(clone_from=reader)
    writer.metadata = None
    root = writer.root_object
    if NameObject("/Metadata") in root:
        del root[NameObject("/Metadata")]
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _strip_office(data: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as package,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as clean,
    ):
        members = package.infolist()
        unpacked = sum(m.file_size for m in members)
        if (
            len(members) > MAX_MEMBERS
            or unpacked > MAX_UNPACKED_BYTES
            or unpacked > MAX_COMPRESSION_RATIO * max(len(data), 1)
        ):
            raise UnsafeFile("package too large when unpacked")
        if "[Content_Types].xml" not in package.namelist():
            raise ValueError("not an Office package")
        for member in members:
            replacement = _REPLACED_PARTS.get(member.filename)
            body = replacement if replacement is not None else package.read(member)
            info = zipfile.ZipInfo(member.filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            clean.writestr(info, body)
    return out.getvalue()
