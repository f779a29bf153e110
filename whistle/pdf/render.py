"""The readable PDF of a case file for counsel, drawn from its case.json
(whistle/counsel/export.py), and the letter that hands a reporter's identity to a public authority
(whistle/disclosure/document.py).

Run as a script in a short-lived process of its own (``python whistle/pdf/render.py``, the
document on standard input, the PDF on standard output): fpdf2 and the embedded font take
about 30 MB, which the web worker that exports never holds (docs/benchmarks.md, "Export for
counsel"). The script imports nothing of Whistle, only fpdf2; the case document goes through
a pipe, never a file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PDF_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _new_pdf(title: str, *, margin: int) -> tuple[Any, str, Callable[[object], str]]:
    """An empty A4 document titled ``title``, the font family to write in (DejaVu Sans where
    installed, for every script; else Helvetica) and how to make a value writable in it."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=margin)
    pdf.set_creator("Whistle")
    pdf.set_title(title)
    unicode_font = PDF_FONT.exists()
    if unicode_font:
        pdf.add_font("DejaVu", "", str(PDF_FONT))
        family = "DejaVu"
    else:
        family = "Helvetica"

    def text(value: object) -> str:
        s = str(value)
        return s if unicode_font else s.encode("latin-1", "replace").decode("latin-1")

    return pdf, family, text


def render(document: dict[str, Any], labels: dict[str, str]) -> bytes:
    """A readable PDF of the case document (DejaVu Sans where installed, for every script).

    ``labels`` are the words a person reads, already translated by the exporting process
    (whistle/counsel/case_pdf.py ``pdf_labels``); a missing one shows its key.
    """

    def say(key: str) -> str:
        return labels.get(key, key.replace("_", " "))

    pdf, family, text = _new_pdf(f"{say('case')} {document['case']['reference']}", margin=15)

    pdf.add_page()

    def heading(value: str) -> None:
        pdf.set_font(family, size=14)
        pdf.multi_cell(0, 8, text(value), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, size=10)

    def line(label: str, value: object) -> None:
        if value in (None, "", []):
            return
        pdf.multi_cell(0, 5, text(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")

    org, case = document["organisation"], document["case"]
    heading(f"{org['name']} - {say('case')} {case['reference']}")
    for key, value in case.items():
        if key == "category" and value:
            value = f"{value['label_en']} / {value['label_da']}"
        line(say(key), say(value) if isinstance(value, str) and value in labels else value)
    identity = document.get("identity")
    if identity:
        heading(say("identity"))
        line(say("identity_name"), identity.get("name"))
        line(say("identity_contact"), identity.get("contact"))
        given = identity.get("disclosure") or {}
        line(say("ground"), say(f"ground_{given.get('ground')}"))
        line(say("notice"), say(f"notice_{given.get('notice')}"))
        line(say("approved_by"), given.get("approved_by"))
    if document["report"]:
        heading(say("report"))
        for key, value in document["report"].items():
            line(say(key), value)
    for item in document["report_files"]:
        line(say("file"), f"{item['path']} ({item['size']} B)")
    heading(say("conversation"))
    for message in document["conversation"]:
        who = say(message["author"])
        line(f"{message['sent_on']} {who} ({say(message['kind'])})", message["body"])
        for item in message["files"]:
            line(say("file"), f"{item['path']} ({item['size']} B)")
    if document["notes"] is not None:
        heading(say("notes"))
        for note in document["notes"]:
            line(f"{note['created_on']} {note['author']} ({say(note['kind'])})", note["body"])
    heading(say("timeline"))
    for entry in document["timeline"]:
        line(entry["at"][:16].replace("T", " "), f"{say(entry['action'])} {entry['by']}".strip())
    left = document["left_out"]
    if left["restricted"] or left["purged"]:
        line(say("restricted"), left["restricted"])
        line(say("purged"), left["purged"])
    return bytes(pdf.output())


def render_letter(letter: dict[str, Any]) -> bytes:
    """A one-page letter: ``title``, ``head`` rows (to, from, date, reference), paragraphs
    ``before``, ``sections`` (a heading and label/value rows), paragraphs ``after``. Every
    word comes translated and every date formatted from the app (the reader's locale)."""
    pdf, family, text = _new_pdf(str(letter["title"]), margin=20)

    def rows(pairs: list[list[str]]) -> None:
        pdf.set_font(family, size=11)
        for label, value in pairs:
            pdf.multi_cell(0, 6, text(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    def paragraphs(items: list[str]) -> None:
        pdf.set_font(family, size=11)
        for item in items:
            pdf.multi_cell(0, 6, text(item), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)

    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    pdf.set_font(family, size=16)
    pdf.multi_cell(0, 9, text(letter["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    rows(letter["head"])
    paragraphs(letter["before"])
    for heading, pairs in letter["sections"]:
        pdf.set_font(family, size=13)
        pdf.multi_cell(0, 8, text(heading), new_x="LMARGIN", new_y="NEXT")
        rows(pairs)
    paragraphs(letter["after"])
    return bytes(pdf.output())


def main() -> None:
    given = json.loads(sys.stdin.buffer.read())
    if "letter" in given:
        sys.stdout.buffer.write(render_letter(given["letter"]))
    else:
        sys.stdout.buffer.write(render(given["document"], given["labels"]))


if __name__ == "__main__":
    main()
