"""The reporting channel as the administrator sets it: whether anonymous reports are accepted
and who may report (REQUIREMENTS.md C5), the groups the start page and the record of
processing list. A refusal is a :class:`~whistle.core.refusals.Refused` naming the form field.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.admin.org_settings import get_value, set_value
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.labels import RELATION_LABELS
from whistle.core.models import Organisation
from whistle.core.refusals import Refused

REPORTERS_KEY = "reporters"
# Who may report (REQUIREMENTS.md C5): the reporter's relations of the report form, but "other".
REPORTER_GROUPS = tuple((code, label) for code, label in RELATION_LABELS if code != "other")
_GROUP_CODES = tuple(code for code, _label in REPORTER_GROUPS)


def reporter_groups(session: Session, org_id: int) -> list[str]:
    """The groups who may report to ``org_id`` (codes, in the form's order; default all)."""
    value = get_value(session, org_id, REPORTERS_KEY)
    if not isinstance(value, list):
        return list(_GROUP_CODES)
    chosen = {v for v in value if isinstance(v, str)}
    return [code for code in _GROUP_CODES if code in chosen] or list(_GROUP_CODES)


def reporter_group_labels(session: Session, org_id: int) -> list[str]:
    """The groups who may report, as the start page lists them (in the page's language)."""
    labels = dict(REPORTER_GROUPS)
    return [str(labels[code]) for code in reporter_groups(session, org_id)]


def change_channel(
    session: Session,
    clock: Clock,
    org: Organisation,
    actor_id: int,
    *,
    accepts_anonymous: bool,
    groups: list[str],
) -> int:
    """Whether anonymous reports are accepted, and who may report, and commit; return how
    many of the two changed."""
    with unit_of_work(session):
        chosen = [code for code in _GROUP_CODES if code in set(groups)]
        if not chosen or len(chosen) != len(set(groups)):
            raise Refused("groups", _l("Choose at least one group."))
        changed = 0
        if org.accepts_anonymous != accepts_anonymous:
            org.accepts_anonymous = accepts_anonymous
            audit.record(
                session,
                clock,
                action="settings.anonymous_changed",
                org_id=org.id,
                actor_user_id=actor_id,
                detail={"accepted": accepts_anonymous},
            )
            changed += 1
        if chosen != reporter_groups(session, org.id):
            set_value(session, org.id, REPORTERS_KEY, chosen)
            audit.record(
                session,
                clock,
                action="settings.reporters_changed",
                org_id=org.id,
                actor_user_id=actor_id,
                detail={code.replace("-", "_"): code in chosen for code in _GROUP_CODES},
            )
            changed += 1
        session.flush()
        return changed
