"""Files that are small to send and costly to open, made in well under a second each, as an
attacker would make them (issue 17): each stays just inside the limits the app checks before
it decodes anything, so only a budget on the work itself stops it.

- :func:`huge_png`: a blank 8,900 x 8,900 greyscale PNG (79 megapixels, under the 80 million
  pixel limit), about 77 KB;
- :func:`animated_png`: an APNG of 99 blank 2,000 x 2,000 frames (396 million pixels in all,
  under the 400 million limit), a few hundred KB;
- :func:`docx_bomb`: a Word document whose body inflates to 1 GiB at a ratio under 200 (the
  archive check's limit), about 6 MB;
- :func:`many_pages_pdf`: a valid PDF of 100,000 empty pages, about 9 MB.

Nothing in them is real; they carry no person's data.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _blank_rows(width: int, height: int) -> bytes:
    """zlib data of ``height`` greyscale rows of ``width`` zero pixels (filter byte 0 each)."""
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)
    out = [compressor.compress(row * 256) for _ in range(height // 256)]
    out.append(compressor.compress(row * (height % 256)))
    out.append(compressor.flush())
    return b"".join(out)


def _ihdr(width: int, height: int) -> bytes:
    # 8-bit greyscale, deflate, adaptive filtering, no interlace.
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))


def huge_png(width: int = 8900, height: int = 8900) -> bytes:
    return (
        PNG_SIGNATURE
        + _ihdr(width, height)
        + _chunk(b"IDAT", _blank_rows(width, height))
        + _chunk(b"IEND", b"")
    )


def animated_png(frames: int = 99, side: int = 2000) -> bytes:
    data = _blank_rows(side, side)
    parts = [PNG_SIGNATURE, _ihdr(side, side), _chunk(b"acTL", struct.pack(">II", frames, 0))]
    sequence = 0

    def control() -> bytes:
        # fcTL: sequence, width, height, x, y, delay 1/10 s, dispose none, blend source.
        return _chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, side, side, 0, 0, 1, 10, 0, 0))

    parts.append(control())
    sequence += 1
    parts.append(_chunk(b"IDAT", data))
    for _ in range(frames - 1):
        parts.append(control())
        sequence += 1
        parts.append(_chunk(b"fdAT", struct.pack(">I", sequence) + data))
        sequence += 1
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _deflate(data: bytes, final: bool) -> bytes:
    """Raw deflate of ``data`` as blocks that need no earlier history (a full flush), so
    copies of the result can follow each other in one stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(
        zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH
    )


def _zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip archive of already deflated members: (name, deflated, crc32, inflated size)."""
    local, central = bytearray(), bytearray()
    for name, deflated, crc, size in members:
        encoded = name.encode()
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(deflated),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                len(local),
            )
            + encoded
        )
        local += (
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(deflated),
                size,
                len(encoded),
                0,
            )
            + encoded
            + deflated
        )
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0
    )
    return bytes(local + central + end)


def _member(name: str, text: bytes) -> tuple[str, bytes, int, int]:
    return name, _deflate(text, final=True), zlib.crc32(text), len(text)


def docx_bomb(inflated_mib: int = 1023) -> bytes:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document {w}><w:body>'.encode()
    tail = b"</w:body></w:document>"
    # Paragraphs that vary a little, so the ratio stays near 160 rather than deflate's 1,000.
    paragraph = "".join(
        f"<w:p><w:r><w:t>Fake filler paragraph {n % 97} of nothing real.</w:t></w:r></w:p>"
        for n in range(400)
    ).encode()
    chunk = (paragraph * (2**20 // len(paragraph) + 1))[: 2**20]
    block = _deflate(chunk, final=False)
    crc = zlib.crc32(head)
    for _ in range(inflated_mib):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    body = _deflate(head, final=False) + block * inflated_mib + _deflate(tail, final=True)
    types = (
        b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        b'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
        b'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        b'"application/xml"/><Override PartName="/word/document.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override '
        b'PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.'
        b'core-properties+xml"/></Types>'
    )
    rels = (
        b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        b'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        b'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
        b'"word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
        b'package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        b"</Relationships>"
    )
    core = (
        b'<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.'
        b'openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/'
        b'dc/elements/1.1/"><dc:creator>Fake Author</dc:creator></cp:coreProperties>'
    )
    return _zip(
        [
            _member("[Content_Types].xml", types),
            _member("_rels/.rels", rels),
            ("word/document.xml", body, crc, len(head) + inflated_mib * 2**20 + len(tail)),
            _member("docProps/core.xml", core),
        ]
    )


def many_pages_pdf(pages: int = 100_000) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []

    def obj(number: int, body: bytes) -> None:
        offsets.append(len(out))
        out.extend(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % (3 + n) for n in range(pages))
    obj(2, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"
    for n in range(pages):
        obj(3 + n, page)
    xref = len(out)
    out.extend(b"xref\n0 %d\n0000000000 65535 f \n" % (pages + 3))
    out.extend(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.extend(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (pages + 3, xref))
    return bytes(out)
