"""The texts reporters read on an organisation's start page (Act § 13, REQUIREMENTS.md C4).

Each has a good default in Danish and English (through the translation catalog); an
organisation may override any of them per language (``org_texts``), written in Markdown and
shown as the safe HTML :func:`whistle.admin.markup.render` makes of it (sanitised with bleach
every time it is shown). The administrator edits them all on one page (:func:`text_drafts`,
:func:`previews`, :func:`save_texts`).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.admin.markup import normalised, paragraphs_as_markdown, render
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import OrgText
from whistle.core.refusals import Refused
from whistle.core.settings import LOCALES

MAX_TEXT = 20_000
TOO_LONG = _l("A text may be at most %(n)d characters long.", n=MAX_TEXT)

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
        return render(override)
    return default_text(key)


def default_text(key: str) -> Markup:
    """The default text ``key`` in the current language, as safe HTML paragraphs."""
    return _paragraphs(str(DEFAULTS[key]))


def set_org_text(session: Session, org_id: int, key: str, locale: str, body: str) -> None:
    """Save an override, in Markdown as written (it is sanitised whenever it is shown).
    Flushes."""
    if key not in DEFAULTS:
        raise KeyError(key)
    row = session.get(OrgText, (org_id, key, locale))
    if row is None:
        session.add(OrgText(org_id=org_id, key=key, locale=locale, body=body))
    else:
        row.body = body
    session.flush()


# --- The administrator's page -----------------------------------------------------------------

TEXT_KEYS = tuple(DEFAULTS)


def _default_html(key: str, locale: str) -> str:
    with force_locale(locale):
        return str(default_text(key))


def default_markdown(key: str, locale: str) -> str:
    """The default text ``key`` in ``locale`` as Markdown, ready to edit."""
    with force_locale(locale):
        return paragraphs_as_markdown(str(DEFAULTS[key]))


def _source(body: str) -> str:
    """A text as typed, with the browser's line ends made plain and no white space around."""
    return body.replace("\r\n", "\n").replace("\r", "\n").strip()


def _is_default(key: str, locale: str, source: str) -> bool:
    shown = normalised(str(render(source)))
    return not shown or shown == normalised(_default_html(key, locale))


def text_drafts(session: Session, org_id: int) -> dict[tuple[str, str], str]:
    """Every text in every language as the form shows it, in Markdown: the organisation's own
    version, or the default (which then follows the translations as they improve)."""
    own = {
        (row.key, row.locale): row.body
        for row in session.scalars(select(OrgText).where(OrgText.org_id == org_id))
    }
    return {
        (key, locale): own.get((key, locale)) or default_markdown(key, locale)
        for key in TEXT_KEYS
        for locale in LOCALES
    }


def previews(submitted: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], Markup]:
    """How each text would show to reporters, as safe HTML: the default where it is empty."""
    shown = {}
    for (key, locale), body in submitted.items():
        source = _source(body)
        if source and normalised(str(render(source))):
            shown[key, locale] = render(source)
        else:
            shown[key, locale] = Markup(_default_html(key, locale))  # noqa: S704  # nosec B704
    return shown


def _check_lengths(submitted: Mapping[tuple[str, str], str]) -> None:
    for (key, locale), body in submitted.items():
        if key not in DEFAULTS or locale not in LOCALES:
            raise KeyError(key)
        if len(body) > MAX_TEXT:
            raise Refused(
                f"{key}_{locale}",
                TOO_LONG,
            )


def save_texts(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    submitted: Mapping[tuple[str, str], str],
) -> int:
    """Save the texts as given, in Markdown (sanitised whenever shown), and commit; return how
    many changed.

    A text left empty, or showing the same as the default, is the default again.
    """
    with unit_of_work(session):
        _check_lengths(submitted)
        changed = 0
        for (key, locale), body in submitted.items():
            row = session.get(OrgText, (org_id, key, locale))
            source = _source(body)
            default = _is_default(key, locale, source)
            if default:
                if row is None:
                    continue
                session.delete(row)
            else:
                if row is not None and row.body == source:
                    continue
                set_org_text(session, org_id, key, locale, source)
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
