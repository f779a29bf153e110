"""The texts reporters read on an organisation's start page (Act § 13, REQUIREMENTS.md C4).

Each has a good default in Danish and English (through the translation catalog); an
organisation may override any of them per language (``org_texts``), with a small safe subset
of HTML that is sanitised with bleach when saved and again when shown. The administrator
edits them all on one page (:func:`text_drafts`, :func:`save_texts`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from bleach.html5lib_shim import Filter
from bleach.sanitizer import Cleaner
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import OrgText
from whistle.core.refusals import Refused
from whistle.core.settings import LOCALES

MAX_TEXT = 20_000

ALLOWED_TAGS = ["p", "ul", "ol", "li", "a", "em", "strong", "br"]
ALLOWED_ATTRIBUTES = {"a": ["href"]}
ALLOWED_PROTOCOLS = ["http", "https", "mailto"]
# A link opened from a reporter's page tells the other site neither where the reporter came
# from (no Referer) nor gives it a handle on this page (no window.opener).
LINK_REL = "noopener noreferrer"

DEFAULTS = {
    "how_it_works": _l(
        "You can report serious wrongdoing here: breaches of EU law in the areas the "
        "Whistleblower Directive covers, and other serious breaches of law or serious matters, "
        "including sexual harassment and other serious harassment. Personal workplace "
        "conflicts are normally not covered.\n"
        "You receive a case code when you report. With it you can follow your case, answer "
        "questions and add information. We acknowledge your report within 7 days and give you "
        "feedback within 3 months."
    ),
    "who_handles": _l(
        "Reports are received by an impartial whistleblower unit that keeps your identity "
        "confidential. Only the members of the unit who handle your case can read it. If one "
        "of them is involved in what you report, you can leave that person out."
    ),
    "report_internally": _l(
        "We encourage you to report here when the matter can be handled effectively inside the "
        "organisation and you do not fear retaliation. You choose freely."
    ),
    "external_channel": _l(
        "You can also report to the Danish Data Protection Agency's external whistleblower "
        "scheme at whistleblower.dk, or to another competent authority, instead of or in "
        "addition to reporting here."
    ),
    "protection": _l(
        "Retaliation against a person who reports in good faith is forbidden, and so are "
        "attempts to prevent a report. Reporting within the rules of the Whistleblower Act "
        "does not breach a duty of confidentiality."
    ),
    "privacy": _l(
        "The organisation is the data controller for the personal data in reports. The data "
        "are processed to handle your report under the Whistleblower Act, kept only as long as "
        "needed, and are encrypted so that only the case handlers can read them. No IP address "
        "or browser information is stored. You can complain to the Danish Data Protection "
        "Agency (Datatilsynet)."
    ),
}


class _SafeLinks(Filter):
    """Runs after bleach's sanitiser: every link gets ``rel="noopener noreferrer"``."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "a":
                token["data"] = {**dict(token["data"]), (None, "rel"): LINK_REL}
            yield token


def sanitise(html: str) -> str:
    """The safe subset of ``html``: paragraphs, lists, emphasis, line breaks and links (only to
    http, https and mailto, each with ``rel="noopener noreferrer"``); anything else is
    dropped, its text kept as text. Sanitising its own result changes nothing."""
    cleaner = Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        filters=[_SafeLinks],
    )
    return str(cleaner.clean(html))


def _paragraphs(text: str) -> Markup:
    paragraph = Markup("<p>{}</p>")  # format() escapes the text
    return Markup("").join(paragraph.format(part) for part in text.split("\n") if part.strip())


def org_text(session: Session, org_id: int, key: str, locale: str) -> Markup:
    """The organisation's text ``key`` in ``locale``, or the default, as safe HTML."""
    override = session.scalar(
        select(OrgText.body).where(
            OrgText.org_id == org_id, OrgText.key == key, OrgText.locale == locale
        )
    )
    if override:
        clean = sanitise(override)
        return Markup(clean)  # noqa: S704 - sanitised with bleach just now  # nosec B704
    return default_text(key)


def default_text(key: str) -> Markup:
    """The default text ``key`` in the current language, as safe HTML paragraphs."""
    return _paragraphs(str(DEFAULTS[key]))


def set_org_text(session: Session, org_id: int, key: str, locale: str, body: str) -> None:
    """Save an override (sanitised on save as well). Flushes."""
    if key not in DEFAULTS:
        raise KeyError(key)
    row = session.get(OrgText, (org_id, key, locale))
    if row is None:
        session.add(OrgText(org_id=org_id, key=key, locale=locale, body=sanitise(body)))
    else:
        row.body = sanitise(body)
    session.flush()


# --- The administrator's page -----------------------------------------------------------------

TEXT_KEYS = tuple(DEFAULTS)


def _default_html(key: str, locale: str) -> str:
    with force_locale(locale):
        return str(default_text(key))


def _normalised(html: str) -> str:
    return re.sub(r"\s+", " ", sanitise(html)).strip()


def text_drafts(session: Session, org_id: int) -> dict[tuple[str, str], str]:
    """Every text in every language as the form shows it: the organisation's own version, or
    the default (which then follows the translations as they improve)."""
    own = {
        (row.key, row.locale): row.body
        for row in session.scalars(select(OrgText).where(OrgText.org_id == org_id))
    }
    return {
        (key, locale): own.get((key, locale)) or _default_html(key, locale)
        for key in TEXT_KEYS
        for locale in LOCALES
    }


def _check_lengths(submitted: Mapping[tuple[str, str], str]) -> None:
    for (key, locale), body in submitted.items():
        if key not in DEFAULTS or locale not in LOCALES:
            raise KeyError(key)
        if len(body) > MAX_TEXT:
            raise Refused(
                f"{key}_{locale}",
                _l("A text may be at most %(n)d characters long.", n=MAX_TEXT),
            )


def save_texts(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    submitted: Mapping[tuple[str, str], str],
) -> int:
    """Save the texts as given (sanitised here and again when shown), and commit; return how
    many changed.

    A text left empty, or equal to the default, is the default again.
    """
    with unit_of_work(session):
        _check_lengths(submitted)
        changed = 0
        for (key, locale), body in submitted.items():
            row = session.get(OrgText, (org_id, key, locale))
            clean = sanitise(body).strip()
            default = not _normalised(clean) or _normalised(clean) == _normalised(
                _default_html(key, locale)
            )
            if default:
                if row is None:
                    continue
                session.delete(row)
            else:
                if row is not None and _normalised(row.body) == _normalised(clean):
                    continue
                set_org_text(session, org_id, key, locale, clean)
            audit.record(
                session,
                clock,
                action="settings.text_changed",
                org_id=org_id,
                actor_user_id=actor_id,
                detail={"text": key, "locale": locale, "default": default},
            )
            changed += 1
        session.flush()
        return changed
