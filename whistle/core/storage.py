"""The file store: encrypted attachments as files, with one choke point for paths.

Files are named by random hex ids chosen by the server, never by anything a person typed, and
:meth:`FileStore.path` refuses any other shape, so no request can reach outside the store.
Writes go to a temporary name and are renamed into place only when complete and flushed to
disk, so a crash mid-upload never leaves a half file under a real name.

:class:`Store` is what the rest of the app uses of a store; :class:`FileStore` (a folder, the
default) and :class:`~whistle.core.db_storage.DatabaseStore` (chunks in the application
database, for several app machines without a shared file system) are its two backends, chosen
by the ``file_store_backend`` setting (:func:`~whistle.core.db_storage.open_store`). Both hold
the same bytes: ciphertext under a key of each file's own in the key store.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

NAME_RE = re.compile(r"^[0-9a-f]{32}$")
PARTIAL_SUFFIX = ".partial"


class StorageError(Exception):
    """The store could not write (disk full, permissions); nothing was stored."""


@dataclass
class StoreEntries:
    """What a store holds, by kind, for ``whistle doctor`` (names are random ids, never content)."""

    files: dict[str, float] = field(default_factory=dict)  # name -> when written (Unix time)
    # "<name>.partial" -> when the write began: writes that never finished
    partials: dict[str, float] = field(default_factory=dict)
    foreign: int = 0  # anything else in the store: reported, never touched


class Store(Protocol):
    """A file store, as the app uses it (every caller takes one of these)."""

    def new_name(self) -> str:
        """A fresh random name for a file to write."""
        ...

    def writer(self, name: str) -> AbstractContextManager[BinaryIO]:
        """Write file ``name``; it appears only if the block completes without error.
        :class:`StorageError` when the store refuses; nothing is left under ``name`` then."""
        ...

    def open(self, name: str) -> BinaryIO:
        """Complete file ``name`` for reading, seekable; FileNotFoundError if there is none."""
        ...

    def size(self, name: str) -> int:
        """The size of complete file ``name``; FileNotFoundError if there is none."""
        ...

    def delete(self, name: str) -> None:
        """Remove file ``name``; nothing happens if there is none."""
        ...

    def exists(self, name: str) -> bool:
        """Whether complete file ``name`` is stored."""
        ...

    def names(self) -> Iterator[str]:
        """Every complete stored file."""
        ...

    def scan(self) -> StoreEntries:
        """Everything in the store, complete or not (``whistle doctor``)."""
        ...

    def delete_partial(self, partial: str) -> None:
        """Remove the unfinished write ``partial`` ("<name>.partial", from :meth:`scan`)."""
        ...


class FileStore:
    """The store as a folder: ``<root>/<first two hex digits>/<name>``."""

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

    def size(self, name: str) -> int:
        return self.path(name).stat().st_size

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

    def scan(self) -> StoreEntries:
        """Every entry of the folder with its modification time."""
        scan = StoreEntries()
        if not self.root.exists():
            return scan
        for folder in self.root.iterdir():
            if not folder.is_dir() or len(folder.name) != 2:
                scan.foreign += 1
                continue
            for child in folder.iterdir():
                try:
                    mtime = child.stat().st_mtime
                except FileNotFoundError:  # removed while we looked (a finished or failed upload)
                    continue
                name = child.name
                if NAME_RE.match(name) and name[:2] == folder.name:
                    scan.files[name] = mtime
                elif (
                    name.endswith(PARTIAL_SUFFIX)
                    and NAME_RE.match(name.removesuffix(PARTIAL_SUFFIX))
                    and name[:2] == folder.name
                ):
                    scan.partials[name] = mtime
                else:
                    scan.foreign += 1
        return scan

    def delete_partial(self, partial: str) -> None:
        path = self.path(partial.removesuffix(PARTIAL_SUFFIX)).with_name(partial)
        path.unlink(missing_ok=True)
