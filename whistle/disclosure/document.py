"""The document that hands a reporter's identity to a public authority (REQUIREMENTS.md K2).

One letter, drawn twice from the same words: as the page the handler prints
(templates/disclosure/handover_document.html) and as a PDF to download
(whistle/pdf/render.py ``render_letter``, in a short-lived process of its own, as the case
file's PDF is). Words are in the reader's language and dates formatted for it; the letter
names no section of the Act, whose numbering the project has not confirmed
(docs/compliance.md, K2).

The letter holds the identity: it is built in memory for one answer and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from whistle.core import dates
from whistle.disclosure.handover import Handover
from whistle.pdf.process import render_pdf


@dataclass(frozen=True, repr=False)
class Letter:
    """The disclosure document's words, in order. SECRET: it holds the identity."""

    title: str
    head: list[tuple[str, str]]
    before: list[str]
    sections: list[tuple[str, list[tuple[str, str]]]]
    after: list[str]

    def __repr__(self) -> str:
        return "Letter(<secret>)"


def _day(day: date | None) -> str:
    return dates.day(day, dates.reader_locale())


def ground_text(ground: str) -> str:
    """The ground as the document states it."""
    words: dict[str, str] = {
        "consent": _("The reporter's explicit consent"),
        "authority": _("Necessary to counter violations"),
        "defence": _("Necessary to secure the rights of defence in proceedings"),
    }
    return words.get(ground, ground)


def letter(handover: Handover, organisation: str) -> Letter:
    """The disclosure document for ``handover`` (from whistle/disclosure/handover.py
    ``hand_over``), sent by the whistleblower unit of ``organisation``."""
    assert handover.identity is not None
    basis: list[tuple[str, str]] = [(_("Ground"), ground_text(handover.ground))]
    if handover.notice == "consent":
        basis.append(
            (
                _("Notice to the reporter"),
                _(
                    "Asked for consent in writing, with the reasons, on %(day)s",
                    day=_day(handover.requested_on),
                ),
            )
        )
        basis.append((_("Consent given"), _day(handover.decided_on)))
    elif handover.notice == "sent":
        basis.append(
            (
                _("Notice to the reporter"),
                _(
                    "Told beforehand in writing, with the reasons, on %(day)s",
                    day=_day(handover.requested_on),
                ),
            )
        )
    else:
        basis.append(
            (
                _("Notice to the reporter"),
                _(
                    "Not told beforehand: telling would jeopardise the investigation "
                    "(Directive (EU) 2019/1937 art. 16(3))"
                ),
            )
        )
        basis.append(
            (
                _("Approved by a second person"),
                _(
                    "%(name)s, unit lead, on %(day)s",
                    name=handover.decided_by,
                    day=_day(handover.decided_on),
                ),
            )
        )
    basis.append(
        (
            _("Disclosure asked by"),
            _("%(name)s on %(day)s", name=handover.requested_by, day=_day(handover.requested_on)),
        )
    )
    basis.append(
        (
            _("Handed over by"),
            _(
                "%(name)s on %(day)s",
                name=handover.handed_over_by,
                day=_day(handover.handed_over_on),
            ),
        )
    )
    return Letter(
        title=_("Disclosure of a whistleblower's identity"),
        head=[
            (_("To"), handover.authority),
            (_("From"), _("%(organisation)s, whistleblower unit", organisation=organisation)),
            (_("Date"), _day(handover.handed_over_on)),
            (_("Case reference"), handover.case_reference),
        ],
        before=[
            _(
                "Through its whistleblower scheme, %(organisation)s discloses to you the "
                "identity of the person who reported in the case above, on the ground stated "
                "below.",
                organisation=organisation,
            )
        ],
        sections=[
            (
                _("The reporter's identity"),
                [
                    (_("Name"), handover.identity.name),
                    (_("Contact details"), handover.identity.contact),
                ],
            ),
            (_("Basis of the disclosure"), basis),
        ],
        after=[
            _(
                "The identity is disclosed to you only for the purpose stated above. Keep it "
                "confidential and pass it on only where the law requires it."
            ),
            _(
                "This disclosure is recorded in the case's disclosure register at "
                "%(organisation)s.",
                organisation=organisation,
            ),
        ],
    )


def letter_pdf(document: Letter) -> bytes:
    """The letter as a PDF (PdfFailed, naming only an exception type, if it cannot be
    drawn)."""
    payload = {
        "letter": {
            "title": document.title,
            "head": document.head,
            "before": document.before,
            "sections": document.sections,
            "after": document.after,
        }
    }
    return render_pdf(payload)
