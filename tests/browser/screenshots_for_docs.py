"""Small copies of the browser tests' screenshots for the README (``make screenshots``).

The browser tests save full-size screenshots under ``test-output/browser/`` on every run; this
takes the top of the main pages at 1,280 px (and one phone page), scales them to 800 px wide,
reduces them to a palette of 128 colours and writes them to ``docs/screenshots/``, where they
are committed. Run it after ``make test`` when the pages change. The pictures show test data
only (tests/steps/factories.py: obviously fake people and reports), and no page that shows a
case code: nothing in the repository may hold one, not even a test's.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "test-output" / "browser"
TARGET = ROOT / "docs" / "screenshots"
WIDTH = 800  # px of the copy
COLOURS = 128


@dataclass(frozen=True)
class Shot:
    name: str  # the file in docs/screenshots/
    source: str  # under test-output/browser/
    height: int  # px of the source kept from the top (the rest of a long page is cut)
    width: int = WIDTH


SHOTS = (
    Shot("report-form.png", "widths/en/06-report-form-1280.png", 1100),
    Shot("report-form-phone-da.png", "widths/da/04-report-form-360.png", 1400, 300),
    Shot("inbox.png", "workspace-en-sqlite/01-inbox.png", 720),
    Shot("case-new.png", "workspace-en-sqlite/03-case-new.png", 1300),
    Shot("case-closed.png", "workspace-en-sqlite/08-case-closed.png", 1000),
    Shot("counsel-case-file.png", "counsel-en-sqlite/02-counsel-case.png", 1300),
    Shot("pdf-cover-da.png", "counsel-da-sqlite/pdf-page-1.png", 900, 560),
)


def shrink(shot: Shot) -> Path:
    with Image.open(SOURCE / shot.source) as image:
        top = image.convert("RGB").crop((0, 0, image.width, min(image.height, shot.height)))
    scale = shot.width / top.width
    small = top.resize((shot.width, round(top.height * scale)), Image.Resampling.LANCZOS)
    path = TARGET / shot.name
    small.quantize(COLOURS, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def main() -> int:
    missing = [s.source for s in SHOTS if not (SOURCE / s.source).exists()]
    if missing:
        print("Run `make test` first; missing: " + ", ".join(missing), file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for shot in SHOTS:
        path = shrink(shot)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
