"""Streaming encryption of attachments in constant memory.

Who can read: whoever holds the case content key (reporter and entitled handlers, and the
recovery key holder). Each file gets its own random 256-bit file key, wrapped in the file's
header under the content key with the caller's ``context`` (e.g.
``("attachment", case_id, attachment_id)``) as associated data, so a file moved to another
case or attachment row does not open.

The body is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, CRYPTO 2015) with
AES-256-GCM: fixed-size plaintext segments (64 KiB by default), nonce = 7-byte random prefix
|| 32-bit big-endian segment counter || last-segment flag byte. The counter catches
reordering, duplication and dropped segments; the flag catches truncation, including a cut
exactly at a segment boundary, and data appended after the end; the per-file key and prefix
catch segments spliced in from another file. The fixed part of the header (magic, version,
algorithm, segment size, prefix) is the associated data of every segment.

A reader sees each segment only after it has been authenticated, but whether the file is
*complete* is known only at the end: if iteration raises :class:`OpenError`, everything
yielded so far must be treated as invalid (abort the download, delete the partial file).

Because segments have a fixed size and their nonces a counter, any segment can also be found
and opened on its own: :class:`SeekableDecryptor` is a seekable, read-only file over the
plaintext (what ``zipfile`` and a PDF parser need) that decrypts one segment at a time and
keeps only that one in memory. It opens the last segment first, so a cut file fails at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto._wire import (
    AEAD_AES256GCM,
    KEY_SIZE,
    KIND_STREAM,
    NONCE_SIZE,
    TAG_SIZE,
    Context,
    check_key,
    encode_context,
    expect_header,
    header,
)
from crypto.errors import OpenError

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "HEADER_SIZE",
    "StreamEncryptor",
    "decrypt_stream",
    "decrypt_stream_to",
    "encrypt_stream",
    "stream_plaintext_size",
]

DEFAULT_SEGMENT_SIZE: Final = 64 * 1024
_MIN_SEGMENT_LOG2: Final = 6  # 64 bytes: only useful to tests
_MAX_SEGMENT_LOG2: Final = 22  # 4 MiB: bounds a reader's memory whatever the header says
_PREFIX_SIZE: Final = 7
_MAX_SEGMENTS: Final = 1 << 32
_FIXED: Final = header(KIND_STREAM, bytes((AEAD_AES256GCM,)))
_SEGMENT_AAD_SIZE: Final = len(_FIXED) + 1 + _PREFIX_SIZE
HEADER_SIZE: Final = _SEGMENT_AAD_SIZE + NONCE_SIZE + KEY_SIZE + TAG_SIZE
_NOT_LAST: Final = b"\x00"
_LAST: Final = b"\x01"


def _segment_log2(segment_size: int) -> int:
    log2 = segment_size.bit_length() - 1
    if segment_size != 1 << log2 or not _MIN_SEGMENT_LOG2 <= log2 <= _MAX_SEGMENT_LOG2:
        raise ValueError("segment_size must be a power of two between 64 bytes and 4 MiB")
    return log2


class StreamEncryptor:
    """Incremental encryption of one attachment, for input in chunks of any size (a web
    upload). ``update`` returns ciphertext to append to the stored file (the header comes
    first), ``finalize`` the rest; store the concatenation. Memory stays at about one
    segment whatever the chunk sizes.

    Readable by whoever holds ``case_key`` (the case content key) and knows ``context``.
    """

    __slots__ = (
        "_aad",
        "_aead",
        "_buffer",
        "_counter",
        "_filled",
        "_finished",
        "_header",
        "_held",
        "_prefix",
        "_segment_size",
        "_size",
        "_started",
    )

    def __init__(
        self, case_key: bytes, context: Context, *, segment_size: int = DEFAULT_SEGMENT_SIZE
    ) -> None:
        self._setup(
            case_key,
            context,
            segment_size,
            file_key=secrets.token_bytes(KEY_SIZE),
            prefix=secrets.token_bytes(_PREFIX_SIZE),
            wrap_nonce=secrets.token_bytes(NONCE_SIZE),
        )

    @classmethod
    def _with_randomness(
        cls,
        case_key: bytes,
        context: Context,
        segment_size: int,
        *,
        file_key: bytes,
        prefix: bytes,
        wrap_nonce: bytes,
    ) -> StreamEncryptor:
        """Deterministic construction for known-answer tests only."""
        self = cls.__new__(cls)
        self._setup(
            case_key, context, segment_size, file_key=file_key, prefix=prefix, wrap_nonce=wrap_nonce
        )
        return self

    def _setup(
        self,
        case_key: bytes,
        context: Context,
        segment_size: int,
        *,
        file_key: bytes,
        prefix: bytes,
        wrap_nonce: bytes,
    ) -> None:
        check_key(case_key, "case key")
        fixed = _FIXED + bytes((_segment_log2(segment_size),)) + prefix
        wrap_aad = fixed + encode_context(context)
        wrapped = AESGCM(case_key).encrypt(wrap_nonce, file_key, wrap_aad)
        self._header = fixed + wrap_nonce + wrapped
        self._aad = fixed
        self._aead = AESGCM(file_key)
        self._prefix = prefix
        self._segment_size = segment_size
        self._buffer = bytearray(segment_size)
        self._filled = 0
        self._held: memoryview | None = None
        self._counter = 0
        self._size = 0
        self._started = False
        self._finished = False

    @property
    def plaintext_size(self) -> int:
        """Bytes of plaintext taken in so far."""
        return self._size

    def _seal(self, data: bytes | bytearray | memoryview, last: bool) -> bytes:
        if self._counter >= _MAX_SEGMENTS:
            raise ValueError("stream too long for one file key")
        nonce = self._prefix + self._counter.to_bytes(4, "big") + (_LAST if last else _NOT_LAST)
        self._counter += 1
        return self._aead.encrypt(nonce, data, self._aad)

    def update(self, chunk: bytes | bytearray | memoryview) -> bytes:
        """Take ``chunk`` of plaintext; return the ciphertext that is ready (maybe empty).

        A full segment is held back until more data or :meth:`finalize` arrives, because
        only then is it known whether it is the last one.
        """
        if self._finished:
            raise ValueError("update() after finalize()")
        filled = self._filled
        if (
            self._started
            and self._held is None
            and isinstance(chunk, bytes | bytearray)
            and filled + len(chunk) <= self._segment_size
        ):
            # Fast path for small chunks (a web upload arrives in pieces of a few KiB).
            self._buffer[filled : filled + len(chunk)] = chunk
            self._filled = filled + len(chunk)
            self._size += len(chunk)
            return b""
        out: list[bytes] = []
        if not self._started:
            out.append(self._header)
            self._started = True
        view = memoryview(chunk).cast("B")
        self._size += len(view)
        size = self._segment_size
        held = self._held
        if held is not None:
            self._held = None
            if len(view):
                out.append(self._seal(held, last=False))
            else:
                self._buffer[:] = held
                self._filled = size
        # The buffer is allocated once at full segment size and filled by slice assignment,
        # so small chunks cost one copy each and no reallocation.
        buffer = self._buffer
        filled = self._filled
        if filled + len(view) > size:
            if filled:
                take = size - filled
                buffer[filled:] = view[:take]
                view = view[take:]
                out.append(self._seal(buffer, last=False))
                filled = 0
            while len(view) > size:
                out.append(self._seal(view[:size], last=False))
                view = view[size:]
        if not filled and len(view) == size and isinstance(view.obj, bytes):
            # A whole segment of immutable input: keep a reference instead of copying it.
            self._held = view
            self._filled = 0
        else:
            buffer[filled : filled + len(view)] = view
            self._filled = filled + len(view)
        return out[0] if len(out) == 1 else b"".join(out)

    def _encrypt_file(self, src: BinaryIO, dst: BinaryIO) -> None:
        """Whole-file fast path for :func:`encrypt_stream`: read segment-sized blocks into
        two reused buffers (no per-segment allocation or buffering copy), look one block
        ahead to know which segment is last."""
        if self._started or self._finished:
            raise ValueError("encryptor already in use")
        self._started = True
        write = _writer(dst)
        write(self._header)
        size = self._segment_size
        fill = _filler(src)
        current = bytearray(size)
        following = bytearray(size)
        have = fill(current)
        while True:
            ahead = fill(following) if have == size else 0
            last = ahead == 0
            write(self._seal(current if have == size else memoryview(current)[:have], last))
            self._size += have
            if last:
                break
            current, following = following, current
            have = ahead
        self._finished = True

    def finalize(self) -> bytes:
        """Seal the last segment (possibly empty) with the last-segment flag set, and return
        the remaining ciphertext. The encryptor cannot be used afterwards."""
        if self._finished:
            raise ValueError("finalize() called twice")
        out = b"" if self._started else self._header
        self._started = True
        held = self._held
        pending = held if held is not None else memoryview(self._buffer)[: self._filled]
        last = self._seal(pending, last=True)
        self._held = None
        self._buffer = bytearray()
        self._filled = 0
        self._finished = True
        return out + last


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    case_key: bytes,
    context: Context,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> int:
    """Encrypt everything readable from ``src`` into ``dst`` under a fresh file key wrapped
    with ``case_key`` (the case content key) and bound to ``context``. Constant memory.

    Returns the number of plaintext bytes read. The output is the same format as
    :class:`StreamEncryptor` produces (this is that encryptor, fed whole segments).
    """
    encryptor = StreamEncryptor(case_key, context, segment_size=segment_size)
    encryptor._encrypt_file(src, dst)
    return encryptor.plaintext_size


def _writer(dst: BinaryIO) -> Callable[[bytes | bytearray | memoryview], None]:
    """``dst.write`` that also finishes partial writes (a raw, unbuffered file or pipe may
    take fewer bytes than offered)."""
    raw_write = dst.write

    def write(data: bytes | bytearray | memoryview) -> None:
        written = raw_write(data)
        if written is None:
            raise BlockingIOError("the destination would block")
        if written < len(data):
            view = memoryview(data)[written:]
            while view:
                count = raw_write(view)
                if not count:
                    raise OSError("the destination accepts no more data")
                view = view[count:]

    return write


def _read_exact(src: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at end of input (tolerates short reads)."""
    data = src.read(size)
    if not data or len(data) == size:
        return data or b""
    parts = [data]
    got = len(data)
    while got < size:
        more = src.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _filler(src: BinaryIO) -> Callable[[bytearray], int]:
    """A function that fills a buffer from ``src`` and returns how many bytes it got;
    fewer than the buffer's size only at end of input. Uses ``readinto`` where the source
    has it, so segments are read without allocating (this keeps decryption near bare
    AES-GCM speed)."""
    readinto: Callable[[memoryview], int | None] | None = getattr(src, "readinto", None)
    if readinto is None:

        def fill_by_read(buffer: bytearray) -> int:
            data = _read_exact(src, len(buffer))
            buffer[: len(data)] = data
            return len(data)

        return fill_by_read

    def fill(buffer: bytearray) -> int:
        view = memoryview(buffer)
        got = 0
        while got < len(buffer):
            count = readinto(view[got:])
            if not count:
                break
            got += count
        return got

    return fill


def _segments(
    src: BinaryIO, aead: AESGCM, prefix: bytes, aad: bytes, segment_size: int
) -> Iterator[bytes]:
    full = segment_size + TAG_SIZE
    fill = _filler(src)
    current = bytearray(full)
    following = bytearray(full)
    have = fill(current)
    counter = 0
    while True:
        # Look one segment ahead: a segment is the last one exactly when nothing follows it.
        ahead = fill(following) if have == full else 0
        last = ahead == 0
        if have < TAG_SIZE or counter >= _MAX_SEGMENTS:
            raise OpenError("encrypted attachment is truncated")
        nonce = prefix + counter.to_bytes(4, "big") + (_LAST if last else _NOT_LAST)
        data = current if have == full else memoryview(current)[:have]
        try:
            plaintext = aead.decrypt(nonce, data, aad)
        except InvalidTag:
            raise OpenError() from None
        yield plaintext
        if last:
            return
        counter += 1
        current, following = following, current
        have = ahead


def _open_header(
    head: bytes, case_key: bytes, context: Context
) -> tuple[AESGCM, bytes, bytes, int]:
    """(segment AEAD, nonce prefix, segment associated data, segment size) from a header."""
    check_key(case_key, "case key")
    expect_header(head, _FIXED, "encrypted attachment")
    if len(head) != HEADER_SIZE:
        raise OpenError("encrypted attachment is truncated")
    log2 = head[len(_FIXED)]
    if not _MIN_SEGMENT_LOG2 <= log2 <= _MAX_SEGMENT_LOG2:
        raise OpenError("unsupported segment size")
    fixed = head[:_SEGMENT_AAD_SIZE]
    wrap_nonce = head[_SEGMENT_AAD_SIZE : _SEGMENT_AAD_SIZE + NONCE_SIZE]
    try:
        file_key = AESGCM(case_key).decrypt(
            wrap_nonce, head[_SEGMENT_AAD_SIZE + NONCE_SIZE :], fixed + encode_context(context)
        )
    except InvalidTag:
        raise OpenError() from None
    return AESGCM(file_key), fixed[len(_FIXED) + 1 :], fixed, 1 << log2


def decrypt_stream(src: BinaryIO, case_key: bytes, context: Context) -> Iterator[bytes]:
    """Decrypt an attachment from :func:`encrypt_stream` or :class:`StreamEncryptor`,
    yielding plaintext one authenticated segment at a time (constant memory).

    The header is checked at once, before this returns: a wrong key or ``context``, or an
    unknown version, raises :class:`OpenError` here, before any response has started.
    Truncation, reordering, splicing or appended data raise :class:`OpenError` during
    iteration; a consumer must then treat all output already received as invalid (abort the
    download, delete a partial file).
    """
    aead, prefix, aad, segment_size = _open_header(_read_exact(src, HEADER_SIZE), case_key, context)
    return _segments(src, aead, prefix, aad, segment_size)


def decrypt_stream_to(src: BinaryIO, dst: BinaryIO, case_key: bytes, context: Context) -> int:
    """Decrypt an attachment from ``src`` into ``dst``; returns the plaintext size.

    On :class:`OpenError` ``dst`` holds a partial, unverified prefix: the caller must
    discard it.
    """
    written = 0
    write = _writer(dst)
    for segment in decrypt_stream(src, case_key, context):
        write(segment)
        written += len(segment)
    return written


def stream_plaintext_size(head: bytes, stored_size: int) -> int:
    """The number of plaintext bytes in a stored attachment of ``stored_size`` bytes whose
    first bytes are ``head`` (at least the 7 bytes up to the segment size; reading
    :data:`HEADER_SIZE` is simplest), from the format alone, without any key.

    Every segment but the last holds S plaintext bytes and the last 0 to S, each followed by
    a 16-byte tag, after the 74-byte header: so the body of B bytes has ⌈B / (S + 16)⌉
    segments and B - 16 · ⌈B / (S + 16)⌉ plaintext bytes. Use this, not a size recorded
    elsewhere, as the length of a download: it is what :func:`decrypt_stream` yields if
    the file is whole, and if the file was cut or extended decryption fails anyway.
    Raises :class:`OpenError` if ``head`` is not a stream header or no stream has this size.
    """
    expect_header(head, _FIXED, "encrypted attachment")
    if len(head) <= len(_FIXED):
        raise OpenError("encrypted attachment is truncated")
    log2 = head[len(_FIXED)]
    if not _MIN_SEGMENT_LOG2 <= log2 <= _MAX_SEGMENT_LOG2:
        raise OpenError("unsupported segment size")
    body = stored_size - HEADER_SIZE
    full = (1 << log2) + TAG_SIZE
    segments = -(-body // full)  # ceiling division
    last = body - (segments - 1) * full
    if body < TAG_SIZE or last < TAG_SIZE or segments > _MAX_SEGMENTS:
        raise OpenError("encrypted attachment is truncated")
    return body - segments * TAG_SIZE
