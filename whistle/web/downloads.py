"""Sending a decrypted attachment to the browser, for the reporter's and the handlers' side.

The body is the stream of authenticated plaintext from whistle/casefile/conversation.py (never the
whole file in memory); the file is always offered as a download, never shown inline, so a
reporter's HTML or SVG file cannot run in Whistle's origin.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import quote

from flask_babel import gettext as _
from werkzeug.wrappers import Response

from whistle.casefile.conversation import FileDamaged, FileGone, FileView
from whistle.core import dates
from whistle.web.errors import render_error

log = logging.getLogger(__name__)


def attachment_disposition(name: str) -> str:
    """``Content-Disposition`` for ``name``: an ASCII fallback and the exact UTF-8 name."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def download_response(view: FileView, chunks: Iterator[bytes]) -> Response:
    """A streamed download of one decrypted file, ``view`` and ``chunks`` as
    whistle.casefile.conversation.open_file gives them: its ``size`` comes from the stored
    ciphertext."""
    response = Response(chunks, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = attachment_disposition(view.name)
    response.headers["Content-Length"] = str(view.size)
    return response


def gone_page(gone: FileGone) -> tuple[str, int]:
    """The page for a file that was purged as manifestly irrelevant (410 Gone)."""
    return render_error(
        410,
        _("File removed"),
        _(
            "This file was removed on %(day)s as irrelevant to the report.",
            day=dates.day(gone.purged_on, dates.reader_locale()),
        ),
    )


def log_damage(damaged: FileDamaged) -> None:
    """Tell the operator which attachment to restore from a backup (its id only: no name, no
    content)."""
    log.error(
        "attachment %d could not be opened: its stored file is damaged", damaged.attachment_id
    )


def damaged_page(damaged: FileDamaged) -> tuple[str, int]:
    """The page for a stored file that cannot be opened (500: the fault is the server's)."""
    log_damage(damaged)
    return render_error(
        500,
        _("This file is damaged"),
        _(
            "The stored copy of this file cannot be opened, so it cannot be downloaded. "
            "Nothing else is affected. Please tell the whistleblower unit or the "
            "administrator, who can restore it from a backup."
        ),
    )
