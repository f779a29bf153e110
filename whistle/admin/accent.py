"""The organisation's colour: an accent its pages use for links, buttons and the header line.

The administrator sets it on the profile page as a hex colour (``#1a6b3c``), stored in the
organisation's settings (:mod:`whistle.admin.org_settings`). Pages use it only while it keeps
WCAG AA contrast (4.5:1 for text) with white *and* with the light grey of panels and the
header (links and white button labels sit on both); a lighter colour is kept but not used, and
the pages fall back to Whistle's own blue (the profile page says so). A refusal is a
:class:`~whistle.core.refusals.Refused` on the form field ``accent``.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.admin.org_settings import get_value, set_value
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import OrgSetting
from whistle.core.refusals import Refused

ACCENT_KEY = "accent"
# The backgrounds an accent is read on (whistle/static/whistle.css: --bg and --panel).
BACKGROUNDS = ("#ffffff", "#f5f7fa")
AA_TEXT = 4.5
_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def normalise(text: str) -> str | None:
    """``text`` as ``#rrggbb`` in lower case, or None when it is no hex colour."""
    found = _HEX.fullmatch(text.strip())
    if found is None:
        return None
    digits = found.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable(colour: str) -> bool:
    """Whether ``colour`` keeps AA contrast on every background it is used on."""
    return all(contrast(colour, background) >= AA_TEXT for background in BACKGROUNDS)


def stored_accent(session: Session, org_id: int) -> str | None:
    """The colour the administrator chose (even one too light to be used), or None."""
    value = get_value(session, org_id, ACCENT_KEY)
    return normalise(value) if isinstance(value, str) else None


def accent(session: Session, org_id: int) -> str | None:
    """The colour the pages use, or None for Whistle's own (none chosen, or too light)."""
    chosen = stored_accent(session, org_id)
    return chosen if chosen is not None and readable(chosen) else None


def theme_css(colour: str) -> str:
    """The style sheet that puts ``colour`` in place of the default accent."""
    return f":root {{ --accent: {colour}; --accent-fg: #ffffff; }}\n"


def set_accent(session: Session, clock: Clock, org_id: int, actor_id: int, text: str) -> bool:
    """Store the colour ``text`` (``#rrggbb``, ``#rgb``; empty removes it), and commit; True
    when it changed."""
    with unit_of_work(session):
        if not text.strip():
            row = session.get(OrgSetting, (org_id, ACCENT_KEY))
            if row is None:
                return False
            session.delete(row)
            colour = None
        else:
            colour = normalise(text)
            if colour is None:
                raise Refused(
                    "accent", _l("Give the colour as a hex code: # and six digits, e.g. #1a6b3c.")
                )
            if colour == stored_accent(session, org_id):
                return False
            set_value(session, org_id, ACCENT_KEY, colour)
        audit.record(
            session,
            clock,
            action="settings.accent_changed",
            org_id=org_id,
            actor_user_id=actor_id,
            # The hex digits without "#" (audit details are identifiers).
            detail={
                "colour": colour[1:] if colour else "",
                "used": bool(colour and readable(colour)),
            },
        )
        session.flush()
        return True
