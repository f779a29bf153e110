"""Files a handler should not open blindly: programs and scripts, office files with macros,
and files whose content is not what their name says (a "report.pdf" that is a program).

Decided from the file's name and its first bytes, read by decrypting the file's first segment
in memory when the case page or a download asks (whistle/casefile/conversation.py
``open_file``): nothing about a file's type is stored, so the store keeps only ciphertext and
the encrypted name, as before. One segment per file is cheap next to drawing the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy.orm import Session

from whistle.casefile.access import KeyRing
from whistle.casefile.conversation import FileDamaged, FileGone, FileView, open_file
from whistle.core.models import Case
from whistle.core.storage import Store

# What a warning says, from the worst down.
EXECUTABLE, MACRO, MISMATCH = "executable", "macro", "mismatch"

HEAD_BYTES = 4096  # enough for every signature below

# Names that run code when opened on Windows, macOS or Linux.
RUNNABLE = frozenset(
    [
        "exe",
        "dll",
        "com",
        "scr",
        "msi",
        "msp",
        "bat",
        "cmd",
        "ps1",
        "psm1",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "wsh",
        "hta",
        "cpl",
        "msc",
        "pif",
        "reg",
        "lnk",
        "jar",
        "app",
        "apk",
        "dmg",
        "sh",
        "bash",
        "zsh",
        "command",
        "run",
        "bin",
        "elf",
        "py",
        "pyw",
        "pl",
        "rb",
        "php",
        "scf",
        "inf",
        "iso",
        "img",
    ]
)
# Office formats that carry macros by design.
MACRO_ENABLED = frozenset(
    ["docm", "dotm", "xlsm", "xltm", "xlsb", "xlam", "pptm", "potm", "ppsm", "ppam", "sldm"]
)

# What the first bytes of a file are when its name is honest.
_PDF = (b"%PDF",)
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": _PDF,
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "zip": _ZIP,
    "docx": _ZIP,
    "xlsx": _ZIP,
    "pptx": _ZIP,
    "odt": _ZIP,
    "ods": _ZIP,
    "odp": _ZIP,
    "doc": _OLE,
    "xls": _OLE,
    "ppt": _OLE,
    "msg": _OLE,
    "rtf": (b"{\\rtf",),
}
TEXT = frozenset({"txt", "csv", "md", "log"})

# Programs, whatever their name: Windows (MZ), Linux (ELF), macOS (Mach-O, fat binaries, which
# share CAFEBABE with Java classes), and scripts with an interpreter line.
_PROGRAMS = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"#!",
)


def extension(name: str) -> str:
    """The file name's last extension, lower case ("" when it has none)."""
    base = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base.strip(".") else ""


def expected_type(name: str) -> str:
    """The type the name claims, as a person reads it ("PDF"), for the mismatch warning."""
    return extension(name).upper()


def sniff(name: str, head: bytes) -> str | None:
    """The warning a file named ``name`` whose content starts with ``head`` deserves: None,
    EXECUTABLE, MACRO or MISMATCH."""
    ext = extension(name)
    if ext in RUNNABLE or head.startswith(_PROGRAMS):
        return EXECUTABLE
    if ext in MACRO_ENABLED or (head.startswith(_ZIP) and b"vbaProject.bin" in head):
        return MACRO
    if ext in SIGNATURES:
        signatures = SIGNATURES[ext]
        # A PDF may have a few bytes of junk before its marker; readers accept it within 1 KB.
        found = b"%PDF" in head[:1024] if signatures is _PDF else head.startswith(signatures)
        return None if found or not head else MISMATCH
    if ext in TEXT and b"\x00" in head:
        return MISMATCH
    return None


def head_of(chunks: Iterator[bytes]) -> bytes:
    """The first bytes of a decrypted file (its first segment or two); closes the stream."""
    head = b""
    try:
        for chunk in chunks:
            head += chunk
            if len(head) >= HEAD_BYTES:
                break
    finally:
        close(chunks)
    return head[:HEAD_BYTES]


def file_warnings(
    session: Session, store: Store, case: Case, content: KeyRing, files: Iterable[FileView]
) -> dict[str, str]:
    """The warning of each file of ``files`` that deserves one, by storage name. A file that
    cannot be opened gets none here: its download says what is wrong with it."""
    warnings: dict[str, str] = {}
    for view in files:
        if view.purged_on is not None:
            continue
        try:
            opened = open_file(session, store, case, content, view.storage_name)
        except (FileGone, FileDamaged, OSError):
            continue
        if opened is None:
            continue
        found = sniff(view.name, head_of(opened[1]))
        if found:
            warnings[view.storage_name] = found
    return warnings


def close(chunks: Iterator[bytes]) -> None:
    """Close a decrypted file's stream (and so its stored file), if it can be closed."""
    closing = getattr(chunks, "close", None)
    if closing is not None:
        closing()


def with_head(head: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The whole file again: ``head``, read already, then the rest of ``chunks``."""
    try:
        if head:
            yield head
        yield from chunks
    finally:
        close(chunks)
