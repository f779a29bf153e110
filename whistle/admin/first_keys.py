"""The organisation's own keys, made by its first administrator.

An organisation made by the deployment's operator (whistle/operators/) has no keys yet: its
recovery key opens every case, so the operator, who reads no case, never sees it. Its first
administrator makes the keys from the admin console and alone is shown the recovery key, once,
as first-run setup shows it (whistle/setup/). Until then the reporting channel says it is not
open yet (whistle/reporting/views/report.py).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import Organisation
from whistle.core.org_keys import create_org_keys, has_keys
from whistle.core.refusals import Refused
from whistle.core.trust import pin_organisation


def make_first_keys(
    session: Session, clock: Clock, org_id: int, *, instance_key: bytes, actor_id: int
) -> str:
    """Make the keys of an organisation that has none; return the recovery key's printable
    text (SECRET: shown once, never stored or logged). Commits, then pins the keys."""
    with unit_of_work(session):
        org = session.get(Organisation, org_id, with_for_update=True)
        if org is None or has_keys(session, org_id):
            raise Refused("keys", _l("The organisation's keys are made already."))
        recovery_text = create_org_keys(session, clock, org, instance_key)
        audit.record(
            session,
            clock,
            action="organisation.keys_created",
            org_id=org_id,
            actor_user_id=actor_id,
        )
    pin_organisation(session, org)
    return recovery_text
