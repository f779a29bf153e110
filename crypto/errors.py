"""The two exceptions of the crypto library.

``OpenError`` is the only exception raised when something fails to open: a wrong key or
password, a ciphertext moved to another case, kind or context, tampering, truncation, an
unknown magic or version, a bad signature. Callers catch one type and show one message;
they cannot tell (and so cannot leak to an attacker) *which* check failed, and the message
never carries key material, plaintext or passwords.

``InvalidCaseCode`` and ``InvalidRecoveryKey`` are about input typed by a person, before
any cryptography runs, so that the interface can say "check what you typed".
"""

from __future__ import annotations

__all__ = ["InvalidCaseCode", "InvalidRecoveryKey", "OpenError"]

_DEFAULT_MESSAGE = "could not open: wrong key or context, or damaged or unknown data"


class OpenError(Exception):
    """Something could not be opened, decrypted or verified.

    The message is fixed and generic, or names a public property of the blob (its length or
    version byte); it never contains secret input.
    """

    def __init__(self, message: str = _DEFAULT_MESSAGE) -> None:
        super().__init__(message)


class InvalidCaseCode(ValueError):
    """The text typed as a case code cannot be one (wrong length or characters).

    Raised before any lookup, so a typo never counts as a failed guess. The message never
    repeats the input.
    """


class InvalidRecoveryKey(ValueError):
    """The text typed as a recovery key is malformed or contains a typo.

    ``line`` is the 1-based number of the data line whose check character does not match,
    when the typo can be located; ``None`` otherwise. The message never repeats the input.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line
