"""Form pieces shared by every audience: validators whose messages are translated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort
from flask_babel import lazy_gettext as _l
from wtforms import Field, Form
from wtforms.validators import ValidationError

from whistle.casefile.access import NoAccess
from whistle.core.addresses import plausible_email
from whistle.core.refusals import Refused
from whistle.core.runtime import db
from whistle.core.storage import StorageError


def valid_email(_form: Form, field: Field) -> None:
    """A plausible e-mail address (delivery is what proves it)."""
    value: Any = field.data or ""
    if not plausible_email(value):
        raise ValidationError(_l("Enter an e-mail address such as name@example.org."))


MAX_ID = 2**31 - 1  # the largest value of an INTEGER column in PostgreSQL


def parse_id(raw: str | None) -> int | None:
    """A number sent as text (an id, a page, a year): ASCII digits up to :data:`MAX_ID`, else
    None. ``str.isdigit()`` alone also accepts "²" and a thousand digits, which ``int()`` or
    the database then refuse with a server error."""
    text = raw or ""
    if 0 < len(text) <= 10 and text.isascii() and text.isdigit() and int(text) <= MAX_ID:
        return int(text)
    return None


def attach_error(form: Form, field_name: str, message: object) -> None:
    """Show ``message`` under the form's field ``field_name`` (the first field if it has none
    of that name: a refusal is never lost)."""
    field = getattr(form, field_name, None) or next(iter(form))
    field.errors = [*field.errors, message]


def show_refusal(form: Form, refused: Refused) -> None:
    """The one mapping of a refusal (:class:`whistle.core.refusals.Refused`): undo the
    transaction, show the message under the field it names; the form keeps what was typed."""
    db().rollback()
    attach_error(form, refused.field, refused.message)


STORAGE_FAILED = _l(
    "The files could not be stored, so nothing was saved or sent. Try again; if it keeps "
    "failing, try without the files."
)


def show_storage_failure(form: Form, field_name: str = "files") -> None:
    """The one mapping of a storage failure (:class:`whistle.core.storage.StorageError`: the
    disk is full, say): undo the transaction and say so under the form, which keeps what was
    typed; the files are to be attached again."""
    db().rollback()
    attach_error(form, field_name, STORAGE_FAILED)


def run_action(form: Any, action: Callable[[], None]) -> bool:
    """Validate ``form`` and run ``action``; True when it was done.

    A refusal is shown under the field it names (:func:`show_refusal`), a storage failure
    under the form (:func:`show_storage_failure`); a user without the keys it needs gets 403.
    """
    if not form.validate_on_submit():
        return False
    try:
        action()
    except Refused as exc:
        show_refusal(form, exc)
        return False
    except StorageError:
        show_storage_failure(form)
        return False
    except NoAccess:
        db().rollback()
        abort(403)
    return True
