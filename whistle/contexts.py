"""What each ciphertext of a case is bound to, in one place.

A context is authenticated with the ciphertext (crypto/), so a blob copied to another case,
another record or another field fails to open instead of showing the wrong text.
"""

from __future__ import annotations


def report_context(case_uid: str) -> tuple[str, str]:
    return ("report", case_uid)


def identity_context(case_uid: str) -> tuple[str, str]:
    return ("identity", case_uid)


def nudge_context(case_uid: str) -> tuple[str, str]:
    return ("nudge-address", case_uid)


def message_context(case_uid: str, message_uid: str) -> tuple[str, str, str]:
    return ("message", case_uid, message_uid)


def attachment_context(case_uid: str, storage_name: str) -> tuple[str, str, str]:
    return ("attachment", case_uid, storage_name)


def attachment_name_context(case_uid: str, storage_name: str) -> tuple[str, str, str]:
    return ("attachment-name", case_uid, storage_name)
