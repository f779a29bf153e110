"""Files for the upload tests, written directly and fast: a PDF of many pages that costs a
parser seconds and megabytes, blank PNGs whose pixel data is really there, and tiny PNGs whose
header claims a size they do not have (a decompression bomb's)."""

from __future__ import annotations

import struct
import zlib
from functools import cache

# Pages enough to run the upload helper past small injected limits (about 1.3 MB of PDF).
BIG_PDF_PAGES = 20_000


@cache
def pdf_of_pages(pages: int) -> bytes:
    """A valid PDF of ``pages`` blank pages, written directly (fast at tens of thousands): a
    few hundred kilobytes that cost a PDF parser seconds and a hundred megabytes."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count %d /Kids [" % pages
        + b" ".join(b"%d 0 R" % (n + 3) for n in range(pages))
        + b"] >>",
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"] * pages
    parts, offsets, position = [b"%PDF-1.4\n"], [], 9
    for number, body in enumerate(objects, start=1):
        part = b"%d 0 obj\n" % number + body + b"\nendobj\n"
        offsets.append(position)
        parts.append(part)
        position += len(part)
    parts.append(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    parts += [b"%010d 00000 n \n" % offset for offset in offsets]
    parts.append(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, position)
    )
    return b"".join(parts)


def png(width: int, height: int) -> bytes:
    """A blank greyscale PNG, its pixel data really there (a few kilobytes, deflated)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = zlib.compress(bytes(width + 1) * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose header claims ``width`` x ``height``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )
