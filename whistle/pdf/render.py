"""The readable PDF of a case file for counsel, drawn from its case.json as
whistle/counsel/readable.py writes it out (whistle/counsel/export.py), and the letter that
hands a reporter's identity to a public authority (whistle/disclosure/document.py).

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


PDF_FONT_BOLD = PDF_FONT.with_name("DejaVuSans-Bold.ttf")
INK = (20, 20, 20)
MUTED = (90, 90, 90)
RULE = (200, 200, 200)
MARK = (150, 20, 20)


def _new_pdf(
    title: str, *, margin: int, footer: str = ""
) -> tuple[Any, str, Callable[[object], str]]:
    """An empty A4 document titled ``title``, the font family to write in (DejaVu Sans where
    installed, for every script; else Helvetica) and how to make a value writable in it.
    With ``footer``, every page but the first ends with it and its page number."""
    from fpdf import FPDF

    class _Pdf(FPDF):
        def footer(self) -> None:
            if not footer or self.page_no() == 1:
                return
            self.set_y(-12)
            self.set_font(self.font_family, size=8)
            self.set_text_color(*MUTED)
            self.cell(0, 5, text(footer.replace("{page}", str(self.page_no()))), align="C")
            self.set_text_color(*INK)

    pdf = _Pdf(format="A4")
    pdf.set_auto_page_break(auto=True, margin=margin)
    pdf.set_creator("Whistle")
    pdf.set_title(title)
    unicode_font = PDF_FONT.exists()
    if unicode_font:
        pdf.add_font("DejaVu", "", str(PDF_FONT))
        if PDF_FONT_BOLD.exists():
            pdf.add_font("DejaVu", "B", str(PDF_FONT_BOLD))
        else:
            pdf.add_font("DejaVu", "B", str(PDF_FONT))
        family = "DejaVu"
    else:
        family = "Helvetica"

    def text(value: object) -> str:
        s = str(value)
        return s if unicode_font else s.encode("latin-1", "replace").decode("latin-1")

    return pdf, family, text


class _Writer:
    """The few shapes a case file is made of: headings, label/value rows, tables, entries."""

    def __init__(self, pdf: Any, family: str, text: Callable[[object], str]) -> None:
        self.pdf, self.family, self.text = pdf, family, text
        self.sections = 0

    def font(self, size: float, *, bold: bool = False, colour: tuple[int, int, int] = INK) -> None:
        self.pdf.set_font(self.family, style="B" if bold else "", size=size)
        self.pdf.set_text_color(*colour)

    def heading(self, title: str) -> None:
        self.sections += 1
        pdf = self.pdf
        if pdf.get_y() > pdf.h - 60:
            pdf.add_page()
        pdf.ln(4)
        self.font(14, bold=True)
        pdf.multi_cell(
            0, 8, self.text(f"{self.sections}. {title}"), align="L", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.set_draw_color(*RULE)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(2)
        self.font(10)

    def paragraph(
        self, value: str, *, size: float = 10, colour: tuple[int, int, int] = INK
    ) -> None:
        self.font(size, colour=colour)
        self.pdf.multi_cell(0, 5, self.text(value), align="L", new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)

    def rows(self, pairs: list[list[str]], *, label_width: float = 58) -> None:
        """Label and value side by side, the value wrapping in its column."""
        pdf = self.pdf
        for label, value in pairs:
            if pdf.get_y() > pdf.h - 30:
                pdf.add_page()
            top = pdf.get_y()
            self.font(9, colour=MUTED)
            pdf.multi_cell(
                label_width - 3, 5, self.text(label), align="L", new_x="LMARGIN", new_y="NEXT"
            )
            label_bottom = pdf.get_y()
            pdf.set_xy(pdf.l_margin + label_width, top)
            self.font(10)
            pdf.multi_cell(0, 5, self.text(value), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.set_y(max(pdf.get_y(), label_bottom) + 1.5)

    def table(self, head: list[str], body: list[list[str]], widths: list[float]) -> None:
        """A table with a header row and row lines (fpdf2's table, which repeats the header
        on a new page)."""
        pdf = self.pdf
        pdf.set_draw_color(*RULE)
        self.font(9)
        with pdf.table(
            col_widths=widths,
            text_align="LEFT",
            borders_layout="HORIZONTAL_LINES",
            line_height=5,
            padding=1.5,
            headings_style=_heading_style(self.family),
        ) as table:
            table.row([self.text(h) for h in head])
            for cells in body:
                table.row([self.text(c) for c in cells])
        pdf.ln(2)

    def entry(self, meta: str, body: str, files: list[str]) -> None:
        """A message or a note: who and when, then the text, then its files."""
        pdf = self.pdf
        if pdf.get_y() > pdf.h - 40:
            pdf.add_page()
        self.font(9, bold=True, colour=MUTED)
        pdf.multi_cell(0, 5, self.text(meta), align="L", new_x="LMARGIN", new_y="NEXT")
        self.font(10)
        pdf.multi_cell(0, 5, self.text(body), align="L", new_x="LMARGIN", new_y="NEXT")
        for item in files:
            self.font(9, colour=MUTED)
            pdf.multi_cell(0, 5, self.text(item), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)


def _heading_style(family: str) -> Any:
    from fpdf.fonts import FontFace

    return FontFace(family=family, emphasis="BOLD", color=INK)


def _cover(w: _Writer, cover: dict[str, Any]) -> None:
    pdf = w.pdf
    pdf.add_page()
    pdf.set_y(40)
    w.font(13, colour=MUTED)
    pdf.multi_cell(0, 7, w.text(cover["organisation"]), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    w.font(24, bold=True)
    pdf.multi_cell(0, 11, w.text(cover["kind"]), align="L", new_x="LMARGIN", new_y="NEXT")
    w.font(18)
    pdf.multi_cell(0, 9, w.text(cover["reference"]), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    w.rows(cover["rows"], label_width=50)
    pdf.ln(14)
    pdf.set_draw_color(*MARK)
    pdf.set_line_width(0.6)
    top = pdf.get_y()
    pdf.set_xy(pdf.l_margin + 4, top + 4)
    w.font(14, bold=True, colour=MARK)
    pdf.multi_cell(
        pdf.epw - 8, 7, w.text(cover["marking"]), align="L", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_x(pdf.l_margin + 4)
    w.font(10)
    pdf.multi_cell(
        pdf.epw - 8, 5, w.text(cover["notice"]), align="L", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.rect(pdf.l_margin, top, pdf.epw, pdf.get_y() - top + 4)
    pdf.set_line_width(0.2)


def render(case_file: dict[str, Any]) -> bytes:
    """The case file for counsel, from whistle/counsel/readable.py: every word translated
    and every date written out by the app, in the organisation's language."""
    h = case_file["headings"]
    footer = f"{case_file['title']} · {case_file['cover']['marking']} · {h['page']} {{page}}/{{nb}}"
    pdf, family, text = _new_pdf(case_file["title"], margin=18, footer=footer)
    pdf.set_margins(20, 18, 20)
    w = _Writer(pdf, family, text)
    _cover(w, case_file["cover"])

    pdf.add_page()
    w.heading(h["summary"])
    w.rows(case_file["summary"])
    if case_file["left_out"]:
        w.paragraph(case_file["left_out"], size=9, colour=MUTED)
    w.heading(h["parties"])
    w.rows(case_file["parties"])
    w.heading(h["chronology"])
    w.table([h["when"], h["what"], h["by"]], case_file["chronology"], [48, 80, 42])
    w.heading(h["documents"])
    if case_file["documents"]:
        w.table(
            [h["number"], h["document"], h["size"], h["origin"]],
            [[str(d["number"]), d["name"], d["size"], d["origin"]] for d in case_file["documents"]],
            [12, 70, 22, 66],
        )
    else:
        w.paragraph(h["no_documents"])
    w.heading(h["report"])
    if case_file["report"] is None:
        w.paragraph(h["restricted_report"])
    else:
        w.rows(case_file["report"], label_width=50)
    w.heading(h["conversation"])
    for entry in case_file["conversation"]:
        w.entry(entry["meta"], entry["body"], [f["text"] for f in entry["files"]])
    if not case_file["conversation"]:
        w.paragraph(h["no_messages"])
    if case_file["notes"] is not None:
        w.heading(h["notes"])
        for entry in case_file["notes"]:
            w.entry(entry["meta"], entry["body"], [])
        if not case_file["notes"]:
            w.paragraph(h["no_notes"])
    w.heading(h["verification"])
    w.rows(case_file["verification"]["rows"], label_width=50)
    for paragraph in case_file["verification"]["paragraphs"]:
        w.paragraph(paragraph)
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
        sys.stdout.buffer.write(render(given["case_file"]))


if __name__ == "__main__":
    main()
