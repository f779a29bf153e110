"""Random access to the plaintext of a stored stream (crypto/streams.py's format).

Parsers that jump about a file (``zipfile``, a PDF parser) get a seekable, read-only file
whose reads decrypt and authenticate only the segment they fall in: the file is never whole
in memory, nor in clear on disk. The format, and why a cut or reordered stream cannot pass,
are in crypto/streams.py.
"""

from __future__ import annotations

import io
import os
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag

from crypto._wire import TAG_SIZE, Context
from crypto.errors import OpenError
from crypto.streams import (
    _LAST,
    _NOT_LAST,
    HEADER_SIZE,
    _open_header,
    _read_exact,
    stream_plaintext_size,
)

__all__ = ["SeekableDecryptor"]


class SeekableDecryptor(io.RawIOBase):
    """A read-only, seekable file over the plaintext of a stored stream, in memory of one
    segment: reading at any position decrypts (and authenticates) only the segment it falls
    in. For parsers that jump about a file (``zipfile``, a PDF parser) without the file ever
    being whole in memory or in clear on disk.

    ``src`` must be seekable; it is read with ``os.pread`` when it has a file descriptor, so
    its own position is never moved (another process may share it). Opening checks the
    header (wrong key or ``context`` raise :class:`OpenError` here) and authenticates the last
    segment with its last-segment flag, so a file cut at any point, or with data appended, is
    refused before any byte is read. A segment changed, reordered or spliced in from another
    file raises :class:`OpenError` when it is read. With ``close_source``, closing this
    closes ``src``.
    """

    def __init__(
        self, src: BinaryIO, case_key: bytes, context: Context, *, close_source: bool = False
    ) -> None:
        super().__init__()
        self._src = src
        self._close_source = close_source
        try:
            self._fd: int | None = src.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            self._fd = None
        stored = self._stored_size()
        head = self._read_at(0, HEADER_SIZE)
        self._aead, self._prefix, self._aad, self._segment_size = _open_header(
            head, case_key, context
        )
        self.size = stream_plaintext_size(head, stored)
        full = self._segment_size + TAG_SIZE
        self._segments = max(1, -(-(stored - HEADER_SIZE) // full))
        self._position = 0
        self._index = -1
        self._plain = b""
        self._load(self._segments - 1)

    def _stored_size(self) -> int:
        if self._fd is not None:
            return os.fstat(self._fd).st_size
        end = self._src.seek(0, io.SEEK_END)
        return end

    def _read_at(self, offset: int, size: int) -> bytes:
        if self._fd is not None:
            parts = []
            while size > 0:
                data = os.pread(self._fd, size, offset)
                if not data:
                    break
                parts.append(data)
                offset += len(data)
                size -= len(data)
            return b"".join(parts)
        self._src.seek(offset)
        return _read_exact(self._src, size)

    def _load(self, index: int) -> None:
        if index == self._index:
            return
        full = self._segment_size + TAG_SIZE
        data = self._read_at(HEADER_SIZE + index * full, full)
        last = index == self._segments - 1
        if len(data) < TAG_SIZE or (not last and len(data) != full):
            raise OpenError("encrypted attachment is truncated")
        nonce = self._prefix + index.to_bytes(4, "big") + (_LAST if last else _NOT_LAST)
        try:
            self._plain = self._aead.decrypt(nonce, data, self._aad)
        except InvalidTag:
            raise OpenError() from None
        self._index = index

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` as far as the plaintext goes: never a short read before the end
        (some parsers, qpdf among them, take a short read for the end of the file)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._position < self.size:
            index, start = divmod(self._position, self._segment_size)
            self._load(index)
            count = min(len(view) - filled, len(self._plain) - start)
            view[filled : filled + count] = self._plain[start : start + count]
            self._position += count
            filled += count
        return filled

    def close(self) -> None:
        """Forget the decrypted segment; close ``src`` too if ``close_source`` was given."""
        self._plain = b""
        if self._close_source:
            self._src.close()
        super().close()
