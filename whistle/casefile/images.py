"""Removing hidden information from JPEG, PNG and WebP at the container level.

No pixel is decoded: the file is walked segment by segment (JPEG) or chunk by chunk (PNG,
WebP) and only a whitelist of what pictures are drawn from is copied, a piece at a time. So
a picture costs time in proportion to its bytes, whatever its pixels (a 77 KB PNG declaring
8,900 x 8,900 blank pixels is 77 KB of work), memory stays constant, photos keep their exact
pixels (lossless stays lossless, animations keep every frame), and sizes and frame counts
are read from the headers and checked against the budget (whistle/casefile/file_budget.py)
before anything is copied.

- JPEG: kept are the frame, table, restart and scan segments with their scan data, APP0
  JFIF without its thumbnail, APP2 ICC profile and APP14 Adobe (colour transform). Dropped
  are every other APPn (EXIF with GPS and serial numbers, XMP, IPTC, MPF), comments, and
  everything after the primary picture's end (the further pictures of an MPO, trailing
  data). The EXIF orientation is kept in a new EXIF segment holding only that tag (built
  with Pillow's ``Image.Exif``), so photos stay upright without re-encoding.
- PNG: kept are the critical chunks and iCCP, gAMA, cHRM, sRGB, cICP, mDCV, cLLI, sBIT,
  pHYs, bKGD, tRNS and the animation chunks (acTL, fcTL, fdAT); dropped are text (tEXt,
  zTXt, iTXt), eXIf, tIME and every unknown ancillary chunk. CRCs are checked.
- WebP: EXIF and XMP chunks and unknown chunks (also inside animation frames) are
  dropped, and the VP8X flags and RIFF size are fixed to match.

A file that does not follow its format (cut short, a bad CRC, an unknown critical chunk)
raises ``ValueError``: the caller keeps it whole and warns the reporter.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from typing import BinaryIO

from whistle.casefile.file_budget import Budget, Spent, check_picture

_PIECE = 64 * 1024


def _read_exact(src: BinaryIO, size: int) -> bytes:
    data = src.read(size)
    if len(data) != size:
        while data and len(data) < size:
            more = src.read(size - len(data))
            if not more:
                break
            data += more
        if len(data) != size:
            raise ValueError("file cut short")
    return data


def _copy(src: BinaryIO, out: BinaryIO, size: int, crc: int | None = None) -> int | None:
    """Copy ``size`` bytes a piece at a time; returns the running CRC-32 if one was given."""
    while size > 0:
        piece = _read_exact(src, min(size, _PIECE))
        out.write(piece)
        if crc is not None:
            crc = zlib.crc32(piece, crc)
        size -= len(piece)
    return crc


# --- JPEG -----------------------------------------------------------------------------------

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
# Start-of-frame markers (baseline, extended, progressive, lossless, hierarchical,
# arithmetic) and JPEG-LS's SOF55: the frame header gives the picture's size.
_FRAMES = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), 0xCD, 0xCE})
_FRAMES = _FRAMES | {0xCF, 0xF7}
# Tables, restart interval, number of lines, hierarchical progression, expansion, JPEG-LS.
_TABLES = frozenset({0xC4, 0xCC, 0xDB, 0xDD, 0xDC, 0xDE, 0xDF, 0xF8})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_APP0, _APP1, _APP2, _APP14 = 0xE0, 0xE1, 0xE2, 0xEE
_ORIENTATION = 0x0112
# Headers are small; a file whose kept headers run past this is not a photo.
_MAX_HEADER_BYTES = 16 * 1024 * 1024


class _ScanReader:
    """Reads a JPEG's segments and copies entropy-coded scan data up to the next marker."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self._buffer = b""
        self._pos = 0

    def _fill(self) -> bool:
        data = self._src.read(_PIECE)
        if not data:
            return False
        self._buffer = self._buffer[self._pos :] + data
        self._pos = 0
        return True

    def read(self, size: int) -> bytes:
        while len(self._buffer) - self._pos < size:
            if not self._fill():
                raise ValueError("file cut short")
        data = self._buffer[self._pos : self._pos + size]
        self._pos += size
        return data

    def marker(self) -> int:
        """The next marker code (fill bytes skipped)."""
        if self.read(1) != b"\xff":
            raise ValueError("marker expected")
        code = self.read(1)[0]
        while code == 0xFF:
            code = self.read(1)[0]
        return code

    def copy_scan(self, out: BinaryIO) -> int:
        """Copy scan data (with its stuffed bytes and restart markers) to ``out``; return the
        marker that ends it, consumed."""
        while True:
            found = self._buffer.find(b"\xff", self._pos)
            while found >= 0 and found + 1 < len(self._buffer):
                code = self._buffer[found + 1]
                if code == 0x00 or 0xD0 <= code <= 0xD7:
                    found = self._buffer.find(b"\xff", found + 2)
                elif code == 0xFF:
                    found += 1  # fill byte before a marker
                else:
                    out.write(self._buffer[self._pos : found])
                    self._pos = found + 2
                    return code
            keep = len(self._buffer) - 1 if found >= 0 else len(self._buffer)
            out.write(self._buffer[self._pos : keep])
            self._pos = keep
            if not self._fill():
                raise ValueError("scan data cut short")


def _segment(code: int, payload: bytes) -> bytes:
    return b"\xff" + bytes((code,)) + struct.pack(">H", len(payload) + 2) + payload


def _orientation(payload: bytes) -> int:
    """The EXIF orientation (1 to 8) in an APP1 payload, 1 if there is none or it is bad."""
    from PIL import Image  # here, not at the top: only a photo with EXIF needs it

    exif = Image.Exif()
    try:
        with warnings.catch_warnings():  # Pillow warns of damaged tags; they are dropped
            warnings.simplefilter("ignore")
            exif.load(payload)
            value = exif.get(_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - damaged EXIF: it is dropped anyway
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orientation_segment(orientation: int) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    return _segment(_APP1, exif.tobytes())


def strip_jpeg(src: BinaryIO, out: BinaryIO, budget: Budget, spent: Spent) -> None:
    """Copy the primary picture of a JPEG with only the segments needed to draw it."""
    reader = _ScanReader(src)
    if reader.read(2) != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out.write(b"\xff\xd8")
    orientation = 1
    held: list[bytes] = []  # kept header segments, written once the orientation is known
    held_bytes = 0
    started = False  # the first frame header was seen: header segments are written at once
    code = reader.marker()
    while True:
        if code == _EOI:
            if not started:
                raise ValueError("no picture")
            out.write(b"\xff\xd9")
            return
        if code in _STANDALONE or code == _SOI:
            raise ValueError("marker out of place")
        length = struct.unpack(">H", reader.read(2))[0]
        if length < 2:
            raise ValueError("bad segment length")
        payload = reader.read(length - 2)
        kept: bytes | None = None
        if code in _FRAMES:
            if len(payload) < 5:
                raise ValueError("bad frame header")
            height, width = struct.unpack(">HH", payload[1:5])
            check_picture(width, height, 1, width * height, budget)
            spent.add_pixels(width * height, budget)
            kept = _segment(code, payload)
        elif code in _TABLES or code == _SOS:
            kept = _segment(code, payload)
        elif code == _APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            kept = _segment(code, payload[:12] + b"\x00\x00")  # no thumbnail
        elif code == _APP1 and payload.startswith(b"Exif\x00\x00") and orientation == 1:
            orientation = _orientation(payload)
        elif (code == _APP2 and payload.startswith(b"ICC_PROFILE\x00")) or (
            code == _APP14 and payload.startswith(b"Adobe")
        ):
            kept = _segment(code, payload)
        # Everything else (other APPn, comments, unknown markers) is dropped.
        if kept is not None:
            if (code in _FRAMES or code == _SOS) and not started:
                started = True
                jfif = [s for s in held if s[1] == _APP0]
                out.write(b"".join(jfif))
                if orientation != 1:
                    out.write(_orientation_segment(orientation))
                out.write(b"".join(s for s in held if s[1] != _APP0))
                held = []
            if started:
                out.write(kept)
            else:
                held.append(kept)
                held_bytes += len(kept)
                if held_bytes > _MAX_HEADER_BYTES:
                    raise ValueError("headers too large")
        if code == _SOS:
            if not started:
                raise ValueError("scan before frame")
            code = reader.copy_scan(out)
        else:
            code = reader.marker()


# --- PNG ------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_PNG_KEPT = _PNG_CRITICAL | {
    b"tRNS",
    b"iCCP",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"cICP",
    b"mDCV",
    b"cLLI",
    b"sBIT",
    b"pHYs",
    b"bKGD",
    b"acTL",
    b"fcTL",
    b"fdAT",
}
_MAX_PNG_CHUNK = 0x7FFFFFFF


def strip_png(src: BinaryIO, out: BinaryIO, budget: Budget, spent: Spent) -> None:
    """Copy a PNG's picture chunks, dropping text, EXIF, time and unknown ancillary chunks."""
    if _read_exact(src, 8) != _PNG_SIGNATURE:
        raise ValueError("not a PNG")
    out.write(_PNG_SIGNATURE)
    width = height = 0
    declared_frames = frames = 0
    while True:
        length, kind = struct.unpack(">I4s", _read_exact(src, 8))
        if length > _MAX_PNG_CHUNK or not kind.isalpha():
            raise ValueError("bad chunk")
        if width == 0 and kind != b"IHDR":
            raise ValueError("IHDR must come first")
        if kind == b"IHDR" or kind == b"acTL" or kind == b"fcTL":
            payload = _read_exact(src, length)
            if zlib.crc32(kind + payload) != struct.unpack(">I", _read_exact(src, 4))[0]:
                raise ValueError("bad CRC")
            if kind == b"IHDR":
                if width or length != 13:
                    raise ValueError("bad IHDR")
                width, height = struct.unpack(">II", payload[:8])
                check_picture(width, height, 1, width * height, budget)
                spent.add_pixels(width * height, budget)
            elif kind == b"acTL":
                if declared_frames or length != 8:
                    raise ValueError("bad acTL")
                declared_frames = struct.unpack(">I", payload[:4])[0]
                pixels = declared_frames * width * height
                check_picture(width, height, declared_frames, pixels, budget)
                spent.add_pixels(max(declared_frames - 1, 0) * width * height, budget)
            else:
                if length != 26:
                    raise ValueError("bad fcTL")
                frame_width, frame_height = struct.unpack(">II", payload[4:12])
                if frame_width > width or frame_height > height:
                    raise ValueError("frame larger than the picture")
                frames += 1
                check_picture(width, height, frames, frames * width * height, budget)
                if frames > max(declared_frames, 1):  # more frames than acTL said
                    spent.add_pixels(width * height, budget)
            out.write(struct.pack(">I", length) + kind + payload)
            out.write(struct.pack(">I", zlib.crc32(kind + payload)))
        elif kind in _PNG_KEPT:
            header = struct.pack(">I", length) + kind
            out.write(header)
            crc = _copy(src, out, length, zlib.crc32(kind))
            stored = _read_exact(src, 4)
            if crc != struct.unpack(">I", stored)[0]:
                raise ValueError("bad CRC")
            out.write(stored)
        elif kind[0:1].isupper():
            raise ValueError("unknown critical chunk")
        else:
            src.seek(length + 4, 1)  # dropped: text, EXIF, time, unknown ancillary chunks
        if kind == b"IEND":
            return  # anything after the end is dropped


# --- WebP -----------------------------------------------------------------------------------

_WEBP_KEPT = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ICCP", b"ANIM", b"ANMF"})
_FRAME_KEPT = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _riff_chunks(src: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(fourcc, payload offset, payload size) of the chunks between ``start`` and ``end``."""
    chunks = []
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise ValueError("chunk cut short")
        src.seek(pos)
        fourcc, size = struct.unpack("<4sI", _read_exact(src, 8))
        if pos + 8 + size > end:
            raise ValueError("chunk cut short")
        chunks.append((fourcc, pos + 8, size))
        pos += 8 + size + (size & 1)
        if len(chunks) > 1_000_000:
            raise ValueError("too many chunks")
    return chunks


def _size24(src: BinaryIO, offset: int) -> tuple[int, int]:
    """A width and height stored as 24-bit little-endian values minus one (VP8X, ANMF)."""
    src.seek(offset)
    dims = _read_exact(src, 6)
    return int.from_bytes(dims[:3], "little") + 1, int.from_bytes(dims[3:], "little") + 1


def _bitstream_size(src: BinaryIO, fourcc: bytes, offset: int, size: int) -> tuple[int, int]:
    src.seek(offset)
    head = _read_exact(src, min(size, 10))
    if fourcc == b"VP8L" and len(head) >= 5 and head[0] == 0x2F:
        bits = int.from_bytes(head[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if fourcc == b"VP8 " and len(head) == 10 and head[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[6:10])
        return width & 0x3FFF, height & 0x3FFF
    raise ValueError("bad bitstream header")


def strip_webp(src: BinaryIO, out: BinaryIO, budget: Budget, spent: Spent) -> None:
    """Copy a WebP without its EXIF, XMP and unknown chunks, fixing the sizes and flags."""
    riff, riff_size, webp = struct.unpack("<4sI4s", _read_exact(src, 12))
    if riff != b"RIFF" or webp != b"WEBP":
        raise ValueError("not a WebP")
    end = src.seek(0, 2)
    if 8 + riff_size > end:
        raise ValueError("file cut short")
    chunks = _riff_chunks(src, 12, 8 + riff_size)
    if not chunks:
        raise ValueError("no picture")
    # Each kept chunk, with the sub-chunks kept of an animation frame: sized before copying,
    # since the RIFF header, written first, gives the total.
    plan: list[tuple[bytes, int, int, list[tuple[bytes, int, int]]]] = []
    width = height = frames = frame_pixels = 0
    for fourcc, offset, size in chunks:
        if fourcc not in _WEBP_KEPT:
            continue
        inner: list[tuple[bytes, int, int]] = []
        if fourcc == b"VP8X":
            if size < 10:
                raise ValueError("bad VP8X")
            width, height = _size24(src, offset + 4)
            check_picture(width, height, 1, width * height, budget)
        elif fourcc == b"ANMF":
            if size < 16:
                raise ValueError("bad frame")
            frame_width, frame_height = _size24(src, offset + 6)
            if not width or frame_width > width or frame_height > height:
                raise ValueError("frame outside the canvas")
            frames += 1
            frame_pixels += frame_width * frame_height
            check_picture(width, height, frames, frame_pixels, budget)
            inner = [
                c for c in _riff_chunks(src, offset + 16, offset + size) if c[0] in _FRAME_KEPT
            ]
        elif fourcc in (b"VP8 ", b"VP8L") and not width:
            width, height = _bitstream_size(src, fourcc, offset, size)
            check_picture(width, height, 1, width * height, budget)
        plan.append((fourcc, offset, size, inner))
    if not width:
        raise ValueError("no picture")
    spent.add_pixels(frame_pixels or width * height, budget)

    def padded(size: int) -> int:
        return 8 + size + (size & 1)

    def frame_size(inner: list[tuple[bytes, int, int]]) -> int:
        return 16 + sum(padded(size) for _, _, size in inner)

    total = 4 + sum(
        padded(frame_size(inner) if fourcc == b"ANMF" else size) for fourcc, _, size, inner in plan
    )
    out.write(struct.pack("<4sI4s", b"RIFF", total, b"WEBP"))
    for fourcc, offset, size, inner in plan:
        src.seek(offset)
        if fourcc == b"VP8X":
            payload = bytearray(_read_exact(src, size))
            payload[0] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
            out.write(struct.pack("<4sI", fourcc, size) + payload + b"\x00" * (size & 1))
        elif fourcc == b"ANMF":
            new_size = frame_size(inner)
            out.write(struct.pack("<4sI", fourcc, new_size) + _read_exact(src, 16))
            for sub, sub_offset, sub_size in inner:
                src.seek(sub_offset)
                out.write(struct.pack("<4sI", sub, sub_size))
                _copy(src, out, sub_size)
                out.write(b"\x00" * (sub_size & 1))
        else:
            out.write(struct.pack("<4sI", fourcc, size))
            _copy(src, out, size)
            out.write(b"\x00" * (size & 1))
