"""Removing hidden information from attachments before they are encrypted.

A photo can carry the GPS position where it was taken and the camera's serial number; a PDF
or an Office file the author's name, the organisation and the editing software. Any of these
can identify an anonymous reporter, so they are removed before the file is encrypted:

- JPEG, PNG and WebP are decoded and written again without EXIF, XMP, IPTC, comments or text
  chunks (Pillow). Orientation from EXIF is applied to the pixels first, so photos stay
  upright. Lossless WebP stays lossless; animations keep their frames.
- PDF: the document information dictionary and the XMP metadata streams (document and pages)
  are dropped (pypdf); only what the document still uses is written, so earlier revisions
  of an incrementally saved file go too.
- docx, xlsx, pptx: the document properties (core, extended and custom, wherever the
  package's relationships put them) are replaced by empty ones, as are the zip's comment
  and timestamps; the rest of the package is copied unchanged. Names inside the document body
  (comment authors, tracked changes) are content the reporter can see and edit, so they are
  left alone; the form's help text tells reporters to check them.

What cannot be stripped is kept as it is and marked, so the reporter is warned rather than
losing the file. A file that is too dangerous to process (an image of absurd dimensions, a
zip bomb) raises :class:`UnsafeFile` and is not accepted at all.
"""

from __future__ import annotations

import enum
import io
import logging
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote
from xml.sax.saxutils import unescape  # nosec B406 # entity replacement in a string; no XML parser

from PIL import Image, ImageOps, JpegImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject

log = logging.getLogger(__name__)

# Pillow refuses images above this many pixels (a decompression bomb): 80 megapixels is more
# than any phone camera takes.
MAX_IMAGE_PIXELS = 80_000_000
# Animated PNG and WebP: every frame is decoded and encoded again, so bound the total work.
MAX_ANIMATION_PIXELS = 400_000_000
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
        # A multi-byte character cut at the end of the sniffed head is still text; an invalid
        # byte near the end is not.
        return exc.reason == "unexpected end of data" and exc.start >= len(head) - 3
    return True


def strip_metadata(source: BinaryIO, output: BinaryIO, filename: str) -> StripResult:
    """Write ``source`` without its hidden information to ``output``.

    When the format is not rewritten, or cannot be parsed, the original bytes are written
    unchanged and the outcome says so. Raises :class:`UnsafeFile` for bombs.
    """
    data = source.read()
    kind = sniff_kind(data[:64], filename)
    if kind not in REWRITTEN_KINDS:
        output.write(data)
        outcome = StripOutcome.NOT_NEEDED if kind in PLAIN_KINDS else StripOutcome.UNSUPPORTED
        return StripResult(outcome, kind)
    try:
        if kind in IMAGE_KINDS:
            cleaned = _strip_image(data, kind)
        elif kind == "pdf":
            cleaned = _strip_pdf(data)
        else:
            cleaned = _strip_office(data)
    except UnsafeFile:
        raise
    except Exception as exc:  # noqa: BLE001 - parsers raise anything on damaged input
        # A damaged or exotic file: keep it whole and warn, rather than lose evidence (or fail
        # the whole report). Pillow, pypdf and zipfile raise far more than their documented
        # errors on hostile input: AttributeError, TypeError, zlib.error, EOFError,
        # NotImplementedError (unknown zip compression), RuntimeError (encrypted zip member).
        # Only the type is logged: a message can quote the file.
        log.warning("metadata not stripped from a %s file: %s", kind, type(exc).__name__)
        output.write(data)
        return StripResult(StripOutcome.FAILED, kind)
    output.write(cleaned)
    return StripResult(StripOutcome.STRIPPED, kind)


def _strip_image(data: bytes, kind: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = image.width * image.height
            frames = getattr(image, "n_frames", 1)
            if pixels > MAX_IMAGE_PIXELS or pixels * frames > MAX_ANIMATION_PIXELS:
                raise UnsafeFile("image too large")
            image.load()
            icc_profile = image.info.get("icc_profile")
            out = io.BytesIO()
            if kind == "jpeg":
                # Pillow writes a JPEG comment (COM segment) from the source image unless
                # told otherwise; an empty ``comment`` drops it. EXIF and XMP are only written
                # when passed, so leaving them out drops them.
                orientation = image.getexif().get(0x0112, 1)
                if orientation != 1:
                    upright = ImageOps.exif_transpose(image)
                    upright.save(out, "JPEG", quality=95, icc_profile=icc_profile, comment=b"")
                else:
                    # Re-use the original quantisation tables and subsampling: no visible
                    # loss. Given explicitly rather than as ``quality="keep"``, which Pillow
                    # refuses for a multi-picture JPEG (MPO, what many phones write); only
                    # the primary picture is kept, the others are previews or depth maps.
                    image.save(
                        out,
                        "JPEG",
                        qtables=getattr(image, "quantization", None) or None,
                        subsampling=JpegImagePlugin.get_sampling(image),
                        icc_profile=icc_profile,
                        comment=b"",
                    )
            elif kind == "png":
                image.save(out, "PNG", icc_profile=icc_profile, save_all=frames > 1)
            else:
                lossless = _webp_is_lossless(data)
                image.save(
                    out,
                    "WEBP",
                    lossless=lossless,
                    exact=lossless,
                    quality=100 if lossless else 95,
                    save_all=frames > 1,
                    icc_profile=icc_profile,
                )
            return out.getvalue()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsafeFile("image too large") from None


def _webp_is_lossless(data: bytes) -> bool:
    """Whether the WebP is coded losslessly (a VP8L chunk, also inside animation frames).

    Pillow does not say, so the RIFF chunks are read here; a lossless file must not be
    written back lossy.
    """
    for fourcc, start, end in _riff_chunks(data, 12, len(data)):
        if fourcc == b"VP8L":
            return True
        # An animation frame: 16 bytes of frame header, then the frame's own chunks.
        if fourcc == b"ANMF" and any(
            inner == b"VP8L" for inner, _, _ in _riff_chunks(data, start + 16, end)
        ):
            return True
    return False


def _riff_chunks(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, payload start, payload end) of the RIFF chunks between ``pos`` and ``end``."""
    end = min(end, len(data))
    while pos + 8 <= end:
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        yield data[pos : pos + 4], pos + 8, min(pos + 8 + size, end)
        pos += 8 + size + (size & 1)


def _strip_pdf(data: bytes) -> bytes:
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise ValueError("encrypted PDF")
    if len(reader.pages) == 0:
        # A page tree pypdf cannot follow: rewriting would drop every page.
        raise ValueError("no pages found")
    # Drop the XMP streams from what is cloned, before cloning: deleted afterwards, the
    # stream stays in the output as an unreferenced object, still readable in the bytes.
    metadata_key = NameObject("/Metadata")
    # ``reader.pages`` holds copies of the page dictionaries (with inherited attributes
    # added); the clone follows the page tree to the originals, so delete from those.
    holders: list[DictionaryObject] = [reader.root_object]
    for page in reader.pages:
        reference = page.indirect_reference
        original = reference.get_object() if reference is not None else page
        if not isinstance(original, DictionaryObject):
            raise ValueError("page is not a dictionary")
        holders.append(original)
    for holder in holders:
        if metadata_key in holder:
            del holder[metadata_key]
    writer = PdfWriter(clone_from=reader)
    writer.metadata = None
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
        # zipfile stops each member at its declared size (and then fails on the CRC), so the
        # declared sizes bound what is unpacked.
        unpacked = sum(m.file_size for m in members)
        if (
            len(members) > MAX_MEMBERS
            or unpacked > MAX_UNPACKED_BYTES
            or unpacked > MAX_COMPRESSION_RATIO * max(len(data), 1)
        ):
            raise UnsafeFile("package too large when unpacked")
        if "[Content_Types].xml" not in package.namelist():
            raise ValueError("not an Office package")
        replacements = _REPLACED_PARTS | _property_parts(package)
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
                # Streamed, a chunk at a time: a member may unpack to hundreds of megabytes.
                with package.open(member) as part, clean.open(info, "w") as copy:
                    shutil.copyfileobj(part, copy, 1024 * 1024)
    return out.getvalue()


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
        target = unquote(unescape(attributes.get("Target", ""), {"&quot;": '"', "&apos;": "'"}))
        if attributes.get("TargetMode", "").lower() == "external" or not target:
            continue
        for ending, replacement in _PROPERTY_RELATIONSHIPS.items():
            if kind.endswith(ending):
                parts[target.lstrip("/").lower()] = replacement
    return parts
