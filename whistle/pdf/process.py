"""Drawing a PDF in a short-lived process of its own (whistle/pdf/render.py): the case file
for counsel (whistle/counsel/case_pdf.py) and the letter to a public authority
(whistle/disclosure/document.py) both go through :func:`render_pdf`."""

from __future__ import annotations

import json
import subprocess  # nosec B404 # one fixed script, see render_pdf
import sys
from pathlib import Path
from typing import Any

PDF_RENDERER = Path(__file__).with_name("render.py")
PDF_TIMEOUT = 300


class PdfFailed(RuntimeError):
    """The PDF could not be drawn; the reason names only an exception type."""


def render_pdf(payload: dict[str, Any]) -> bytes:
    """A PDF drawn from ``payload`` in a short-lived process of its own
    (whistle/pdf/render.py), so that the PDF library never weighs on the web worker;
    :class:`PdfFailed`, naming only an exception type, if it cannot be drawn."""
    try:
        done = subprocess.run(  # noqa: S603 - a fixed interpreter and script, no shell  # nosec B603
            [sys.executable, "-I", str(PDF_RENDERER)],
            input=json.dumps(payload).encode(),
            capture_output=True,
            timeout=PDF_TIMEOUT,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        # Never the child's output: it could quote the case or the reporter's identity.
        raise PdfFailed(type(exc).__name__) from None
    if not done.stdout.startswith(b"%PDF"):
        raise PdfFailed("no PDF")
    return done.stdout
