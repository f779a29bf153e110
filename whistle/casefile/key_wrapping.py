"""The case's key-encryption key, outside the database, and the stored key rows wrapped
under it: deletion that survives backups.

Every sealed key row, and the reporter's wrapped seed, is stored wrapped once more under the
case's key-encryption key, which lives in the key store outside the database (``case:<uid>``;
whistle/core/keystore.py). Deleting the case destroys that key (whistle/core/shredding.py), so a
copy of the database taken before the deletion opens nothing afterwards, not even with the
organisation's recovery key. Rows from before the key store (a bare sealed key, recognisable by
its header) are read as they are until the upgrade wraps them (whistle/keys/upgrade.py).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crypto import OpenError, decrypt_field, encrypt_field
from whistle.core.contexts import case_key_row_context, reporter_key_row_context
from whistle.core.keystore import of_session
from whistle.core.keystore_errors import KeyExists
from whistle.core.models import Case
from whistle.core.shredding import case_key_name

# A sealed key (W) or the reporter's wrapped seed (R) stored bare, before the key store.
BARE_SEALED = b"WHSW"
BARE_REPORTER = b"WHSR"


def case_kek(session: Session, case_uid: str, *, create: bool = False) -> bytes | None:
    """The case's key-encryption key from the key store; made when ``create`` and missing
    (None when missing: the case was deleted, or damage)."""
    store = of_session(session)
    name = case_key_name(case_uid)
    key = store.get(name)
    if key is None and create:
        try:
            key = store.create([name])[name]
        except KeyExists:  # made by a concurrent request for the same case
            key = store.get(name)
    return key


def wrap_sealed(kek: bytes, case_uid: str, sealed: bytes) -> bytes:
    """A sealed case key as stored: wrapped under the case's key-encryption key."""
    return encrypt_field(kek, sealed, context=case_key_row_context(case_uid))


def unwrap_sealed(kek: bytes | None, case_uid: str, stored: bytes) -> bytes | None:
    """The sealed key in a stored row; None when its key-encryption key is gone."""
    if stored[:4] == BARE_SEALED:
        return stored
    if kek is None:
        return None
    try:
        return decrypt_field(kek, stored, context=case_key_row_context(case_uid))
    except OpenError:
        return None


def wrap_reporter_key(kek: bytes, case_uid: str, wrapped: bytes) -> bytes:
    """The reporter's wrapped seed (R) as stored: wrapped under the case's key-encryption key."""
    return encrypt_field(kek, wrapped, context=reporter_key_row_context(case_uid))


def unwrap_reporter_key(session: Session, case: Case) -> bytes | None:
    """The reporter's R blob of ``case``; None when the case's key-encryption key is gone."""
    stored = case.reporter_key
    if stored[:4] == BARE_REPORTER:
        return stored
    kek = case_kek(session, case.uid)
    if kek is None:
        return None
    try:
        return decrypt_field(kek, stored, context=reporter_key_row_context(case.uid))
    except OpenError:
        return None
