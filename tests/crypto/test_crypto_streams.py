"""Attachments: streamed in constant memory, and any change to the stored file (a flipped
bit, a cut, segments reordered, duplicated, dropped, spliced from another file, or data
appended) makes reading fail."""

from __future__ import annotations

import hashlib
import io
import itertools
import tempfile
import tracemalloc
from typing import IO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto.streams import HEADER_SIZE, StreamEncryptor

KEY = bytes(range(32))
CONTEXT: crypto.Context = ("attachment", 42, "f-1")
SEG = 64  # small segments so that short inputs have many of them
CT_SEG = SEG + 16


def encrypt(data: bytes, *, context: crypto.Context = CONTEXT, segment_size: int = SEG) -> bytes:
    out = io.BytesIO()
    size = crypto.encrypt_stream(io.BytesIO(data), out, KEY, context, segment_size=segment_size)
    assert size == len(data)
    return out.getvalue()


def decrypt(blob: bytes, *, context: crypto.Context = CONTEXT, key: bytes = KEY) -> bytes:
    return b"".join(crypto.decrypt_stream(io.BytesIO(blob), key, context))


def segments(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[i : i + CT_SEG] for i in range(0, len(body), CT_SEG)]


def assert_refused(blob: bytes, **kwargs: object) -> None:
    with pytest.raises(crypto.OpenError):
        decrypt(blob, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG + 5])
def test_round_trip_around_segment_boundaries(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    blob = encrypt(data)
    segment_count = max(1, -(-size // SEG))
    assert len(blob) == HEADER_SIZE + size + 16 * segment_count
    assert decrypt(blob) == data


def test_round_trip_with_default_segments_and_file_objects() -> None:
    data = bytes(range(256)) * 1000  # 256 000 bytes: four segments of 64 KiB
    stored = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(data), stored, KEY, CONTEXT)
    stored.seek(0)
    out = io.BytesIO()
    assert crypto.decrypt_stream_to(stored, out, KEY, CONTEXT) == len(data)
    assert out.getvalue() == data
    pieces = list(crypto.decrypt_stream(io.BytesIO(stored.getvalue()), KEY, CONTEXT))
    assert [len(p) for p in pieces] == [65536, 65536, 65536, 256000 - 3 * 65536]


@given(
    data=st.binary(max_size=700),
    cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=12),
    kinds=st.lists(st.sampled_from(["bytes", "bytearray", "memoryview"]), min_size=1),
)
@settings(max_examples=80, deadline=None)
def test_chunked_updates_of_any_size_give_exactly_the_file_encrypt_stream_gives(
    data: bytes, cuts: list[int], kinds: list[str]
) -> None:
    randomness = {"file_key": bytes(32), "prefix": bytes(7), "wrap_nonce": bytes(12)}
    whole = StreamEncryptor._with_randomness(KEY, CONTEXT, SEG, **randomness)
    reference = io.BytesIO()
    whole._encrypt_file(io.BytesIO(data), reference)

    chunked = StreamEncryptor._with_randomness(KEY, CONTEXT, SEG, **randomness)
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    out = []
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        piece = data[start:end]
        kind = kinds[index % len(kinds)]
        chunk = (
            bytearray(piece)
            if kind == "bytearray"
            else memoryview(piece)
            if kind == "memoryview"
            else piece
        )
        out.append(chunked.update(chunk))
        if isinstance(chunk, bytearray):
            chunk[:] = b"\xee" * len(chunk)  # the caller reuses its buffer
    out.append(chunked.finalize())
    assert b"".join(out) == reference.getvalue()
    assert chunked.plaintext_size == len(data)
    assert decrypt(reference.getvalue()) == data


def test_encryptor_refuses_use_after_finalize() -> None:
    encryptor = crypto.StreamEncryptor(KEY, CONTEXT)
    assert encryptor.finalize()
    with pytest.raises(ValueError):
        encryptor.update(b"x")
    with pytest.raises(ValueError):
        encryptor.finalize()


@pytest.mark.parametrize("segment_size", [0, 32, 100, 1 << 23])
def test_segment_size_must_be_a_sane_power_of_two(segment_size: int) -> None:
    with pytest.raises(ValueError):
        crypto.StreamEncryptor(KEY, CONTEXT, segment_size=segment_size)


def test_wrong_key_or_context_fails_before_any_output() -> None:
    blob = encrypt(b"evidence" * 50)
    with pytest.raises(crypto.OpenError):
        crypto.decrypt_stream(io.BytesIO(blob), bytes(32), CONTEXT)  # raised by the call itself
    for other in [("attachment", 42, "f-2"), ("attachment", 43, "f-1"), ("report", 42, "f-1")]:
        with pytest.raises(crypto.OpenError):
            crypto.decrypt_stream(io.BytesIO(blob), KEY, other)


def test_each_file_has_its_own_key_and_prefix() -> None:
    first, second = encrypt(b"same"), encrypt(b"same")
    assert first[7:14] != second[7:14]  # nonce prefix
    assert first[HEADER_SIZE:] != second[HEADER_SIZE:]


FIVE_SEGMENTS = bytes(i % 256 for i in range(4 * SEG + 10))


@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_flipping_any_bit_is_detected(data: st.DataObject) -> None:
    blob = bytearray(encrypt(FIVE_SEGMENTS))
    bit = data.draw(st.integers(min_value=0, max_value=len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    assert_refused(bytes(blob))


def test_cutting_at_any_point_is_detected() -> None:
    blob = encrypt(FIVE_SEGMENTS)
    for cut in range(len(blob)):
        assert_refused(blob[:cut])


def test_cutting_at_a_segment_boundary_is_detected() -> None:
    # Every remaining segment is whole and authentic; only the last-segment flag tells.
    for blob in (encrypt(FIVE_SEGMENTS), encrypt(bytes(3 * SEG))):
        header, parts = segments(blob)
        for keep in range(len(parts)):
            assert_refused(header + b"".join(parts[:keep]))


def reordered(parts: list[bytes]) -> list[list[bytes]]:
    """The five segments swapped, duplicated, dropped in the middle or at the end, or with
    the last one moved forward."""
    return [
        [parts[1], parts[0], *parts[2:]],
        [*parts[:2], parts[1], *parts[2:]],
        [parts[0], *parts[2:]],
        parts[:4],
        [*parts[:3], parts[4], parts[3]],
    ]


def test_reordered_duplicated_or_dropped_segments_are_detected() -> None:
    header, parts = segments(encrypt(FIVE_SEGMENTS))
    assert len(parts) == 5
    for variant in reordered(parts):
        assert_refused(header + b"".join(variant))
    assert decrypt(header + b"".join(parts)) == FIVE_SEGMENTS


@given(index=st.integers(min_value=0, max_value=4))
@settings(max_examples=10, deadline=None)
def test_segments_spliced_from_another_file_with_the_same_key_are_detected(index: int) -> None:
    header_a, parts_a = segments(encrypt(FIVE_SEGMENTS))
    header_b, parts_b = segments(encrypt(FIVE_SEGMENTS))  # same key, context and plaintext
    spliced = list(parts_a)
    spliced[index] = parts_b[index]
    assert_refused(header_a + b"".join(spliced))
    assert_refused(header_b + b"".join(parts_a))  # another file's header


def test_appended_data_is_detected() -> None:
    blob = encrypt(FIVE_SEGMENTS)
    _, parts = segments(blob)
    _, other_parts = segments(encrypt(FIVE_SEGMENTS + bytes(SEG)))
    for extra in (b"\x00", bytes(16), parts[-1], other_parts[-1], bytes(CT_SEG)):
        assert_refused(blob + extra)
    full = encrypt(bytes(2 * SEG))
    assert_refused(full + segments(full)[1][-1])


@pytest.mark.parametrize(
    ("offset", "value"), [(0, 0), (3, ord("F")), (4, 2), (5, 2), (6, 5), (6, 23), (6, 17)]
)
def test_unknown_header_bytes_are_refused(offset: int, value: int) -> None:
    blob = bytearray(encrypt(b"abc"))
    blob[offset] = value
    assert_refused(bytes(blob))


def test_header_alone_or_empty_input_is_refused() -> None:
    blob = encrypt(b"")
    assert decrypt(blob) == b""
    assert_refused(blob[:HEADER_SIZE])
    assert_refused(b"")


# --- the plaintext length, from the stored size and the header ---------------------------------


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=12 * 256),
    log2=st.integers(min_value=6, max_value=8),
    chunk=st.integers(min_value=1, max_value=700),
)
def test_the_plaintext_size_follows_from_the_stored_size_and_the_header(
    size: int, log2: int, chunk: int
) -> None:
    data = bytes(i % 251 for i in range(size))
    whole = encrypt(data, segment_size=1 << log2)
    encryptor = StreamEncryptor(KEY, CONTEXT, segment_size=1 << log2)
    pieces = [encryptor.update(data[i : i + chunk]) for i in range(0, size, chunk)]
    chunked = b"".join(pieces) + encryptor.finalize()
    for blob in (whole, chunked):
        assert crypto.stream_plaintext_size(blob[: crypto.STREAM_HEADER_SIZE], len(blob)) == size
        assert len(decrypt(blob)) == size


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536])
def test_the_plaintext_size_with_the_default_segments(size: int) -> None:
    stored = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(bytes(size)), stored, KEY, CONTEXT)
    blob = stored.getvalue()
    assert crypto.stream_plaintext_size(blob[:HEADER_SIZE], len(blob)) == size
    assert crypto.stream_plaintext_size(blob, len(blob)) == size  # more than the header is fine


def test_a_stored_size_no_stream_can_have_is_refused() -> None:
    header = encrypt(b"")[:HEADER_SIZE]
    # A body shorter than one tag, or a last segment shorter than its tag.
    for body in [*range(16), *(k * CT_SEG + r for k in (1, 2, 5) for r in range(1, 16))]:
        with pytest.raises(crypto.OpenError):
            crypto.stream_plaintext_size(header, HEADER_SIZE + body)
    # The sizes around them are real streams.
    assert crypto.stream_plaintext_size(header, HEADER_SIZE + 16) == 0
    assert crypto.stream_plaintext_size(header, HEADER_SIZE + CT_SEG) == SEG
    assert crypto.stream_plaintext_size(header, HEADER_SIZE + CT_SEG + 16) == SEG


@pytest.mark.parametrize(
    ("offset", "value"), [(0, 0), (3, ord("F")), (4, 2), (5, 2), (6, 5), (6, 23)]
)
def test_the_plaintext_size_of_a_foreign_or_damaged_header_is_refused(
    offset: int, value: int
) -> None:
    blob = bytearray(encrypt(b"abc"))
    blob[offset] = value
    with pytest.raises(crypto.OpenError):
        crypto.stream_plaintext_size(bytes(blob[:HEADER_SIZE]), len(blob))
    with pytest.raises(crypto.OpenError):
        crypto.stream_plaintext_size(bytes(encrypt(b"abc")[:6]), len(blob))


class Trickle(io.RawIOBase):
    """A source that returns at most ``step`` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._step, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


class ReadOnly:
    """A source with ``read`` and no ``readinto``."""

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._io.read(min(size, 7))


@pytest.mark.parametrize("step", [1, 13, 79, 1000])
def test_short_reads_from_slow_sources_are_handled(step: int) -> None:
    blob = encrypt(FIVE_SEGMENTS)
    assert b"".join(crypto.decrypt_stream(Trickle(blob, step), KEY, CONTEXT)) == FIVE_SEGMENTS
    out = io.BytesIO()
    crypto.encrypt_stream(Trickle(FIVE_SEGMENTS, step), out, KEY, CONTEXT, segment_size=SEG)  # type: ignore[arg-type]
    assert decrypt(out.getvalue()) == FIVE_SEGMENTS


def test_sources_without_readinto_work() -> None:
    blob = encrypt(FIVE_SEGMENTS)
    assert b"".join(crypto.decrypt_stream(ReadOnly(blob), KEY, CONTEXT)) == FIVE_SEGMENTS  # type: ignore[arg-type]
    out = io.BytesIO()
    crypto.encrypt_stream(ReadOnly(FIVE_SEGMENTS), out, KEY, CONTEXT, segment_size=SEG)  # type: ignore[arg-type]
    assert decrypt(out.getvalue()) == FIVE_SEGMENTS


# --- constant memory -------------------------------------------------------------------------

BIG = 200 * 1024 * 1024
MEMORY_LIMIT = 16 * 1024 * 1024


class Pattern(io.RawIOBase):
    """``size`` bytes generated on demand (each 64 KiB block starts with its index, so
    reordered blocks would change the digest); hashes what it hands out."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._position = 0
        self._block = bytearray(bytes(range(256)) * 256)
        self.digest = hashlib.md5(usedforsecurity=False)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        total = min(len(view), self._left)
        done = 0
        while done < total:
            offset = self._position % 65536
            if offset == 0:
                self._block[:8] = (self._position // 65536).to_bytes(8, "big")
            n = min(total - done, 65536 - offset)
            view[done : done + n] = self._block[offset : offset + n]
            done += n
            self._position += n
        self._left -= total
        self.digest.update(view[:total])
        return total


class HashSink(io.RawIOBase):
    """Keeps a digest and a count of what is written, not the bytes."""

    def __init__(self) -> None:
        self.count = 0
        self.digest = hashlib.md5(usedforsecurity=False)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.count += len(data)
        return len(data)


class EncryptingSource(io.RawIOBase):
    """Ciphertext produced on demand by a StreamEncryptor from another source: lets the
    decryption side read a 200 MB file that never exists anywhere."""

    def __init__(self, plain: io.RawIOBase) -> None:
        self._plain = plain
        self._encryptor = crypto.StreamEncryptor(KEY, CONTEXT)
        self._pending = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            chunk = self._plain.read(50_000)  # deliberately not the segment size
            if chunk:
                self._pending = memoryview(self._encryptor.update(chunk))
            else:
                self._pending = memoryview(self._encryptor.finalize())
                self._done = True
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def peak_memory(action: object) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        action()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_200_mb_attachment_encrypts_in_constant_memory() -> None:
    source, sink = Pattern(BIG), HashSink()
    peak = peak_memory(lambda: crypto.encrypt_stream(source, sink, KEY, CONTEXT))
    segments_count = BIG // crypto.DEFAULT_SEGMENT_SIZE  # the last one is full and flagged
    assert sink.count == HEADER_SIZE + BIG + 16 * segments_count
    assert peak < MEMORY_LIMIT, f"peak {peak / 2**20:.1f} MiB"


def test_a_200_mb_attachment_decrypts_in_constant_memory() -> None:
    source, sink = Pattern(BIG), HashSink()
    peak = peak_memory(
        lambda: crypto.decrypt_stream_to(EncryptingSource(source), sink, KEY, CONTEXT)
    )
    assert sink.count == BIG
    assert sink.digest.digest() == source.digest.digest()
    assert peak < MEMORY_LIMIT, f"peak {peak / 2**20:.1f} MiB"


class Dribble(io.RawIOBase):
    """A destination that accepts at most 7 bytes per write, like a raw pipe."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        taken = bytes(memoryview(data)[:7])
        self.data += taken
        return len(taken)


def test_partial_writes_are_completed() -> None:
    encrypted = Dribble()
    crypto.encrypt_stream(io.BytesIO(FIVE_SEGMENTS), encrypted, KEY, CONTEXT, segment_size=SEG)  # type: ignore[arg-type]
    assert decrypt(bytes(encrypted.data)) == FIVE_SEGMENTS
    decrypted = Dribble()
    crypto.decrypt_stream_to(io.BytesIO(bytes(encrypted.data)), decrypted, KEY, CONTEXT)  # type: ignore[arg-type]
    assert bytes(decrypted.data) == FIVE_SEGMENTS


# --- Random access: SeekableDecryptor ------------------------------------------------------


def read_backwards(blob: bytes, *, on_disk: bool = False) -> bytes:
    """Every byte through :class:`crypto.SeekableDecryptor`, last segment first, then a few
    bytes from odd positions, as a parser that jumps about reads (on a real file the reader
    uses ``pread``)."""
    src: IO[bytes] = tempfile.TemporaryFile() if on_disk else io.BytesIO()  # noqa: SIM115
    with src:
        src.write(blob)
        src.flush()
        reader = crypto.SeekableDecryptor(src, KEY, CONTEXT)
        size = reader.seek(0, io.SEEK_END)
        pieces: dict[int, bytes] = {}
        for start in reversed(range(0, size, SEG)):
            reader.seek(start)
            pieces[start] = reader.read(SEG)
        plaintext = b"".join(pieces[start] for start in sorted(pieces))
        for start in (size // 3, 1, size - 1):
            reader.seek(max(start, 0))
            assert reader.read(5) == plaintext[max(start, 0) : max(start, 0) + 5]
        reader.seek(0)
        assert reader.read() == plaintext
        return plaintext


@pytest.mark.parametrize("on_disk", [False, True], ids=["file object", "file descriptor"])
@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 5 * SEG + 7])
def test_random_access_reads_give_the_plaintext(size: int, on_disk: bool) -> None:
    data = bytes(i % 251 for i in range(size))
    assert read_backwards(encrypt(data), on_disk=on_disk) == data


def test_random_access_keeps_one_segment_in_memory() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, 16 segments of 64 KiB
    stored = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(data), stored, KEY, CONTEXT)
    reader = crypto.SeekableDecryptor(stored, KEY, CONTEXT)
    tracemalloc.start()
    try:
        for start in reversed(range(0, len(data), 4096)):
            reader.seek(start)
            assert reader.read(16) == data[start : start + 16]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * crypto.DEFAULT_SEGMENT_SIZE


@pytest.mark.parametrize("on_disk", [False, True], ids=["file object", "file descriptor"])
def test_random_access_refuses_a_cut_at_any_point_when_opened(on_disk: bool) -> None:
    blob = encrypt(FIVE_SEGMENTS)
    for cut in range(len(blob)):
        with pytest.raises(crypto.OpenError):
            read_backwards(blob[:cut], on_disk=on_disk)


def test_random_access_refuses_reordered_dropped_or_spliced_segments_and_appended_data() -> None:
    header, parts = segments(encrypt(FIVE_SEGMENTS))
    _, others = segments(encrypt(FIVE_SEGMENTS))  # same key and plaintext, another file
    variants = [
        *reordered(parts),
        [*parts[:2], others[2], *parts[3:]],  # spliced
        [*parts, b"\x00"],  # appended
        [*parts, parts[-1]],  # last segment appended again
    ]
    for variant in variants:
        with pytest.raises(crypto.OpenError):
            read_backwards(header + b"".join(variant))
    assert read_backwards(header + b"".join(parts)) == FIVE_SEGMENTS


def test_random_access_refuses_a_wrong_key_or_context_when_opened() -> None:
    blob = io.BytesIO(encrypt(b"Fake evidence"))
    with pytest.raises(crypto.OpenError):
        crypto.SeekableDecryptor(blob, bytes(32), CONTEXT)
    with pytest.raises(crypto.OpenError):
        crypto.SeekableDecryptor(blob, KEY, ("attachment", 43, "f-1"))
