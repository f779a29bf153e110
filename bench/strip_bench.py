"""Benchmark of checking uploaded files: issue 17's attack files and honest large ones,
through :func:`whistle.web.uploads.prepare_uploads` in a process of their own, without HTTP.

Run from the repository root: ``.venv/bin/python bench/strip_bench.py`` (``--quick`` skips
the 1 GiB file). It takes about a minute. This is a script, not a test. For each case it
prints the outcome, the wall time, the peak resident memory of the process that prepared the
files (a stand-in for a web worker: it spools the upload from disk, prepares it and reads the
result through, as the case's store would) and the upload helper's own peak (its VmHWM, which
does not count the parent's memory at the fork). The HTTP benchmark through gunicorn is
another script's; this one isolates the cost of checking files. ``--write FOLDER`` only writes
the files, for ``bench/upload_bench.py --file FOLDER/<name>`` to send one through gunicorn.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(width: int, height: int) -> bytes:
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)
    rows = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def animated_png(width: int, height: int, frames: int) -> bytes:
    """Blank frames of ``width`` x ``height``: the kind of file that once held a worker 29 s."""
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)
    rows = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    parts = [
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
    ]
    parts.append(_chunk(b"acTL", struct.pack(">II", frames, 0)))
    sequence = 0
    for frame in range(frames):
        control = struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, 1, 10, 0, 0)
        parts.append(_chunk(b"fcTL", control))
        sequence += 1
        if frame == 0:
            parts.append(_chunk(b"IDAT", rows))
        else:
            parts.append(_chunk(b"fdAT", struct.pack(">I", sequence) + rows))
            sequence += 1
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def pdf_of_pages(pages: int) -> bytes:
    sys.path.insert(0, str(ROOT))
    from tests.steps.upload_files import pdf_of_pages as make

    return make(pages)


def scanned_pdf(path: Path, pages: int, page_bytes: int) -> None:
    import pikepdf

    pdf = pikepdf.new()
    for _ in range(pages):
        image = pikepdf.Stream(pdf, os.urandom(page_bytes))
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = 1000, 1000, 8
        image.ColorSpace, image.Filter = pikepdf.Name.DeviceGray, pikepdf.Name.DCTDecode
        page = pdf.add_blank_page(page_size=(600, 800))
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
        page.Contents = pikepdf.Stream(pdf, b"q 600 0 0 800 0 0 cm /Im0 Do Q")
    pdf.docinfo["/Author"] = "Fake Author Testperson"
    pdf.save(path)


def pdf_of_objects(path: Path, pages: int, notes_per_page: int) -> None:
    """A small PDF of many objects: ``pages`` pages of one line of text, each with
    ``notes_per_page`` text annotations (objects of their own). Its size is a few MB; what
    costs the cleaner memory is the number of objects (about 2 KiB each in qpdf)."""
    import pikepdf

    pdf = pikepdf.new()
    for number in range(pages):
        page = pdf.add_blank_page(page_size=(600, 800))
        page.Contents = pikepdf.Stream(pdf, b"BT 72 712 Td (Fake page %d) Tj ET" % number)
        notes = pikepdf.Array()
        for note in range(notes_per_page):
            notes.append(
                pdf.make_indirect(
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Annot,
                        Subtype=pikepdf.Name.Text,
                        Rect=[0, 0, 10, 10],
                        Contents=pikepdf.String(f"Fake note {note}"),
                    )
                )
            )
        page.Annots = pdf.make_indirect(notes)
    pdf.docinfo["/Author"] = "Fake Author Testperson"
    pdf.save(path)


def photo_jpeg(path: Path, width: int, height: int) -> None:
    """A camera-sized JPEG of noise (it does not compress) with a camera model and a GPS
    position in its EXIF."""
    from PIL import Image

    picture = Image.frombytes("RGB", (width, height), random.randbytes(width * height * 3))
    exif = Image.Exif()
    exif[0x0110] = "Fake Camera Testmodel"  # Model
    exif[0x8825] = {1: "N", 2: (55.0, 40.0, 0.0)}  # GPS: latitude
    picture.save(path, quality=92, exif=exif)


def inflating_docx(path: Path, unpacked: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", "<w:document/>")
        with package.open("word/media/zeros.bin", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(unpacked >> 20):
                member.write(block)


def make_cases(folder: Path, quick: bool) -> dict[str, list[tuple[str, str]]]:
    png = folder / "blank.png"
    png.write_bytes(blank_png(8900, 8900))
    apng = folder / "moving.png"
    apng.write_bytes(animated_png(1000, 1000, 300))
    many = folder / "many.pdf"
    many.write_bytes(pdf_of_pages(100_000))
    scan = folder / "scan.pdf"
    scanned_pdf(scan, 99, 1_000_000)
    docx = folder / "bomb.docx"
    inflating_docx(docx, 1 << 30)
    photo = folder / "photo.jpg"
    photo_jpeg(photo, 6000, 4000)
    # 2 + pages x (3 + notes) objects: 10,002 and 48,002, under the budget's 50,000.
    objects_10k, objects_48k = folder / "objects-10k.pdf", folder / "objects-48k.pdf"
    pdf_of_objects(objects_10k, 1250, 5)
    pdf_of_objects(objects_48k, 4800, 7)
    cases = {
        "12 blank 8,900 x 8,900 PNGs (77 KB each)": [(str(png), f"b{n}.png") for n in range(12)],
        "3 animated PNGs, 300 frames of 1,000 x 1,000": [
            (str(apng), f"m{n}.png") for n in range(3)
        ],
        "PDF of 100,000 pages": [(str(many), "many.pdf")],
        "scanned PDF, 99 pages": [(str(scan), "scan.pdf")],
        "24-megapixel photo with EXIF": [(str(photo), "photo.jpg")],
        "docx unpacking to 1 GiB": [(str(docx), "bomb.docx")],
        "PDF of 10,002 objects (1,250 pages with notes)": [(str(objects_10k), "notes.pdf")],
        "PDF of 48,002 objects (4,800 pages with notes)": [(str(objects_48k), "notes.pdf")],
    }
    if not quick:
        big = folder / "video.mp4"
        with big.open("wb") as out:
            for _ in range(1024):
                out.write(random.randbytes(1 << 20))
        cases["1 GiB video (stored as it is)"] = [(str(big), "video.mp4")]
    return cases


def run_case(files: list[tuple[str, str]]) -> dict[str, object]:
    """In a fresh process: spool each file from disk, prepare them, read the results through."""
    sys.path.insert(0, str(ROOT))
    from werkzeug.datastructures import FileStorage

    from whistle.web import uploads

    storages = []
    for path, name in files:
        spool = uploads.EncryptedSpool(1 << 40)
        with open(path, "rb") as source:
            shutil.copyfileobj(source, spool, 1 << 20)
        spool.seek(0)
        storages.append(FileStorage(stream=spool, filename=name))  # type: ignore[arg-type]
    started = time.monotonic()
    batch = uploads.prepare_uploads(
        storages, max_file_bytes=2 << 30, max_total_bytes=4 << 30, max_files=20
    )
    out = 0
    for prepared in batch.prepared:
        while piece := prepared.data.read(1 << 20):
            out += len(piece)
    seconds = time.monotonic() - started
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    return {
        "seconds": round(seconds, 2),
        "accepted": [(p.name, p.metadata_outcome) for p in batch.prepared][:3],
        "refused": sorted({p.reason for p in batch.problems}),
        "bytes_out": out,
        "worker_peak_mib": round(peak / 2**20, 1),
        "helper_peak_mib": round(batch.helper_peak_bytes / 2**20, 1),
        "parsers_in_worker": [m for m in ("PIL", "pypdf", "pikepdf") if m in sys.modules],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1 GiB file")
    parser.add_argument(
        "--write",
        type=Path,
        help="only write the files into this folder (for bench/upload_bench.py --file)",
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        make_cases(args.write, args.quick)
        for made in sorted(args.write.iterdir()):
            print(f"{made} ({made.stat().st_size:,} bytes)")
        return
    with tempfile.TemporaryDirectory() as folder:
        cases = make_cases(Path(folder), args.quick)
        for label, files in cases.items():
            done = subprocess.run(
                [sys.executable, __file__, "--case", json.dumps(files)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            print(f"{label}: {done.stdout.strip()}")


if __name__ == "__main__":
    main()
