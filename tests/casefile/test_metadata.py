"""Metadata stripping (whistle/casefile/metadata.py): pure unit tests on files built in memory.

Every sample carries planted markers (fake people, a fake camera serial, a fake company).
A file that is rewritten must come out without any of them; a file that is not rewritten
(plain text, unsupported, damaged) must come out byte for byte as it went in; a bomb must be
refused. No app, client or database fixtures are used: uploads.py is driven directly.
"""

from __future__ import annotations

import copy
import io
import math
import random
import re
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageOps, IptcImagePlugin, JpegImagePlugin, PngImagePlugin
from PIL.ExifTags import GPS, IFD, Base
from pypdf import PdfReader, PdfWriter
from pypdf.generic import IndirectObject, NameObject, StreamObject
from werkzeug.datastructures import FileStorage

from whistle.casefile import metadata
from whistle.casefile.metadata import (
    REWRITTEN_KINDS,
    StripOutcome,
    StripResult,
    UnsafeFile,
    sniff_kind,
    strip_metadata,
)
from whistle.web import uploads

# Planted markers: every planted string contains one of these.
AUTHOR = "Fake Author Testperson"
EDITOR = "Fake Editor Testperson"
SERIAL = "FAKE-SERIAL-0042"
MAKE = "FakeCam Testperson Makerco"
MODEL = "FakeCam Model 9000"
COMPANY = "Fake Company Testperson ApS"
COMMENT = "Fake comment by Fake Author Testperson"
XMP_AUTHOR = "Fake XMP Author Testperson"
IPTC_BYLINE = "Fake IPTC Byline Testperson"
MARKERS = (b"Testperson", SERIAL.encode(), b"FakeCam", b"W5M0MpCehiHzreSzNTczkc9d")

XMP = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
    f"<dc:creator><rdf:Seq><rdf:li>{XMP_AUTHOR}</rdf:li></rdf:Seq></dc:creator>"
    f"<xmp:CreatorTool>{MODEL}</xmp:CreatorTool>"
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
).encode()


def _strip(data: bytes, filename: str) -> tuple[StripResult, bytes]:
    output = io.BytesIO()
    result = strip_metadata(io.BytesIO(data), output, filename)
    return result, output.getvalue()


def _name_only(value: object) -> str | None:
    """Test ids from file names only, not from the (binary) sample bytes."""
    return value if isinstance(value, str) else None


def _markers_in(data: bytes) -> list[bytes]:
    """Which planted markers occur in ``data`` (never the content around them)."""
    return [marker for marker in MARKERS if marker in data]


# --- Images ---------------------------------------------------------------------------------


def _exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Make] = MAKE
    exif[Base.Model] = MODEL
    exif[Base.Artist] = AUTHOR
    exif[Base.Orientation] = orientation
    exif.get_ifd(IFD.Exif)[Base.BodySerialNumber] = SERIAL
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "N"
    gps[GPS.GPSLatitude] = (55.0, 40.0, 12.5)
    gps[GPS.GPSLongitudeRef] = "E"
    gps[GPS.GPSLongitude] = (12.0, 34.0, 56.0)
    return exif


def _noise(mode: str, size: tuple[int, int], seed: int = 1) -> Image.Image:
    """An image of random pixels: any change to the pixels shows."""
    probe = Image.new(mode, size)
    return Image.frombytes(mode, size, random.Random(seed).randbytes(len(probe.tobytes())))


def _two_halves(size: tuple[int, int]) -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return image


def _app13_iptc(byline: str) -> bytes:
    """A Photoshop APP13 segment holding an IPTC by-line (record 2, dataset 80)."""
    text = byline.encode()
    iptc = b"\x1c\x02\x50" + struct.pack(">H", len(text)) + text
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    if len(resource) % 2:
        resource += b"\x00"
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def _jpeg(
    image: Image.Image | None = None, *, orientation: int = 1, icc: bytes | None = None
) -> bytes:
    """A JPEG with EXIF (camera, serial, GPS), XMP, a COM comment and IPTC (APP13)."""
    image = image if image is not None else _two_halves((64, 48))
    out = io.BytesIO()
    extra: dict[str, Any] = {"icc_profile": icc} if icc else {}
    image.save(
        out,
        "JPEG",
        quality=80,
        exif=_exif(orientation),
        xmp=XMP,
        comment=COMMENT.encode(),
        **extra,
    )
    data = out.getvalue()
    return data[:2] + _app13_iptc(IPTC_BYLINE) + data[2:]


def _jpeg_markers(data: bytes) -> list[int]:
    """The marker codes of a JPEG's segments up to the start of the scan."""
    assert data[:2] == b"\xff\xd8"
    pos, found = 2, []
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        found.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return found


APP1, APP13, COM = 0xE1, 0xED, 0xFE


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _png_chunk_types(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, types = 8, []
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types


def _png_info() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", AUTHOR)
    info.add_text("Software", f"{MODEL} firmware by {EDITOR}", zip=True)  # zTXt
    info.add_itxt("Comment", COMMENT, lang="da", tkey="Kommentar")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add(b"tIME", struct.pack(">HBBBBB", 2026, 3, 2, 9, 15, 0))
    return info


def _png(image: Image.Image, **params: Any) -> bytes:
    out = io.BytesIO()
    exif = _exif()
    image.save(out, "PNG", pnginfo=_png_info(), exif=exif, **params)
    return out.getvalue()


def _crafted_png(width: int, height: int, extra_chunks: bytes = b"") -> bytes:
    """A PNG whose header declares ``width`` x ``height`` but whose data is a few bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + extra_chunks
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _png_chunk(b"IEND", b"")
    )


def _riff_chunk_types(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    pos, types = 12, []
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        types.append(data[pos : pos + 4])
        pos += 8 + size + (size & 1)
    return types


def _vp8x_flags(data: bytes) -> int:
    """The flags byte of a WebP's extended header (EXIF 0x08, XMP 0x04, ICC 0x20...)."""
    position = data.index(b"VP8X")
    return data[position + 8]


def _webp(image: Image.Image, *, lossless: bool) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=lossless, exact=lossless, quality=90, exif=_exif(), xmp=XMP)
    return out.getvalue()


def _frames(count: int = 3, size: tuple[int, int] = (24, 16)) -> list[Image.Image]:
    return [_noise("RGB", size, seed=10 + n) for n in range(count)]


def _frame_pixels(data: bytes) -> list[bytes]:
    pixels = []
    with Image.open(io.BytesIO(data)) as image:
        for n in range(getattr(image, "n_frames", 1)):
            image.seek(n)
            pixels.append(image.convert("RGBA").tobytes())
    return pixels


def test_jpeg_exif_gps_serial_xmp_comment_and_iptc_are_removed() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _jpeg(icc=icc)
    # The sample really carries what must go.
    assert _markers_in(data) == list(MARKERS)
    assert {APP1, APP13, COM} <= set(_jpeg_markers(data))
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif()[Base.Make] == MAKE
        assert original.getexif().get_ifd(IFD.GPSInfo)[GPS.GPSLatitudeRef] == "N"
        assert original.getexif().get_ifd(IFD.Exif)[Base.BodySerialNumber] == SERIAL
        assert {"xmp", "comment"} <= original.info.keys()
        assert IptcImagePlugin.getiptcinfo(original) == {(2, 80): IPTC_BYLINE.encode()}

    result, cleaned = _strip(data, "photo.jpg")

    assert result == StripResult(StripOutcome.STRIPPED, "jpeg")
    assert _markers_in(cleaned) == []
    assert b"Exif\x00\x00" not in cleaned
    assert b"http://ns.adobe.com/xap/1.0/" not in cleaned
    assert b"Photoshop 3.0" not in cleaned
    assert not {APP1, APP13, COM} & set(_jpeg_markers(cleaned))
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == "JPEG"
        assert image.size == (64, 48)
        assert len(image.getexif()) == 0
        assert image.getexif().get_ifd(IFD.GPSInfo) == {}
        assert not {"exif", "xmp", "comment", "photoshop"} & image.info.keys()
        assert IptcImagePlugin.getiptcinfo(image) is None
        # The colour profile is not metadata about the reporter and is kept (documented).
        assert image.info.get("icc_profile") == icc


def test_jpeg_keeps_quantisation_tables_and_subsampling() -> None:
    source = io.BytesIO()
    _noise("RGB", (48, 32)).save(source, "JPEG", quality=60, subsampling="4:2:0", exif=_exif())
    data = source.getvalue()

    result, cleaned = _strip(data, "photo.jpg")

    assert result.outcome is StripOutcome.STRIPPED
    assert _markers_in(cleaned) == []
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(cleaned)) as after:
        assert after.size == before.size
        assert getattr(after, "quantization", None) == getattr(before, "quantization", 0)
        assert JpegImagePlugin.get_sampling(after) == JpegImagePlugin.get_sampling(before)


def test_jpeg_orientation_alone_is_kept_so_the_photo_stays_upright() -> None:
    # Orientation 6: the camera was turned; viewers rotate the picture 90 degrees clockwise.
    # Pixels are never decoded (whistle/casefile/images.py), so the orientation is kept in a
    # new EXIF segment holding that one tag and nothing else; the scan data is unchanged.
    data = _jpeg(_two_halves((40, 20)), orientation=6)
    with Image.open(io.BytesIO(data)) as original:
        assert original.size == (40, 20)
        assert original.getexif()[Base.Orientation] == 6

    result, cleaned = _strip(data, "photo.jpg")

    assert result == StripResult(StripOutcome.STRIPPED, "jpeg")
    assert _markers_in(cleaned) == []
    assert not {APP13, COM} & set(_jpeg_markers(cleaned))
    assert _jpeg_markers(cleaned).count(APP1) == 1
    assert data[data.index(b"\xff\xda") :] == cleaned[cleaned.index(b"\xff\xda") :]
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.size == (40, 20)
        exif = image.getexif()
        assert dict(exif) == {Base.Orientation: 6}
        assert exif.get_ifd(IFD.Exif) == {} and exif.get_ifd(IFD.GPSInfo) == {}
        assert not {"xmp", "comment"} & image.info.keys()
        rgb = ImageOps.exif_transpose(image).convert("RGB")
        assert rgb.size == (20, 40)
        # The left (red) half of the sensor is on top once turned, the blue half at the bottom.
        top = rgb.crop((0, 0, 20, 18)).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        bottom = rgb.crop((0, 22, 20, 40)).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        assert isinstance(top, tuple) and isinstance(bottom, tuple)
        assert top[0] > 200 and top[2] < 60
        assert bottom[2] > 200 and bottom[0] < 60


def test_multi_picture_jpeg_keeps_the_primary_picture_only() -> None:
    out = io.BytesIO()
    red, blue = Image.new("RGB", (32, 24), "red"), Image.new("RGB", (32, 24), "blue")
    red.save(out, "MPO", save_all=True, append_images=[blue], exif=_exif(), xmp=XMP)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as original:
        assert original.format == "MPO" and getattr(original, "n_frames", 1) == 2
    assert _markers_in(data)

    result, cleaned = _strip(data, "phone.jpg")

    assert result == StripResult(StripOutcome.STRIPPED, "jpeg")
    assert _markers_in(cleaned) == []
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == "JPEG"
        assert getattr(image, "n_frames", 1) == 1
        assert image.size == (32, 24)
        pixel = image.convert("RGB").getpixel((16, 12))
        assert isinstance(pixel, tuple) and pixel[0] > 200 and pixel[2] < 60
        assert len(image.getexif()) == 0


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "LA", "P", "I;16", "1"])
def test_png_text_chunks_exif_and_time_are_removed_and_pixels_kept(mode: str) -> None:
    source = _noise(mode, (17, 9))
    params: dict[str, Any] = {"transparency": 3} if mode == "P" else {}
    data = _png(source, **params)
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"} <= set(_png_chunk_types(data))
    with Image.open(io.BytesIO(data)) as original:
        assert isinstance(original, PngImagePlugin.PngImageFile)
        assert original.text["Software"].startswith(MODEL)  # the zTXt chunk, decompressed
        assert original.getexif()[Base.Make] == MAKE

    result, cleaned = _strip(data, "scan.png")

    assert result == StripResult(StripOutcome.STRIPPED, "png")
    assert _markers_in(cleaned) == []
    chunk_types = set(_png_chunk_types(cleaned))
    assert not {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"} & chunk_types
    assert chunk_types <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(cleaned)) as after:
        assert isinstance(after, PngImagePlugin.PngImageFile)
        assert after.text == {}
        assert len(after.getexif()) == 0
        assert (after.mode, after.size) == (before.mode, before.size)
        assert after.tobytes() == before.tobytes()
        assert after.convert("RGBA").tobytes() == before.convert("RGBA").tobytes()


def test_animated_png_keeps_its_frames_and_loses_its_text() -> None:
    frames = _frames()
    out = io.BytesIO()
    frames[0].save(
        out,
        "PNG",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 200, 300],
        loop=0,
        pnginfo=_png_info(),
    )
    data = out.getvalue()
    assert b"acTL" in _png_chunk_types(data)
    assert _markers_in(data)

    result, cleaned = _strip(data, "animation.png")

    assert result == StripResult(StripOutcome.STRIPPED, "png")
    assert _markers_in(cleaned) == []
    assert not {b"tEXt", b"zTXt", b"iTXt", b"tIME"} & set(_png_chunk_types(cleaned))
    with Image.open(io.BytesIO(cleaned)) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        assert image.n_frames == 3
        assert image.text == {}
    assert _frame_pixels(cleaned) == _frame_pixels(data)


@pytest.mark.parametrize("lossless", [True, False], ids=["lossless", "lossy"])
def test_webp_exif_and_xmp_are_removed(lossless: bool) -> None:
    source = _noise("RGBA" if lossless else "RGB", (32, 24))
    data = _webp(source, lossless=lossless)
    assert {b"EXIF", b"XMP "} <= set(_riff_chunk_types(data))
    assert _markers_in(data) == list(MARKERS)

    result, cleaned = _strip(data, "photo.webp")

    assert result == StripResult(StripOutcome.STRIPPED, "webp")
    assert _markers_in(cleaned) == []
    chunk_types = set(_riff_chunk_types(cleaned))
    assert not {b"EXIF", b"XMP "} & chunk_types
    # The extended header no longer announces EXIF or XMP, and the RIFF size is the file's.
    assert _vp8x_flags(data) & 0x0C == 0x0C
    assert _vp8x_flags(cleaned) & 0x0C == 0
    assert int.from_bytes(cleaned[4:8], "little") == len(cleaned) - 8
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(cleaned)) as after:
        assert after.size == before.size
        assert "exif" not in after.info and "xmp" not in after.info
        assert len(after.getexif()) == 0
        if lossless:
            # Lossless stays lossless, transparent pixels' colours included.
            assert b"VP8L" in chunk_types and b"VP8 " not in chunk_types
            assert after.mode == before.mode == "RGBA"
            assert after.tobytes() == before.tobytes() == source.tobytes()
        else:
            assert b"VP8 " in chunk_types and b"VP8L" not in chunk_types


@pytest.mark.parametrize("lossless", [True, False], ids=["lossless", "lossy"])
def test_animated_webp_keeps_its_frames(lossless: bool) -> None:
    frames = _frames()
    out = io.BytesIO()
    frames[0].save(
        out,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=100,
        loop=0,
        lossless=lossless,
        exif=_exif().tobytes(),
        xmp=XMP,
    )
    data = out.getvalue()
    assert {b"ANIM", b"EXIF", b"XMP "} <= set(_riff_chunk_types(data))
    assert (b"VP8L" in data) is lossless

    result, cleaned = _strip(data, "animation.webp")

    assert result == StripResult(StripOutcome.STRIPPED, "webp")
    assert _markers_in(cleaned) == []
    chunk_types = set(_riff_chunk_types(cleaned))
    assert b"ANIM" in chunk_types and not {b"EXIF", b"XMP "} & chunk_types
    assert (b"VP8L" in cleaned) is lossless
    with Image.open(io.BytesIO(cleaned)) as image:
        assert getattr(image, "n_frames", 1) == 3
    if lossless:
        assert _frame_pixels(cleaned) == _frame_pixels(data)


# --- PDF ------------------------------------------------------------------------------------

INFO = {
    "/Author": AUTHOR,
    "/Creator": f"{MODEL} Writer",
    "/Producer": f"Fake Producer for {EDITOR}",
    "/Title": f"Notes by {AUTHOR}",
    "/Company": COMPANY,
}


def _xmp_stream(writer: PdfWriter) -> IndirectObject:
    stream = StreamObject()
    stream.set_data(XMP)
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    return writer._add_object(stream)


def _pdf(pages: int = 3) -> bytes:
    """A PDF with an information dictionary and XMP for the document and its first page."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    writer.add_metadata(INFO)
    writer._root_object[NameObject("/Metadata")] = _xmp_stream(writer)
    writer.pages[0][NameObject("/Metadata")] = _xmp_stream(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_information_dictionary_and_xmp_are_removed() -> None:
    data = _pdf(pages=3)
    original = PdfReader(io.BytesIO(data))
    assert original.metadata is not None and original.metadata.author == AUTHOR
    assert original.xmp_metadata is not None
    assert "/Metadata" in original.pages[0]
    assert data.count(XMP_AUTHOR.encode()) == 2  # document and page XMP

    result, cleaned = _strip(data, "report.pdf")

    assert result == StripResult(StripOutcome.STRIPPED, "pdf")
    assert _markers_in(cleaned) == []
    for word in (b"/Author", b"/Creator", b"/Producer", b"/Company", b"/Metadata", b"xmpmeta"):
        assert word not in cleaned, word
    reader = PdfReader(io.BytesIO(cleaned))
    assert len(reader.pages) == 3
    assert reader.metadata is None
    assert reader.xmp_metadata is None
    assert all("/Metadata" not in page for page in reader.pages)


def test_pdf_earlier_revision_of_an_incremental_update_is_dropped() -> None:
    base = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.add_metadata({"/Author": "Fake Earlier Author Testperson"})
    writer._root_object[NameObject("/Metadata")] = _xmp_stream(writer)
    writer.write(base)
    # A second revision appended to the first: new author, no XMP, one page more.
    update = PdfWriter(io.BytesIO(base.getvalue()), incremental=True)
    update.metadata = {"/Author": "Fake Later Author Testperson"}
    del update._root_object["/Metadata"]
    update.add_blank_page(width=100, height=100)
    appended = io.BytesIO()
    update.write(appended)
    data = appended.getvalue()
    # The earlier revision is still in the bytes, though readers only see the later one.
    assert data.startswith(base.getvalue())
    assert b"Fake Earlier Author Testperson" in data
    assert XMP_AUTHOR.encode() in data
    current = PdfReader(io.BytesIO(data))
    assert current.metadata == {"/Author": "Fake Later Author Testperson"}
    assert current.xmp_metadata is None

    result, cleaned = _strip(data, "report.pdf")

    assert result == StripResult(StripOutcome.STRIPPED, "pdf")
    assert _markers_in(cleaned) == []
    assert b"Fake Earlier Author" not in cleaned and b"Fake Later Author" not in cleaned
    assert cleaned.count(b"%%EOF") == 1
    assert len(PdfReader(io.BytesIO(cleaned)).pages) == 2


@pytest.mark.parametrize("password", ["", "fake-password"], ids=["no-user-password", "password"])
def test_encrypted_pdf_is_kept_whole_and_marked_failed(password: str) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.add_metadata({"/Author": AUTHOR})
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()

    result, kept = _strip(data, "locked.pdf")

    assert result == StripResult(StripOutcome.FAILED, "pdf")
    assert kept == data


# --- Office ---------------------------------------------------------------------------------

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" '
    b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/docProps/core.xml" '
    b'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    b'<Override PartName="/docProps/app.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    b'<Override PartName="/docProps/custom.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/>'
    b"</Types>"
)
CORE_TYPE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
APP_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties"
CUSTOM_TYPE = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
)
STRICT_APP_TYPE = "http://purl.oclc.org/ooxml/officeDocument/relationships/extendedProperties"
STRICT_CUSTOM_TYPE = "http://purl.oclc.org/ooxml/officeDocument/relationships/customProperties"
DOCUMENT_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
BODY_PARTS = {
    "docx": "word/document.xml",
    "xlsx": "xl/workbook.xml",
    "pptx": "ppt/presentation.xml",
}
BODIES = {
    "docx": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        b"<w:body><w:p><w:r><w:t>What I saw on 2 March.</w:t></w:r></w:p></w:body>"
        b"</w:document>"
    ),
    "xlsx": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheets><sheet name="Invoices" sheetId="1"/></sheets></workbook>'
    ),
    "pptx": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">'
        b"<p:sldIdLst/></p:presentation>"
    ),
}
CORE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    f"<dc:title>Notes by {AUTHOR}</dc:title><dc:creator>{AUTHOR}</dc:creator>"
    f"<cp:lastModifiedBy>{EDITOR}</cp:lastModifiedBy><cp:revision>7</cp:revision>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">2026-03-02T09:00:00Z</dcterms:created>'
    "</cp:coreProperties>"
).encode()
APP_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-'
    'properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    f"<Application>{MODEL} Office</Application><Company>{COMPANY}</Company>"
    f"<Manager>{EDITOR}</Manager><TotalTime>42</TotalTime></Properties>"
).encode()
CUSTOM_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-'
    'properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Reviewer">'
    f"<vt:lpwstr>{EDITOR}</vt:lpwstr></property>"
    '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="DeviceSerial">'
    f"<vt:lpwstr>{SERIAL}</vt:lpwstr></property></Properties>"
).encode()
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _rels(relationships: list[tuple[str, str]], *, extra: str = "") -> bytes:
    """A package relationships part: (type, target) pairs."""
    body = "".join(
        f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"/>'
        for n, (kind, target) in enumerate(relationships, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{RELS_NS}">{body}{extra}</Relationships>'
    ).encode()


def _standard_members(kind: str) -> dict[str, bytes]:
    return {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": _rels(
            [
                (DOCUMENT_TYPE, BODY_PARTS[kind]),
                (CORE_TYPE, "docProps/core.xml"),
                (APP_TYPE, "docProps/app.xml"),
                (CUSTOM_TYPE, "docProps/custom.xml"),
            ]
        ),
        BODY_PARTS[kind]: BODIES[kind],
        "docProps/core.xml": CORE_XML,
        "docProps/app.xml": APP_XML,
        "docProps/custom.xml": CUSTOM_XML,
    }


def _zip(
    members: dict[str, bytes],
    *,
    comment: bytes = b"",
    compression: int = zipfile.ZIP_DEFLATED,
    date_time: tuple[int, int, int, int, int, int] = (2026, 3, 2, 9, 15, 42),
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name, payload in members.items():
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = compression
            # An extended-timestamp extra field (what Info-ZIP adds), and a member comment.
            info.extra = struct.pack("<HHBI", 0x5455, 5, 1, 1772442942)
            info.comment = f"member comment by {AUTHOR}".encode()
            package.writestr(info, payload)
        package.comment = comment
    return out.getvalue()


def _unpacked(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {info.filename: package.read(info) for info in package.infolist()}


def _assert_empty_properties(payload: bytes) -> None:
    """A property part replaced by an empty one: well-formed XML, the root and nothing else."""
    root = ElementTree.fromstring(payload)
    assert root.tag.rsplit("}", 1)[-1] in {"coreProperties", "Properties"}
    assert len(root) == 0 and not (root.text or "").strip()
    assert _markers_in(payload) == []


def _assert_zip_neutralised(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert package.testzip() is None
        assert package.comment == b""
        for info in package.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.extra == b""
            assert info.comment == b""


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_office_properties_comment_and_timestamps_are_neutralised(kind: str) -> None:
    members = _standard_members(kind)
    # Stored, not deflated, so the markers are visible in the input's bytes.
    data = _zip(members, comment=COMMENT.encode(), compression=zipfile.ZIP_STORED)
    assert _markers_in(data) == [b"Testperson", SERIAL.encode(), b"FakeCam"]

    result, cleaned = _strip(data, f"Report.{kind}")

    assert result == StripResult(StripOutcome.STRIPPED, kind)
    assert _markers_in(cleaned) == []
    _assert_zip_neutralised(cleaned)
    parts = _unpacked(cleaned)
    assert list(parts) == list(members)  # same parts, same order
    for name, payload in parts.items():
        assert _markers_in(payload) == [], name
    for name in ("docProps/core.xml", "docProps/app.xml", "docProps/custom.xml"):
        _assert_empty_properties(parts[name])
    # Everything else is copied byte for byte.
    assert parts[BODY_PARTS[kind]] == BODIES[kind]
    assert parts["[Content_Types].xml"] == CONTENT_TYPES
    assert parts["_rels/.rels"] == members["_rels/.rels"]


def test_office_property_parts_named_by_the_relationships_are_replaced() -> None:
    odd_core = "package/services/metadata/core-properties/abc123.psmdcp"
    members = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": _rels(
            [
                (DOCUMENT_TYPE, "word/document.xml"),
                # System.IO.Packaging's name, absolute and in another case than the zip's.
                (CORE_TYPE, "/" + odd_core.upper()),
                (STRICT_APP_TYPE, "meta/extended.xml"),
                # Percent-encoded and XML-escaped targets.
                (STRICT_CUSTOM_TYPE, "meta/Egenskaber-%C3%A6&amp;%C3%B8.xml"),
            ],
            # An external relationship names no part of the package, so nothing is replaced
            # (single quotes and a prefixed element name are read as well).
            extra=(
                f"<pr:Relationship xmlns:pr='{RELS_NS}' Id='rId9' Type='{CUSTOM_TYPE}' "
                "Target='word/document.xml' TargetMode='External'/>"
            ),
        ),
        "word/document.xml": BODIES["docx"],
        odd_core: CORE_XML,
        "meta/extended.xml": APP_XML,
        "meta/Egenskaber-\u00e6&\u00f8.xml": CUSTOM_XML,
    }
    data = _zip(members)

    result, cleaned = _strip(data, "report.docx")

    assert result == StripResult(StripOutcome.STRIPPED, "docx")
    parts = _unpacked(cleaned)
    assert list(parts) == list(members)
    for name in (odd_core, "meta/extended.xml", "meta/Egenskaber-\u00e6&\u00f8.xml"):
        _assert_empty_properties(parts[name])
    assert parts["word/document.xml"] == BODIES["docx"]
    assert all(_markers_in(payload) == [] for payload in parts.values())
    _assert_zip_neutralised(cleaned)


def test_office_part_names_are_case_insensitive() -> None:
    members = {
        "[Content_Types].xml": CONTENT_TYPES,
        # The package relationships part itself in capitals, naming a non-default part.
        "_RELS/.RELS": _rels(
            [
                (DOCUMENT_TYPE, "xl/workbook.xml"),
                (CORE_TYPE, "Package/Services/Metadata/Core-Properties/ABC.psmdcp"),
            ]
        ),
        "xl/workbook.xml": BODIES["xlsx"],
        "package/services/metadata/core-properties/abc.psmdcp": CORE_XML,
        # Default property part names in other cases.
        "DocProps/App.XML": APP_XML,
        "DOCPROPS/CUSTOM.XML": CUSTOM_XML,
    }
    data = _zip(members)

    result, cleaned = _strip(data, "ledger.XLSX")

    assert result == StripResult(StripOutcome.STRIPPED, "xlsx")
    parts = _unpacked(cleaned)
    assert list(parts) == list(members)
    for name in (
        "package/services/metadata/core-properties/abc.psmdcp",
        "DocProps/App.XML",
        "DOCPROPS/CUSTOM.XML",
    ):
        _assert_empty_properties(parts[name])
    assert parts["xl/workbook.xml"] == BODIES["xlsx"]
    assert all(_markers_in(payload) == [] for payload in parts.values())


def test_zip_without_content_types_named_docx_is_kept_and_marked_failed() -> None:
    data = _zip({"docProps/core.xml": CORE_XML, "notes.txt": b"plain"})

    result, kept = _strip(data, "not-really.docx")

    assert result == StripResult(StripOutcome.FAILED, "docx")
    assert kept == data


# --- Kinds, plain text and unsupported files ------------------------------------------------


@cache
def _samples() -> dict[str, bytes]:
    """One small sample of every rewritten kind, each carrying planted metadata."""
    return {
        "jpeg": _jpeg(),
        "png": _png(_noise("RGB", (8, 8))),
        "webp-lossy": _webp(_noise("RGB", (8, 8)), lossless=False),
        "webp-lossless": _webp(_noise("RGB", (8, 8)), lossless=True),
        "pdf": _pdf(pages=1),
        "docx": _zip(_standard_members("docx")),
    }


@pytest.mark.parametrize(
    ("sample", "filename", "kind"),
    [
        ("jpeg", "photo.jpg", "jpeg"),
        ("jpeg", "photo.txt", "jpeg"),
        ("jpeg", "photo.pdf", "jpeg"),
        ("png", "scan.jpg", "png"),
        ("png", "scan", "png"),
        ("webp-lossy", "photo.png", "webp"),
        ("pdf", "report.txt", "pdf"),
        ("pdf", "report.docx", "pdf"),
        ("docx", "report.docx", "docx"),
        ("docx", "REPORT.DOCX", "docx"),
        ("docx", "report.xlsx", "xlsx"),
        ("docx", "report.pptx", "pptx"),
        # Office packages are told apart from other zips by name only.
        ("docx", "report.zip", "zip"),
        ("docx", "report.txt", "zip"),
        ("docx", "report.docx.zip", "zip"),
    ],
)
def test_sniff_kind_trusts_magic_bytes_over_the_name(sample: str, filename: str, kind: str) -> None:
    assert sniff_kind(_samples()[sample][:64], filename) == kind


@pytest.mark.parametrize(
    ("head", "filename", "kind"),
    [
        (b"date;amount\n2026-03-02;100\n", "ledger.csv", "text"),
        (b"Notes\n", "NOTES.TXT", "text"),
        (b"# Heading\n", "readme.md", "text"),
        (b"09:00 login\n", "server.log", "text"),
        ("Bl\u00e5b\u00e6rgr\u00f8d\n".encode(), "opskrift.txt", "text"),
        (b"", "empty.txt", "text"),
        # A multi-byte character cut by the 64-byte head is still text ...
        (b"a" * 63 + "\u00e6".encode()[:1], "cut.txt", "text"),
        # ... an invalid byte or a NUL is not.
        (b"abc\xffdef", "binary.txt", "other"),
        (b"abc\x00def", "binary.txt", "other"),
        (b"Not a PDF at all\n", "notes.pdf", "other"),
        (b"Notes\n", "notes.exe", "other"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", "clip.webp", "other"),
        (b"\x00\x00\x00\x18ftypmp42", "clip.mp4", "other"),
        (b"GIF89a\x01\x00\x01\x00", "image.gif", "other"),
        (b"%PD", "short.pdf", "other"),
    ],
    ids=_name_only,
)
def test_sniff_kind_of_text_and_other_files(head: bytes, filename: str, kind: str) -> None:
    assert sniff_kind(head, filename) == kind


def test_a_photo_renamed_to_txt_is_still_stripped() -> None:
    result, cleaned = _strip(_samples()["jpeg"], "holiday.txt")

    assert result == StripResult(StripOutcome.STRIPPED, "jpeg")
    assert _markers_in(cleaned) == []
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == "JPEG" and len(image.getexif()) == 0


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"date;amount;note\n2026-03-02;100;Fake Author Testperson paid\n", "ledger.csv"),
        ("Jeg s\u00e5 det den 2. marts.\r\n".encode(), "notes.txt"),
        (b"# Fake Author Testperson\n", "notes.md"),
        (b"", "empty.txt"),
    ],
    ids=_name_only,
)
def test_plain_text_is_not_needed_and_kept_byte_for_byte(data: bytes, filename: str) -> None:
    result, kept = _strip(data, filename)

    assert result == StripResult(StripOutcome.NOT_NEEDED, "text")
    assert kept == data


@pytest.mark.parametrize(
    ("make", "filename", "kind"),
    [
        (lambda: random.Random(5).randbytes(4096), "clip.mp4", "other"),
        (lambda: b"\x00\x00\x00\x18ftypmp42" + bytes(512), "clip.mp4", "other"),
        (lambda: _zip({"notes.txt": b"Fake Author Testperson"}), "archive.zip", "zip"),
        (lambda: _zip(_standard_members("docx")), "report.docx.zip", "zip"),
        (lambda: b"GIF89a" + random.Random(6).randbytes(64), "image.gif", "other"),
        (lambda: b"", "nothing.jpg", "other"),
    ],
)
def test_unknown_types_are_unsupported_and_kept_byte_for_byte(
    make: Callable[[], bytes], filename: str, kind: str
) -> None:
    data = make()

    result, kept = _strip(data, filename)

    assert result == StripResult(StripOutcome.UNSUPPORTED, kind)
    assert kept == data


# --- Damaged files --------------------------------------------------------------------------


def _with_declared_size(data: bytes, name: str, size: int) -> bytes:
    """The zip with ``name``'s uncompressed size in the central directory set to ``size``."""
    patched = bytearray(data)
    pos = 0
    found = False
    while (pos := patched.find(b"PK\x01\x02", pos)) >= 0:
        name_length = struct.unpack_from("<H", patched, pos + 28)[0]
        if patched[pos + 46 : pos + 46 + name_length] == name.encode():
            struct.pack_into("<I", patched, pos + 24, size)
            found = True
        pos += 4
    assert found
    return bytes(patched)


def _cut(sample: str, fraction: float) -> bytes:
    data = _samples()[sample]
    return data[: int(len(data) * fraction)]


DAMAGED: dict[str, tuple[Callable[[], bytes], str]] = {
    "truncated.jpg": (lambda: _cut("jpeg", 2 / 3), "jpeg"),
    "garbage.jpg": (lambda: b"\xff\xd8\xff\xe0" + random.Random(1).randbytes(300), "jpeg"),
    "truncated.png": (lambda: _cut("png", 0.5), "png"),
    # (A PNG with a sane header but too little pixel data is no longer "damaged": pixels are
    # never decoded, so its chunks are copied as they are, and a viewer draws what is there.)
    "garbage.webp": (lambda: b"RIFF\x20\x00\x00\x00WEBPVP8 " + bytes(24), "webp"),
    "truncated.webp": (lambda: _cut("webp-lossless", 0.5), "webp"),
    "garbage.pdf": (lambda: b"%PDF-1.7\n" + random.Random(2).randbytes(300), "pdf"),
    "truncated.pdf": (lambda: _cut("pdf", 0.5), "pdf"),
    "no-pages.pdf": (
        lambda: b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
        "pdf",
    ),
    "corrupt.docx": (lambda: b"PK\x03\x04" + random.Random(3).randbytes(300), "docx"),
    "truncated.docx": (lambda: _cut("docx", 0.5), "docx"),
    # A member that unpacks to more than its declared size: zipfile stops there, the CRC fails.
    "understated.pptx": (
        lambda: _with_declared_size(_samples()["docx"], "word/document.xml", 10),
        "pptx",
    ),
}


@pytest.mark.parametrize("filename", list(DAMAGED))
def test_damaged_files_are_kept_whole_and_marked_failed(
    filename: str, caplog: pytest.LogCaptureFixture
) -> None:
    make, kind = DAMAGED[filename]
    data = make()
    with caplog.at_level("WARNING", logger="whistle.casefile.metadata"):
        result, kept = _strip(data, filename)

    assert result == StripResult(StripOutcome.FAILED, kind)
    assert kept == data
    # The warning names the kind and the exception type only, never the file's content.
    records = [r for r in caplog.records if r.name == "whistle.casefile.metadata"]
    assert len(records) == 1
    assert kind in records[0].getMessage()
    assert _markers_in(records[0].getMessage().encode()) == []


# --- Bombs and budgets (whistle/casefile/file_budget.py) ------------------------------------

DEFAULT = metadata.DEFAULT_BUDGET


def _strip_within(
    data: bytes, filename: str, budget: metadata.Budget, spent: metadata.Spent | None = None
) -> tuple[StripResult, bytes]:
    output = io.BytesIO()
    result = strip_metadata(io.BytesIO(data), output, filename, budget, spent)
    return result, output.getvalue()


def _refusal(data: bytes, filename: str, budget: metadata.Budget = DEFAULT) -> metadata.Refusal:
    with pytest.raises(UnsafeFile) as refused:
        _strip_within(data, filename, budget)
    return refused.value.refusal


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (9000, 9000),  # 81 MP: just over the limit
        (10000, 10000),
        (50000, 50000),  # 2.5 gigapixels, the attacker's favourite
        (1, 100_000_000),
    ],
)
def test_png_declaring_too_many_pixels_is_unsafe(width: int, height: int) -> None:
    assert width * height > DEFAULT.image_pixels
    data = _crafted_png(width, height)
    assert len(data) < 100

    assert _refusal(data, "bomb.png") is metadata.Refusal.UNSAFE


def test_a_blank_8900_pixel_png_costs_its_bytes_not_its_pixels() -> None:
    # The attack of issue 17: 79 megapixels of blank PNG, just under the per-picture limit,
    # once held a worker for seconds each while Pillow decoded and encoded them. Now it is
    # copied chunk by chunk; its pixels still count against the form's budget.
    data = _crafted_png(8900, 8900)
    spent = metadata.Spent()
    result, cleaned = _strip_within(data, "blank.png", DEFAULT, spent)
    assert result.outcome is StripOutcome.STRIPPED
    assert cleaned == data
    assert spent.pixels == 8900 * 8900


def test_jpeg_declaring_too_many_pixels_is_unsafe() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    frame = data.index(b"\xff\xc0")  # baseline frame header: height, width at +5
    assert struct.unpack(">HH", data[frame + 5 : frame + 9]) == (8, 8)
    struct.pack_into(">HH", data, frame + 5, 9000, 9000)

    assert _refusal(bytes(data), "bomb.jpg") is metadata.Refusal.UNSAFE


def test_webp_declaring_too_many_pixels_is_unsafe() -> None:
    data = bytearray(_webp(_noise("RGB", (32, 24)), lossless=False))
    # The extended header's canvas: 24-bit width - 1 and height - 1 at payload +4.
    vp8x = data.index(b"VP8X") + 8
    data[vp8x + 4 : vp8x + 10] = (9999).to_bytes(3, "little") + (9999).to_bytes(3, "little")

    assert _refusal(bytes(data), "bomb.webp") is metadata.Refusal.UNSAFE


def test_animation_declaring_too_many_frames_is_unsafe() -> None:
    # 1000 x 1000 pixels is fine once; an animation control chunk claiming 1000 frames is not.
    animation = _png_chunk(b"acTL", struct.pack(">II", 1000, 0))
    data = _crafted_png(1000, 1000, animation)
    assert DEFAULT.image_pixels >= 1000 * 1000
    assert DEFAULT.animation_pixels < 1000 * 1000 * 1000

    assert _refusal(data, "bomb.png") is metadata.Refusal.UNSAFE


def _animated(kind: str, frames: int) -> bytes:
    out = io.BytesIO()
    images = _frames(frames, (8, 8))
    images[0].save(out, kind, save_all=True, append_images=images[1:], duration=50, loop=0)
    return out.getvalue()


@pytest.mark.parametrize(("kind", "name"), [("PNG", "moving.png"), ("WEBP", "moving.webp")])
def test_the_frame_budget_takes_as_many_frames_and_refuses_one_more(kind: str, name: str) -> None:
    data = _animated(kind, 5)
    result, cleaned = _strip_within(data, name, replace(DEFAULT, frames=5))
    assert result.outcome is StripOutcome.STRIPPED
    with Image.open(io.BytesIO(cleaned)) as image:
        assert getattr(image, "n_frames", 1) == 5

    assert _refusal(data, name, replace(DEFAULT, frames=4)) is metadata.Refusal.UNSAFE


def test_a_png_with_more_frames_than_it_declares_is_counted_by_its_frames() -> None:
    data = bytearray(_animated("PNG", 5))
    actl = data.index(b"acTL")
    struct.pack_into(">I", data, actl + 4, 1)  # declare one frame
    struct.pack_into(">I", data, actl + 12, zlib.crc32(bytes(data[actl : actl + 12])))

    assert _refusal(bytes(data), "moving.png", replace(DEFAULT, frames=4)) is (
        metadata.Refusal.UNSAFE
    )


def test_the_pixel_budget_of_one_picture_takes_it_at_the_limit_and_refuses_one_more() -> None:
    data = _crafted_png(100, 50)
    result, _ = _strip_within(data, "scan.png", replace(DEFAULT, image_pixels=5000))
    assert result.outcome is StripOutcome.STRIPPED
    assert _refusal(data, "scan.png", replace(DEFAULT, image_pixels=4999)) is (
        metadata.Refusal.UNSAFE
    )


def test_the_pixels_of_a_form_are_counted_together_across_kinds() -> None:
    budget = replace(DEFAULT, request_pixels=3 * 64 * 48)
    spent = metadata.Spent()
    photos = [(_samples()["jpeg"], "a.jpg"), (_png(_noise("RGB", (64, 48))), "b.png")]
    for data, name in photos:
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (64, 48)
        assert _strip_within(data, name, budget, spent)[0].outcome is StripOutcome.STRIPPED
    assert spent.pixels == 2 * 64 * 48
    assert _strip_within(_samples()["jpeg"], "c.jpg", budget, spent)[0].outcome is (
        StripOutcome.STRIPPED
    )
    # The fourth picture takes the form over its budget, whatever its kind.
    with pytest.raises(UnsafeFile) as refused:
        _strip_within(_webp(_noise("RGB", (2, 2)), lossless=True), "d.webp", budget, spent)
    assert refused.value.refusal is metadata.Refusal.TOGETHER


def _pdf_of_pages(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=100, height=100)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_pdf_page_budget_takes_as_many_pages_and_refuses_one_more() -> None:
    data = _pdf_of_pages(30)
    result, cleaned = _strip_within(data, "report.pdf", replace(DEFAULT, pdf_pages=30))
    assert result.outcome is StripOutcome.STRIPPED
    assert len(PdfReader(io.BytesIO(cleaned)).pages) == 30

    refusal = _refusal(data, "report.pdf", replace(DEFAULT, pdf_pages=29))
    assert refusal is metadata.Refusal.TOO_MUCH_INSIDE


def _page_count_declared(data: bytes, declared: bytes) -> bytes:
    """The 30-page PDF with its page tree's /Count changed (to two characters: same length)."""
    count = re.search(rb"/Count 30\b", data)
    assert count is not None and len(declared) == 2
    return data[: count.start()] + b"/Count " + declared + data[count.end() :]


def test_a_pdf_whose_page_tree_understates_its_pages_is_counted_by_its_pages() -> None:
    data = _page_count_declared(_pdf_of_pages(30), b"1 ")

    refusal = _refusal(data, "report.pdf", replace(DEFAULT, pdf_pages=29, pdf_objects=10**6))
    assert refusal is metadata.Refusal.TOO_MUCH_INSIDE


def test_a_pdf_whose_page_tree_declares_too_many_pages_is_refused_before_they_are_walked() -> None:
    # The declared count is read first: walking 100,000 page objects is what costs.
    data = _page_count_declared(_pdf_of_pages(30), b"99")

    refusal = _refusal(data, "report.pdf", replace(DEFAULT, pdf_pages=50))
    assert refusal is metadata.Refusal.TOO_MUCH_INSIDE


def test_the_pdf_object_budget_is_read_from_the_trailer_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pikepdf

    data = _pdf_of_pages(30)
    with PdfReader(io.BytesIO(data)) as reader:
        objects = int(reader.trailer["/Size"])
    result, _ = _strip_within(data, "report.pdf", replace(DEFAULT, pdf_objects=objects))
    assert result.outcome is StripOutcome.STRIPPED

    # Over the budget, the parser (whose memory grows with the objects) is never started.
    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the PDF was parsed")

    monkeypatch.setattr(pikepdf, "open", no_parsing)
    refusal = _refusal(data, "report.pdf", replace(DEFAULT, pdf_objects=objects - 1))
    assert refusal is metadata.Refusal.TOO_MUCH_INSIDE


def test_a_compressed_bomb_inside_a_pdf_is_copied_not_inflated() -> None:
    # 64 MiB of zeros as one deflated content stream: copied as its compressed bytes.
    writer = PdfWriter()
    page = writer.add_blank_page(width=100, height=100)
    stream = StreamObject()
    stream._data = zlib.compress(bytes(64 * 1024 * 1024), 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    assert len(data) < 200 * 1024

    tracemalloc.start()
    try:
        result, cleaned = _strip_within(data, "bomb.pdf", DEFAULT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome is StripOutcome.STRIPPED
    assert len(cleaned) < 200 * 1024
    assert peak < 16 * 1024 * 1024


def test_office_zip_bomb_by_compression_ratio_is_unsafe_at_real_limits() -> None:
    members = _standard_members("docx")
    members["word/media/zeros.bin"] = bytes(8 * 1024 * 1024)
    data = _zip(members)
    assert len(data) < 64 * 1024  # 8 MB of zeros deflate to a few kilobytes

    assert _refusal(data, "bomb.docx") is metadata.Refusal.TOO_MUCH_INSIDE


def test_office_zip_bomb_by_declared_size_is_unsafe_at_real_limits() -> None:
    # 6 MB of incompressible data declared as just over the limit: a ratio under the limit,
    # so only the bound on the unpacked size can catch it.
    members = _standard_members("docx")
    members["word/media/video.bin"] = random.Random(7).randbytes(6 * 1024 * 1024)
    data = _zip(members, compression=zipfile.ZIP_STORED)
    data = _with_declared_size(data, "word/media/video.bin", DEFAULT.unpacked_bytes + 1)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        declared = sum(info.file_size for info in package.infolist())
    assert DEFAULT.unpacked_bytes < declared < DEFAULT.compression_ratio * len(data)

    assert _refusal(data, "bomb.docx") is metadata.Refusal.TOO_MUCH_INSIDE


def test_office_bytes_are_counted_as_really_unpacked_not_as_declared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Declared sizes can lie: every member here declares 10 bytes, so the declared total is
    # far under the budget, but the members really hold 64 KiB each. zipfile would stop at
    # the declared size (and then fail on the CRC); made to read on, as a zip library that
    # trusts the data (or a future zipfile) does, only the count of real bytes stops it.
    members = _standard_members("docx")
    members["word/media/a.bin"] = bytes(64 * 1024)
    members["word/media/b.bin"] = bytes(64 * 1024)
    data = _zip(members)
    for name in ("word/media/a.bin", "word/media/b.bin"):
        data = _with_declared_size(data, name, 10)
    budget = replace(DEFAULT, unpacked_bytes=100 * 1024, compression_ratio=10**6)
    original_open = zipfile.ZipFile.open

    def open_reading_on(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(name, zipfile.ZipInfo) and name.filename.endswith(".bin"):
            name = copy.copy(name)
            name.file_size = 64 * 1024  # read what is really there
        return original_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_reading_on)
    assert _refusal(data, "bomb.docx", budget) is metadata.Refusal.TOO_MUCH_INSIDE


def test_office_unpacked_bytes_of_a_form_are_counted_together() -> None:
    members = _standard_members("docx")
    members["word/media/zeros.bin"] = bytes(64 * 1024)
    data = _zip(members)
    size = sum(len(payload) for name, payload in members.items() if "docProps" not in name)
    budget = replace(DEFAULT, request_unpacked_bytes=size + size // 2)
    spent = metadata.Spent()
    assert _strip_within(data, "a.docx", budget, spent)[0].outcome is StripOutcome.STRIPPED
    with pytest.raises(UnsafeFile) as refused:
        _strip_within(data, "b.docx", budget, spent)
    assert refused.value.refusal is metadata.Refusal.TOGETHER


def _empty_members_zip(names: list[str]) -> bytes:
    """A valid zip of empty stored members, written directly (zipfile is slow at 10,000)."""
    local, central, offset = [], [], 0
    for name in (n.encode() for n in names):
        fields = (0, 0, 0, 33, 0, 0, 0, len(name), 0)  # flags .. extra length; 1980-01-01
        header = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, *fields) + name
        central.append(
            struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, *fields, 0, 0, 0, 0, offset) + name
        )
        local.append(header)
        offset += len(header)
    directory = b"".join(central)
    end = struct.pack(
        "<4s4H2IH", b"PK\x05\x06", 0, 0, len(names), len(names), len(directory), offset, 0
    )
    return b"".join(local) + directory + end


def test_office_package_with_too_many_members_is_unsafe_at_real_limits() -> None:
    names = ["[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml"]
    names += [f"ppt/slides/_/{n}.xml" for n in range(DEFAULT.office_members - len(names) + 1)]
    assert len(names) == DEFAULT.office_members + 1
    data = _empty_members_zip(names)

    assert _refusal(data, "bomb.pptx") is metadata.Refusal.TOO_MUCH_INSIDE


@pytest.mark.parametrize("limit", ["office_members", "unpacked_bytes", "compression_ratio"])
def test_office_limits_accept_a_package_at_the_limit_and_refuse_one_over(limit: str) -> None:
    members = _standard_members("docx")
    members["word/media/zeros.bin"] = bytes(64 * 1024)
    data = _zip(members)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        unpacked = sum(info.file_size for info in package.infolist())
    at_limit = {
        "office_members": len(members),
        "unpacked_bytes": unpacked,
        "compression_ratio": math.ceil(unpacked / len(data)),
    }[limit]
    assert at_limit < getattr(DEFAULT, limit)

    result, cleaned = _strip_within(data, "report.docx", replace(DEFAULT, **{limit: at_limit}))
    assert result.outcome is StripOutcome.STRIPPED
    assert all(_markers_in(part) == [] for part in _unpacked(cleaned).values())

    over = replace(DEFAULT, **{limit: at_limit - 1})
    assert _refusal(data, "report.docx", over) is metadata.Refusal.TOO_MUCH_INSIDE


# --- Properties: never an unexpected exception, never a changed file unless stripped ---------

NAMES = [
    "file.jpg",
    "file.jpeg",
    "file.png",
    "file.webp",
    "file.pdf",
    "file.docx",
    "file.xlsx",
    "file.pptx",
    "FILE.DOCX",
    "file.txt",
    "file.csv",
    "file.zip",
    "file.mp4",
    "file",
]
MAGICS = [
    b"",
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe1",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"RIFF\x00\x01\x00\x00WEBP",
    b"RIFF\x00\x01\x00\x00WEBPVP8L",
    b"%PDF-",
    b"%PDF-1.7\n",
    b"PK\x03\x04",
]


def _check_contract(data: bytes, filename: str) -> StripResult | None:
    output = io.BytesIO()
    try:
        result = strip_metadata(io.BytesIO(data), output, filename)
    except UnsafeFile:
        return None
    assert result.kind == sniff_kind(data[:64], filename)
    if result.outcome is StripOutcome.STRIPPED:
        assert result.kind in REWRITTEN_KINDS
    else:
        assert output.getvalue() == data
        expected_failed = result.kind in REWRITTEN_KINDS
        assert (result.outcome is StripOutcome.FAILED) is expected_failed
    return result


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.sampled_from(MAGICS),
    body=st.binary(max_size=1024),
    filename=st.sampled_from(NAMES),
)
def test_arbitrary_bytes_never_raise_and_are_kept_unless_stripped(
    prefix: bytes, body: bytes, filename: str
) -> None:
    _check_contract(prefix + body, filename)


@settings(max_examples=150, deadline=None)
@given(
    sample=st.sampled_from(["jpeg", "png", "webp-lossy", "webp-lossless", "pdf", "docx"]),
    cut=st.floats(min_value=0.0, max_value=1.0),
    edits=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
    filename=st.sampled_from(NAMES),
)
def test_damaged_real_files_never_raise_and_are_kept_unless_stripped(
    sample: str, cut: float, edits: list[tuple[float, int]], filename: str
) -> None:
    data = bytearray(_samples()[sample])
    del data[max(1, int(len(data) * cut)) :]
    for where, value in edits:
        data[min(int(len(data) * where), len(data) - 1)] = value
    _check_contract(bytes(data), filename)


@pytest.mark.parametrize("sample", ["jpeg", "png", "webp-lossy", "webp-lossless", "pdf", "docx"])
def test_every_sample_is_stripped_of_every_marker(sample: str) -> None:
    data = _samples()[sample]
    assert _markers_in(data)
    name = "x." + sample.split("-")[0]
    result, cleaned = _strip(data, name)
    assert result.outcome is StripOutcome.STRIPPED
    if sample == "docx":
        for payload in _unpacked(cleaned).values():
            assert _markers_in(payload) == []
    assert _markers_in(cleaned) == []


# --- Through the upload path (whistle/web/uploads.py), which needs no app or database ------------


def _spooled(data: bytes, filename: str) -> FileStorage:
    """An upload as Werkzeug hands it over: written to the encrypted spool, rewound."""
    spool = uploads.EncryptedSpool(hard_limit=16 * 1024 * 1024)
    spool.write(data)
    spool.seek(0)
    return FileStorage(stream=spool, filename=filename)  # type: ignore[arg-type]


def test_upload_path_strips_a_photo_and_keeps_other_files_whole() -> None:
    photo = _samples()["jpeg"]
    text = "Jeg s\u00e5 det den 2. marts.\n".encode()
    unknown = random.Random(9).randbytes(2048)
    damaged = b"%PDF-1.7\n" + random.Random(10).randbytes(256)
    files = [
        _spooled(data, name)
        for name, data in [
            ("photo.txt", photo),
            ("notes.txt", text),
            ("clip.mp4", unknown),
            ("report.pdf", damaged),
        ]
    ]
    try:
        batch = uploads.prepare_uploads(
            files, max_file_bytes=1 << 20, max_total_bytes=1 << 22, max_files=5
        )
        assert batch.acceptable
        prepared = {p.name: p for p in batch.prepared}

        assert prepared["photo.txt"].metadata_outcome == StripOutcome.STRIPPED.value
        cleaned = prepared["photo.txt"].data.read()
        assert _markers_in(cleaned) == []
        with Image.open(io.BytesIO(cleaned)) as image:
            assert image.size == (64, 48) and len(image.getexif()) == 0
        assert prepared["notes.txt"].metadata_outcome == StripOutcome.NOT_NEEDED.value
        assert prepared["notes.txt"].data.read() == text
        assert prepared["clip.mp4"].metadata_outcome == StripOutcome.UNSUPPORTED.value
        assert prepared["clip.mp4"].data.read() == unknown
        assert prepared["report.pdf"].metadata_outcome == StripOutcome.FAILED.value
        assert prepared["report.pdf"].data.read() == damaged
    finally:
        for upload in files:
            upload.stream.close()


def test_upload_batch_refuses_a_bomb_and_strips_the_rest() -> None:
    files = [
        _spooled(_samples()["docx"], "report.docx"),
        _spooled(_crafted_png(20000, 20000), "bomb.png"),
        _spooled(_samples()["pdf"], "scan.pdf"),
    ]
    try:
        batch = uploads.prepare_uploads(
            files, max_file_bytes=16 * 1024 * 1024, max_total_bytes=64 * 1024 * 1024, max_files=5
        )
        assert batch.problems == [uploads.UploadProblem("bomb.png", "unsafe")]
        assert not batch.acceptable
        assert [p.name for p in batch.prepared] == ["report.docx", "scan.pdf"]
        assert all(p.metadata_outcome == StripOutcome.STRIPPED.value for p in batch.prepared)
        docx, pdf = (p.data.read() for p in batch.prepared)
        assert all(_markers_in(part) == [] for part in _unpacked(docx).values())
        assert _markers_in(pdf) == []
        assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    finally:
        for upload in files:
            upload.stream.close()
