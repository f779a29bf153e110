"""Benchmark of crypto/: attachment streaming against bare AES-256-GCM, HPKE, Argon2id.

Run from the repository root: ``python bench/crypto_bench.py [--mb 256]`` (``crypto`` must be
importable: ``make install`` installs it, or set ``PYTHONPATH=.``). Prints one table; the
figures go into docs/benchmarks.md. This is a script, not a test.

The file-to-file section comes first, before the in-memory data exists: a plaintext file on
disk (in a temporary folder, written with ``os.urandom`` a MiB at a time) encrypted to a
ciphertext file and decrypted to a third, as the app does from its upload spool to the file
store; each file is flushed to disk (``fsync``) inside the timed part, as the store does. Its
memory figure is the peak resident memory above the process's size before (Linux: the peak
is reset through ``/proc/self/clear_refs``), so it shows the streams' own buffers.

Fairness of the streaming comparison: the bare loop encrypts (decrypts) the very same
in-memory data, segment by segment, with the same 64 KiB segment size, one AESGCM object
and no I/O; the stream functions read the same bytes through a file object (``BytesIO``,
which copies like a real file read) and write to a sink that discards.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cryptography
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import crypto
from crypto.kdf import derive_key

SEGMENT = crypto.DEFAULT_SEGMENT_SIZE
CONTEXT: crypto.Context = ("attachment", 1, 1)


class Discard(io.RawIOBase):
    """A sink that counts and drops what it is given."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        size = memoryview(data).nbytes  # type: ignore[arg-type]
        self.count += size
        return size


def best_of(runs: int, func: Callable[[], object]) -> float:
    """Fastest wall time of ``runs`` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def median_ms(runs: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset the process's peak resident size (VmHWM); False where Linux does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def file_to_file(mib: int, runs: int) -> None:
    """Encrypt a file on disk to a file, and decrypt it back to a file: MiB/s and the peak
    memory above the process's resting size."""
    folder = Path(tempfile.mkdtemp(prefix="whistle-crypto-bench-"))
    try:
        plain, stored, back = folder / "plain", folder / "stored", folder / "back"
        with plain.open("wb") as out:
            for _ in range(mib):
                out.write(os.urandom(1024 * 1024))
        key = crypto.generate_symmetric_key()

        def encrypt() -> None:
            with plain.open("rb") as src, stored.open("wb") as dst:
                crypto.encrypt_stream(src, dst, key, CONTEXT)
                dst.flush()
                os.fsync(dst.fileno())

        def decrypt() -> None:
            with stored.open("rb") as src, back.open("wb") as dst:
                crypto.decrypt_stream_to(src, dst, key, CONTEXT)
                dst.flush()
                os.fsync(dst.fileno())

        print("files on disk to files on disk (MiB/s, best round; extra peak memory)")
        for label, func in (("encrypt_stream", encrypt), ("decrypt_stream_to", decrypt)):
            resting = _status_kib("VmRSS")
            measured = _reset_peak()
            seconds = best_of(runs, func)
            extra = (_status_kib("VmHWM") - resting) / 1024 if measured else float("nan")
            print(f"  {label:<37} {mib / seconds:7.0f}   +{extra:.1f} MiB")
        assert back.stat().st_size == plain.stat().st_size
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print()


def rate(count: int, seconds: float) -> float:
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="attachment size in MiB")
    parser.add_argument("--runs", type=int, default=5, help="rounds (best is kept)")
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    segments = size // SEGMENT
    mib = size / (1024 * 1024)

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}")
    print(f"python {platform.python_version()}, cryptography {cryptography.__version__}")
    print(f"attachment: {args.mb} MiB, segment {SEGMENT // 1024} KiB, {args.runs} rounds\n")
    file_to_file(args.mb, args.runs)

    plaintext = os.urandom(SEGMENT) * segments
    view = memoryview(plaintext)
    key = crypto.generate_symmetric_key()
    file_key = AESGCM.generate_key(256)
    aead = AESGCM(file_key)
    aad = b"\x00" * 14
    prefix = os.urandom(7)

    def nonce(i: int) -> bytes:
        return prefix + i.to_bytes(4, "big") + b"\x00"

    def bare_encrypt() -> list[bytes]:
        return [
            aead.encrypt(nonce(i), view[i * SEGMENT : (i + 1) * SEGMENT], aad)
            for i in range(segments)
        ]

    bare_ct = bare_encrypt()

    def bare_encrypt_discard() -> None:
        encrypt = aead.encrypt
        for i in range(segments):
            encrypt(nonce(i), view[i * SEGMENT : (i + 1) * SEGMENT], aad)

    def bare_decrypt() -> None:
        decrypt = aead.decrypt
        for i, segment in enumerate(bare_ct):
            decrypt(nonce(i), segment, aad)

    stored = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(plaintext), stored, key, CONTEXT)
    ciphertext = stored.getvalue()
    del stored

    def stream_encrypt() -> None:
        crypto.encrypt_stream(io.BytesIO(plaintext), Discard(), key, CONTEXT)

    def encryptor_chunks(chunk: int) -> Callable[[], None]:
        def run() -> None:
            encryptor = crypto.StreamEncryptor(key, CONTEXT)
            for start in range(0, size, chunk):
                encryptor.update(view[start : start + chunk])
            encryptor.finalize()

        return run

    def stream_decrypt() -> None:
        crypto.decrypt_stream_to(io.BytesIO(ciphertext), Discard(), key, CONTEXT)

    # Interleaved: each round times every variant once, so a burst of load from another
    # process hits a stream run and its bare baseline alike. Throughput is the best round;
    # the ratio is the median over rounds of (bare time / stream time) within a round.
    variants: dict[str, Callable[[], object]] = {
        "bare-encrypt": bare_encrypt_discard,
        "encrypt_stream (file object)": stream_encrypt,
        "StreamEncryptor.update, 64 KiB chunks": encryptor_chunks(64 * 1024),
        "StreamEncryptor.update, 16 KiB chunks": encryptor_chunks(16 * 1024),
        "bare-decrypt": bare_decrypt,
        "decrypt_stream_to (file object)": stream_decrypt,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.runs):
        for name, func in variants.items():
            times[name].append(best_of(1, func))

    print("attachments (MiB/s)                    stream    bare   ratio")
    for label, baseline in (
        ("encrypt_stream (file object)", "bare-encrypt"),
        ("StreamEncryptor.update, 64 KiB chunks", "bare-encrypt"),
        ("StreamEncryptor.update, 16 KiB chunks", "bare-encrypt"),
        ("decrypt_stream_to (file object)", "bare-decrypt"),
    ):
        ratio = statistics.median(
            bare / stream for bare, stream in zip(times[baseline], times[label], strict=True)
        )
        print(
            f"  {label:<37} {mib / min(times[label]):7.0f} {mib / min(times[baseline]):7.0f}"
            f"  {100 * ratio:5.1f} %"
        )

    private = crypto.PrivateKey.generate()
    public = private.public_key()
    case_key = crypto.CaseKeys.generate().content
    count = 2000
    sealed = crypto.seal_case_key(public, case_key, case_id=1, kind=crypto.KeyKind.CONTENT)

    def seal_many() -> None:
        for _ in range(count):
            crypto.seal_case_key(public, case_key, case_id=1, kind=crypto.KeyKind.CONTENT)

    def open_many() -> None:
        for _ in range(count):
            crypto.open_case_key(private, sealed, case_id=1, kind=crypto.KeyKind.CONTENT)

    field = crypto.encrypt_field(case_key, b"x" * 1000, context=("message", 1, 1))

    def fields_many() -> None:
        for _ in range(count):
            crypto.decrypt_field(case_key, field, context=("message", 1, 1))

    print("\ncase keys and fields (operations/s)")
    for label, func in (
        ("HPKE seal (wrap) of a case key", seal_many),
        ("HPKE open (unwrap) of a case key", open_many),
        ("decrypt_field, 1000-byte message", fields_many),
    ):
        print(f"  {label:<40} {rate(count, best_of(args.runs, func)):8.0f}")

    params = crypto.Argon2Params()
    code_params = crypto.Argon2Params.for_case_codes()
    wrapped = crypto.wrap_private_key(private, "bench-password-not-secret", params)
    code = crypto.generate_case_code()
    reporter = crypto.wrap_case_key_for_reporter(
        case_key, code, case_id=1, kind=crypto.KeyKind.CONTENT, params=code_params
    )
    salt = os.urandom(16)
    print(
        "\nArgon2id at production defaults, median of 5 (ms): staff passwords "
        f"t={params.time_cost}, m={params.memory_kib // 1024} MiB, p={params.parallelism}; "
        f"case codes t={code_params.time_cost}, m={code_params.memory_kib // 1024} MiB, "
        f"p={code_params.parallelism}"
    )
    password = "bench-password-not-secret"
    for label, func in (
        ("one derivation, password cost", lambda: derive_key(b"pw", salt, params)),
        ("one derivation, case-code cost", lambda: derive_key(b"pw", salt, code_params)),
        ("unwrap_private_key (sign-in)", lambda: crypto.unwrap_private_key(wrapped, password)),
        (
            "open_case_key_for_reporter (code entry)",
            lambda: crypto.open_case_key_for_reporter(
                reporter, code, case_id=1, kind=crypto.KeyKind.CONTENT
            ),
        ),
    ):
        print(f"  {label:<40} {median_ms(5, func):8.0f}")


if __name__ == "__main__":
    main()
