"""Stripping uploaded files in a helper process with CPU-time, memory and wall-clock limits.

The parsers (qpdf for PDF, zipfile, the picture walkers) run on files an attacker chose.
Counting against a budget (whistle/casefile/file_budget.py) refuses what headers admit to;
the helper process catches the rest: whatever a file makes a parser do, it spends at most
:attr:`HelperLimits.cpu_seconds` of CPU, :attr:`HelperLimits.memory_bytes` of address space
and :attr:`HelperLimits.wall_seconds` of the request's time, and a crash, a ``MemoryError``,
a kill by the kernel or a timeout is a refusal of that one file (reason
:attr:`Refusal.COSTLY`), never a lost web worker. The web worker itself never imports a
parser.

The helper is a fresh ``python -m whistle.casefile.sandbox``, one per form (started in about a tenth
of a second, some 30 to 45 MB while it runs for most files, more for a PDF of many objects (below),
nothing while idle). Files never pass through it in clear: the parent hands over the encrypted
upload spools' file descriptors and their keys (over a pipe, never on disk); the helper reads them
through :class:`crypto.SeekableDecryptor` and writes each cleaned file, encrypted under a fresh key,
into a temporary file the parent opened. Core dumps are off in the helper, so a crash leaves no
plaintext on disk either. If the helper dies on a file, a new one goes on with the files after it,
within what is left of the wall-clock time; files it had no time for are refused as too much for one
form (:attr:`Refusal.TOGETHER`).

**One helper at a time per process.** A helper's memory grows with what its file holds (a PDF
costs qpdf about 1.5 KiB per object: some 130 MB at the budget's 50,000 objects), so a web
worker whose threads each started one could hold many of those at once. Forms wait for the
helper in turn, as key derivations do (crypto/kdf.py); a form that cannot have it within
:attr:`HelperLimits.queue_seconds` is refused as busy (:attr:`Refusal.BUSY`: the person is
told to send the files again shortly, and keeps what they typed). The wait does not count
against the form's wall-clock time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import secrets
import signal
import subprocess  # nosec B404 # the helper is this module itself, started with fixed arguments
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from crypto import SeekableDecryptor, StreamEncryptor
from whistle.casefile.file_budget import MB, Budget, Refusal, Spent, UnsafeFile
from whistle.casefile.metadata import StripOutcome, rewrite
from whistle.core.contexts import UPLOAD_CLEANED_CONTEXT, UPLOAD_SPOOL_CONTEXT

log = logging.getLogger(__name__)

# The package root, so the helper imports this very code (not another checkout's).
_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class HelperLimits:
    """The helper process's limits. The wall-clock time is for one form's files together and
    stays well under a web worker's timeout (gunicorn's default 30 s)."""

    cpu_seconds: int = 20
    memory_bytes: int = 512 * MB  # address space (RLIMIT_AS), libraries included
    wall_seconds: float = 20.0
    output_bytes: int = 2048 * MB  # largest file the helper may write (RLIMIT_FSIZE)
    # How long a form waits for this process's helper while another form's files are checked.
    queue_seconds: float = 60.0


DEFAULT_LIMITS = HelperLimits()
# Held while a helper runs: one helper per process at a time (see the module's docstring).
_ONE_HELPER_AT_A_TIME = threading.Lock()


@dataclass(frozen=True)
class Job:
    """One file to strip: its encrypted spool (a real file) and the spool's key."""

    spool: BinaryIO
    key: bytes
    kind: str


@dataclass
class JobResult:
    """A stripped file (``output`` reads the cleaned plaintext), a file the parsers could not
    read (``outcome`` FAILED: keep the original), or a refusal."""

    outcome: StripOutcome | None = None
    refusal: Refusal | None = None
    output: BinaryIO | None = field(default=None, repr=False)
    helper_peak_bytes: int = 0  # the helper's resident memory at its peak so far (benchmarks)


def strip_files(
    jobs: list[Job], budget: Budget, limits: HelperLimits = DEFAULT_LIMITS
) -> list[JobResult]:
    """Strip ``jobs`` in helper processes, one helper at a time per process; one result per
    job, in order."""
    if not _ONE_HELPER_AT_A_TIME.acquire(timeout=limits.queue_seconds):
        return [JobResult(refusal=Refusal.BUSY) for _ in jobs]
    try:
        results = _strip_in_turn(jobs, budget, limits)
    finally:
        _ONE_HELPER_AT_A_TIME.release()
    return results


def _strip_in_turn(jobs: list[Job], budget: Budget, limits: HelperLimits) -> list[JobResult]:
    results: list[JobResult | None] = [None] * len(jobs)
    spent = Spent()
    deadline = time.monotonic() + limits.wall_seconds
    start = 0
    while start < len(jobs):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        start = _run_helper(jobs, start, results, spent, budget, limits, remaining)
    for index, result in enumerate(results):
        if result is None:
            results[index] = JobResult(refusal=Refusal.TOGETHER)
    return [r for r in results if r is not None]


def _run_helper(
    jobs: list[Job],
    start: int,
    results: list[JobResult | None],
    spent: Spent,
    budget: Budget,
    limits: HelperLimits,
    timeout: float,
) -> int:
    """Run one helper on ``jobs[start:]``; return the index to go on from (past a file the
    helper died on, which is then refused)."""
    outputs: dict[int, tuple[IO[bytes], bytes]] = {}
    request: dict[str, Any] = {
        "budget": budget.as_dict(),
        "spent": [spent.pixels, spent.unpacked_bytes],
        "limits": [limits.cpu_seconds, limits.memory_bytes, limits.output_bytes],
        "files": [],
    }
    for index in range(start, len(jobs)):
        out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - handed on or closed
        out_key = secrets.token_bytes(32)
        outputs[index] = (out, out_key)
        job = jobs[index]
        request["files"].append(
            [index, job.spool.fileno(), job.key.hex(), out.fileno(), out_key.hex(), job.kind]
        )
    fds = [job.spool.fileno() for job in jobs[start:]] + [o.fileno() for o, _ in outputs.values()]
    process = subprocess.Popen(  # nosec B603 # fixed arguments: this module
        [sys.executable, "-s", "-m", "whistle.casefile.sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        pass_fds=fds,
        cwd=_ROOT,
        env={"PYTHONPATH": _ROOT, "PATH": os.environ.get("PATH", "")},
        start_new_session=True,
    )
    try:
        stdout, _ = process.communicate(json.dumps(request).encode(), timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, _ = process.communicate()
        timed_out = True
    started: int | None = None
    for line in stdout.splitlines():
        report = json.loads(line)
        index = int(report["i"])
        if "start" in report:
            started = index
            continue
        spent.pixels, spent.unpacked_bytes = report["spent"]
        out, out_key = outputs.pop(index)
        peak = int(report.get("peak", 0))
        if report.get("refused"):
            out.close()
            results[index] = JobResult(refusal=Refusal(report["refused"]), helper_peak_bytes=peak)
        elif report["outcome"] == StripOutcome.STRIPPED.value:
            reader = SeekableDecryptor(
                cast(BinaryIO, out), out_key, UPLOAD_CLEANED_CONTEXT, close_source=True
            )
            results[index] = JobResult(
                StripOutcome.STRIPPED,
                output=reader,  # type: ignore[arg-type]
                helper_peak_bytes=peak,
            )
        else:
            out.close()
            results[index] = JobResult(StripOutcome(report["outcome"]), helper_peak_bytes=peak)
    for out, _ in outputs.values():
        out.close()
    if started is not None and results[started] is None:
        # The helper died on this file, or ran out of time: refuse it, go on after it.
        how = "timed out" if timed_out else f"ended with {process.returncode}"
        log.warning("upload helper %s on a %s file", how, jobs[started].kind)
        results[started] = JobResult(refusal=Refusal.COSTLY)
        return started + 1
    if started is None and process.returncode != 0 and not timed_out:
        log.error("upload helper failed to start (exit %s)", process.returncode)
        for index in range(start, len(jobs)):
            results[index] = JobResult(refusal=Refusal.COSTLY)
    return len(jobs)


# --- The helper process ---------------------------------------------------------------------


class _EncryptingWriter:
    """A write-only file that encrypts what it is given into a file descriptor."""

    def __init__(self, fd: int, key: bytes) -> None:
        self._fd = fd
        self._encryptor = StreamEncryptor(key, UPLOAD_CLEANED_CONTEXT)
        self._written = 0

    def _put(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._written += len(chunk)
        self._put(self._encryptor.update(chunk))
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("not seekable")

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._put(self._encryptor.finalize())


def _limit_self(cpu_seconds: int, memory_bytes: int, output_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash dumps no plaintext
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))


def _peak_bytes() -> int:
    """This process's peak resident memory since it started this program (VmHWM; unlike
    ``ru_maxrss`` it does not count the parent's memory at the fork)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _say(report: dict[str, Any]) -> None:
    if "start" not in report:
        with contextlib.suppress(OSError):
            report["peak"] = _peak_bytes()
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


def main() -> None:
    """The helper: read the request from stdin, strip each file, report a line per file."""
    request = json.load(sys.stdin)
    _limit_self(*request["limits"])
    budget = Budget(**request["budget"])
    spent = Spent(*request["spent"])
    for index, in_fd, in_key, out_fd, out_key, kind in request["files"]:
        _say({"i": index, "start": True})
        report: dict[str, Any] = {"i": index}
        try:
            with open(in_fd, "rb", closefd=True) as encrypted:
                source = SeekableDecryptor(encrypted, bytes.fromhex(in_key), UPLOAD_SPOOL_CONTEXT)
                output = _EncryptingWriter(out_fd, bytes.fromhex(out_key))
                outcome = rewrite(kind, source, output, budget, spent)  # type: ignore[arg-type]
                if outcome is StripOutcome.STRIPPED:
                    output.close()
            report["outcome"] = outcome.value
        except UnsafeFile as refused:
            report["refused"] = refused.refusal.value
        except MemoryError:
            report["refused"] = Refusal.COSTLY.value
            report["spent"] = [spent.pixels, spent.unpacked_bytes]
            _say(report)
            os._exit(3)  # the heap may be in any state: a fresh helper goes on
        report["spent"] = [spent.pixels, spent.unpacked_bytes]
        _say(report)


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        main()
