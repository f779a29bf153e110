"""The file store: encrypted attachments as files, with one choke point for paths.

Files are named by random hex ids chosen by the server, never by anything a person typed, and
:meth:`FileStore.path` refuses any other shape, so no request can reach outside the store.
Writes go to a temporary name and are renamed into place only when complete and flushed to
disk, so a crash mid-upload never leaves a half file under a real name.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

NAME_RE = re.compile(r"^[0-9a-f]{32}$")
PARTIAL_SUFFIX = ".partial"


class StorageError(Exception):
    """The store could not write (disk full, permissions); nothing was stored."""


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def new_name() -> str:
        return secrets.token_hex(16)

    def path(self, name: str) -> Path:
        """The path of stored file ``name``; ValueError for anything but a store name."""
        if not NAME_RE.match(name):
            raise ValueError("not a file-store name")
        return self.root / name[:2] / name

    @contextmanager
    def writer(self, name: str) -> Iterator[BinaryIO]:
        """Write file ``name``; it appears only if the block completes without error."""
        final = self.path(name)
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        try:
            # Inside the try: a full disk or a store out of inodes refuses the folder too.
            final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StorageError(type(exc).__name__) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def open(self, name: str) -> BinaryIO:
        return self.path(name).open("rb")

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def names(self) -> Iterator[str]:
        """Every complete stored file (for consistency checks)."""
        if not self.root.exists():
            return
        for child in self.root.glob("??/*"):
            if NAME_RE.match(child.name):
                yield child.name
