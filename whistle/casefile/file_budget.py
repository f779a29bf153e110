"""How much work one uploaded file, and one form's files together, may cost to check.

Everything an attacker can make expensive is counted before it is done, from the files'
own headers, and refused when over budget: pixels of one picture and of one form's pictures
together, frames of an animation, pages and objects of a PDF, the unpacked bytes of an
Office package (counted as they are really unpacked, not only as declared). The work itself
runs in a helper process with CPU-time, memory and wall-clock limits
(:mod:`whistle.casefile.sandbox`), so whatever these counts miss still cannot take a web
worker down.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MB = 1024 * 1024


class Refusal(enum.StrEnum):
    """Why a file was not accepted (the upload form words each in whistle/web/upload_words.py)."""

    UNSAFE = "unsafe"  # one picture or animation too large: a decompression bomb
    TOO_MUCH_INSIDE = "too_much_inside"  # too many PDF pages or objects, or unpacked bytes
    TOGETHER = "together"  # this file would take the form's files over their shared budget
    COSTLY = "costly"  # checking it took more time or memory than the helper may use
    BUSY = "busy"  # the helper was busy with other files for too long: send it again shortly


class UnsafeFile(Exception):
    """The file is too dangerous or too costly to process; it is not accepted."""

    def __init__(self, message: str, refusal: Refusal = Refusal.UNSAFE) -> None:
        super().__init__(message)
        self.refusal = refusal


@dataclass(frozen=True)
class Budget:
    """The limits. The defaults take any honest file: 80 megapixels is more than a phone
    camera's photo, 5,000 pages more than any report's attachment; tests inject smaller
    budgets to send small bombs."""

    # One picture (a frame), and every frame of one animation together.
    image_pixels: int = 80_000_000
    animation_pixels: int = 400_000_000
    frames: int = 1_000
    # Every picture of one form together (twenty 48-megapixel photos).
    request_pixels: int = 1_000_000_000
    # A PDF: pages (declared in the page tree) and objects (declared in the trailer).
    pdf_pages: int = 5_000
    pdf_objects: int = 50_000
    # An Office package: members, bytes unpacked from one file and from one form's files.
    office_members: int = 10_000
    unpacked_bytes: int = 256 * MB
    request_unpacked_bytes: int = 512 * MB
    compression_ratio: int = 200

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


DEFAULT_BUDGET = Budget()


@dataclass
class Spent:
    """What the files of one form have used of the shared parts of a :class:`Budget`."""

    pixels: int = 0
    unpacked_bytes: int = 0

    def add_pixels(self, pixels: int, budget: Budget) -> None:
        """Count one picture's pixels (all its frames) against the form's budget."""
        self.pixels += pixels
        if self.pixels > budget.request_pixels:
            raise UnsafeFile("the form's pictures have too many pixels", Refusal.TOGETHER)

    def add_unpacked(self, count: int, budget: Budget) -> None:
        """Count bytes really unpacked from an Office package against the form's budget."""
        self.unpacked_bytes += count
        if self.unpacked_bytes > budget.request_unpacked_bytes:
            raise UnsafeFile("the form's packages unpack to too much", Refusal.TOGETHER)


def check_picture(width: int, height: int, frames: int, frame_pixels: int, budget: Budget) -> None:
    """Refuse a picture whose header declares more than one picture may have.

    ``frame_pixels`` is the sum over its frames (``width * height`` for a still picture).
    """
    if width <= 0 or height <= 0:
        raise ValueError("picture without a size")
    if width * height > budget.image_pixels:
        raise UnsafeFile("picture too large")
    if frames > budget.frames or frame_pixels > budget.animation_pixels:
        raise UnsafeFile("animation too large")
