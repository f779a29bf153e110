"""The readable PDF in counsel's case file: the case document (whistle/counsel/case_document.py)
written out in the organisation's language (whistle/counsel/readable.py) and drawn in a process
of its own (whistle/pdf/render.py)."""

from __future__ import annotations

from typing import Any

from whistle.pdf.process import render_pdf


def case_pdf(case_file: dict[str, Any]) -> bytes:
    """A readable PDF of the case file as :func:`whistle.counsel.readable.readable` gives it."""
    return render_pdf({"case_file": case_file})
