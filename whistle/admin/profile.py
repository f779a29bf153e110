"""The organisation's profile as its administrator changes it: its name and the language of
its mails. A refusal is a :class:`~whistle.core.refusals.Refused` naming the form field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Organisation
from whistle.core.refusals import Refused
from whistle.core.settings import LOCALES


def change_profile(
    session: Session, clock: Clock, org: Organisation, actor_id: int, *, name: str, locale: str
) -> bool:
    """Rename the organisation and set the language of its mails, and commit; True when
    changed."""
    with unit_of_work(session):
        name = " ".join(name.split())
        if not 2 <= len(name) <= 200:
            raise Refused("name", _l("Give a name of 2 to 200 characters."))
        if locale not in LOCALES:
            raise Refused("locale", _l("Choose Danish or English."))
        renamed = name != org.name
        if not renamed and locale == org.default_locale:
            return False
        org.name = name
        org.default_locale = locale
        audit.record(
            session,
            clock,
            action="settings.profile_changed",
            org_id=org.id,
            actor_user_id=actor_id,
            detail={"renamed": renamed, "locale": locale},
        )
        session.flush()
        return True
