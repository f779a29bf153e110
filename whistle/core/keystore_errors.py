"""What can go wrong with the key store (whistle/core/keystore.py): the exceptions its callers
catch. Their messages say why, and never carry a key."""

from __future__ import annotations

from collections.abc import Collection


class KeyStoreError(Exception):
    """The key store cannot do what was asked; the message says why (never a key)."""


class KeyStoreUnavailable(KeyStoreError):
    """The key store cannot be reached or opened (a server down, a file not readable)."""


class KeyExists(KeyStoreError):
    """:meth:`KeyStore.create` was given a name that exists; nothing was created."""

    def __init__(self, names: Collection[str]) -> None:
        self.names = sorted(names)
        super().__init__(f"{len(self.names)} key name(s) exist already; no key was created")


class ScrubIncomplete(KeyStoreError):
    """The keys were deleted but their bytes may remain (a checkpoint or vacuum could not
    finish, usually because another process held the store). Destroying the same names again
    finishes it; :func:`whistle.core.shredding.finish_destructions` keeps them listed until then."""
