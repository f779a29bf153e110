"""The organisation's upload limits as the administrator sets them: per file, number of files
and together, in one report or message (read back by :mod:`whistle.casefile.limits`). A
refusal is a :class:`~whistle.core.refusals.Refused` naming the form field.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from whistle.admin.org_settings import set_value
from whistle.casefile.limits import upload_limits
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.refusals import Refused

MAX_FILES = 50


def _check(*, file_mb: int, files: int, total_mb: int, ceiling: int) -> None:
    if not 1 <= file_mb <= ceiling:
        raise Refused("file_mb", _l("Choose from %(low)d to %(high)d MB.", low=1, high=ceiling))
    if not 1 <= files <= MAX_FILES:
        raise Refused("files", _l("Choose from %(low)d to %(high)d files.", low=1, high=MAX_FILES))
    if not file_mb <= total_mb <= ceiling:
        raise Refused(
            "total_mb",
            _l(
                "Choose from %(low)d MB (one file) to %(high)d MB (what this installation "
                "accepts in one request).",
                low=file_mb,
                high=ceiling,
            ),
        )


def change_upload_limits(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    *,
    file_mb: int,
    files: int,
    total_mb: int,
    request_mb: int,
) -> bool:
    """Set the limits per file, number of files and together, in one report or message, and
    commit. ``request_mb`` is the deployment's cap on any request (``max_request_mb``): the
    limits stay under it, leaving room for the form itself. True when changed."""
    with unit_of_work(session):
        _check(file_mb=file_mb, files=files, total_mb=total_mb, ceiling=max(1, request_mb - 10))
        current = upload_limits(session, org_id)
        if (current.max_file_mb, current.max_files, current.max_total_mb) == (
            file_mb,
            files,
            total_mb,
        ):
            return False
        set_value(session, org_id, "upload_max_file_mb", file_mb)
        set_value(session, org_id, "upload_max_files", files)
        set_value(session, org_id, "upload_max_total_mb", total_mb)
        audit.record(
            session,
            clock,
            action="settings.uploads_changed",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"file_mb": file_mb, "files": files, "total_mb": total_mb},
        )
        session.flush()
        return True
