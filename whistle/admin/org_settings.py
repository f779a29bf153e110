"""An organisation's stored settings: one JSON value per key (``org_settings``), read and
written by the admin console's settings modules (logo, the reporting channel, upload limits).
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.core.models import OrgSetting


def set_value(session: Session, org_id: int, key: str, value: object) -> None:
    """Store ``value`` (as JSON) under ``key`` for ``org_id``, replacing what was there."""
    row = session.get(OrgSetting, (org_id, key))
    text = json.dumps(value)
    if row is None:
        session.add(OrgSetting(org_id=org_id, key=key, value=text))
    else:
        row.value = text


def get_value(session: Session, org_id: int, key: str) -> object:
    """The value stored under ``key`` for ``org_id``; None when unset or unreadable."""
    stored = session.scalar(
        select(OrgSetting.value).where(OrgSetting.org_id == org_id, OrgSetting.key == key)
    )
    if stored is None:
        return None
    try:
        return json.loads(stored)
    except ValueError:
        return None
