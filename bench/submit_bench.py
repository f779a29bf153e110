"""Benchmark of the reporting channel: gunicorn on PostgreSQL, real HTTP, one run.

Run from the repository root: ``.venv/bin/python bench/submit_bench.py`` (options:
``--seconds``, ``--workers``, ``--threads``, ``--rounds``, ``--quick``; ``--help`` lists them).
It takes about three minutes with the defaults. This is a script, not a test; the figures go
into docs/benchmarks.md ("Reporting channel").

What it does, all on this machine and all traffic to 127.x.x.x:

1. creates a temporary instance folder, a fresh PostgreSQL database (random name, dropped at
   the end, also on error or Ctrl-C), migrates it and adds an organisation with three
   key-holding handlers and a recovery key, as tests/steps/factories.py does; Argon2id runs at the
   production defaults (``argon2_profile = "production"``);
2. starts gunicorn on a free port and waits for ``/healthz``;
3. latency: in each round, one bare Argon2id derivation at the same settings in this process,
   one submission and one follow-up sign-in with the new case code, one after the other on an
   otherwise idle server;
4. throughput: 4, then 16 concurrent reporters submitting for ``--seconds`` each;
5. stops gunicorn and checks that every report the server confirmed (a case code was shown)
   is in the database with its attachment, and nothing else is.

A submission is a whole reporter visit: GET the form (CSRF token, categories), POST it as
multipart with a ~20 KB text attachment, follow the 303 to the code page and find the case
code there. Only a shown case code counts as success. Each simulated reporter connects from a
loopback address of its own (127.0.1.1, 127.0.1.2, ...; every 127/8 address is loopback on
Linux), as real reporters have addresses of their own: the app's per-address throttles stay as
they are and no address is used for more than one submission. Follow-up sign-ins happen only
in the latency phase, far below the global code-attempt limit.

Nothing printed contains a case code, a password or report text.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import FrameType

from benchkit import (
    admin_statement,
    argon2_costs,
    cpu_model,
    free_port,
    make_bench_organisation,
    memory_gib,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from crypto import Argon2Params
from crypto.kdf import derive_key
from whistle.core.db import make_engine, normalise_url
from whistle.core.instance import init_instance
from whistle.core.models import Attachment, Case
from whistle.core.schema import upgrade

# The HTTP client is the abuse suite's (tests/security/abuse/visits.py), one copy for both:
# bench/ may import from tests/, never the other way round.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.security.abuse import visits  # the repository root is on the path now
from tests.security.abuse.visits import CODE_RE, FormPage, report_fields

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SLUG = "benchfirma"
REFERENCE_RE = re.compile(r"Case reference ([0-9A-Za-z-]+), received")
MAX_PER_PHASE = 5_000  # hard cap on submissions in one throughput phase
ATTACHMENT = b"Fake benchmark attachment: nothing real in here, only filler text.\n" * 300
REPORT_TEXT = (
    "Fake benchmark report: an invented matter about pallets leaving a warehouse without "
    "paperwork. Nothing in this text is real; it only gives the form something to carry. "
) * 3


# --- the client side -------------------------------------------------------------------------


class LoopbackAddresses:
    """Distinct loopback source addresses, each handed out once: 127.0.1.1 to 127.0.255.254."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0

    def take(self) -> str:
        with self._lock:
            number = self._next
            self._next += 1
        third, fourth = divmod(number, 254)
        if third >= 255:
            raise RuntimeError("out of loopback addresses")
        return f"127.0.{third + 1}.{fourth + 1}"

    @property
    def used(self) -> int:
        return self._next


class Browser(visits.Browser):
    """A reporter's browser here: no proxy in front of gunicorn, so each connects from its
    loopback address itself (the abuse suite's browsers name theirs in X-Forwarded-For)."""

    behind_proxy = False


@dataclass(repr=False)
class Outcome:
    """One submission or sign-in. ``code`` is SECRET: kept in memory, never printed."""

    ok: bool
    problem: str = ""
    post_seconds: float = 0.0
    total_seconds: float = 0.0
    code: str = ""
    reference: str = ""

    def __repr__(self) -> str:
        return f"Outcome(ok={self.ok}, problem={self.problem!r})"


def submit_report(port: int, address: str, timeout: float, rng: random.Random) -> Outcome:
    """A whole reporter visit: form, submission with one attachment, code page."""
    browser = Browser(port, address, timeout)
    start = time.perf_counter()
    try:
        form = browser.get(f"/o/{SLUG}/report")
        if form.status != 200:
            return Outcome(False, f"form page answered {form.status}")
        page = FormPage(form.body)
        if not page.csrf_token or not page.categories:
            return Outcome(False, "form page without CSRF token or categories")
        posted = browser.post_multipart(
            f"/o/{SLUG}/report",
            report_fields(page.csrf_token, rng.choice(page.categories), REPORT_TEXT),
            [("attachments", "notes.txt", ATTACHMENT)],
        )
        if posted.status != 303:
            return Outcome(False, f"submission answered {posted.status}", posted.seconds)
        if posted.location != f"/o/{SLUG}/report/code":
            return Outcome(False, "submission redirected elsewhere", posted.seconds)
        shown = browser.get(posted.location)
        found = CODE_RE.search(shown.body)
        if shown.status != 200 or found is None:
            return Outcome(False, f"no case code shown ({shown.status})", posted.seconds)
        reference = REFERENCE_RE.search(shown.body)
        return Outcome(
            True,
            post_seconds=posted.seconds,
            total_seconds=time.perf_counter() - start,
            code=found.group(1),
            reference=reference.group(1) if reference else "",
        )
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(False, f"connection: {type(exc).__name__}")


def follow_up(port: int, address: str, timeout: float, code: str, reference: str) -> Outcome:
    """A fresh browser signs in with the case code and loads the mailbox page."""
    browser = Browser(port, address, timeout)
    start = time.perf_counter()
    try:
        form = browser.get(f"/o/{SLUG}/case/open")
        page = FormPage(form.body)
        if form.status != 200 or not page.csrf_token:
            return Outcome(False, f"sign-in page answered {form.status}")
        posted = browser.post_form(
            f"/o/{SLUG}/case/open", {"csrf_token": page.csrf_token, "code": code}
        )
        if posted.status != 303:
            return Outcome(False, f"sign-in answered {posted.status}", posted.seconds)
        if posted.location != f"/o/{SLUG}/case/":
            return Outcome(False, "sign-in redirected elsewhere", posted.seconds)
        mailbox = browser.get(posted.location)
        if mailbox.status != 200 or (reference and reference not in mailbox.body):
            return Outcome(False, f"mailbox page answered {mailbox.status}", posted.seconds)
        return Outcome(True, post_seconds=posted.seconds, total_seconds=time.perf_counter() - start)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(False, f"connection: {type(exc).__name__}")


# --- bookkeeping -----------------------------------------------------------------------------


@dataclass
class Ledger:
    """Every confirmed submission's reference (not its code), across all phases."""

    references: list[str] = field(default_factory=list)
    confirmed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: Outcome) -> None:
        if outcome.ok:
            with self.lock:
                self.confirmed += 1
                self.references.append(outcome.reference)


def ms(seconds: float) -> float:
    return seconds * 1000


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat", encoding="utf-8") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / tick, sum(values[:8]) / tick


def process_cpu(parent: int) -> float:
    """CPU seconds (user + system) of ``parent`` and its direct children (gunicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(entry.name) == parent or int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


@dataclass
class Usage:
    """CPU use over a phase: the server's, this client's and the whole machine's."""

    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_busy: float = 0.0
    machine_total: float = 0.0

    @property
    def machine_percent(self) -> float:
        return 100 * self.machine_busy / self.machine_total if self.machine_total else 0.0


@contextlib.contextmanager
def measure_usage(server_pid: int) -> Iterator[Usage]:
    usage = Usage()
    server, client, (busy, total) = process_cpu(server_pid), time.process_time(), machine_busy()
    yield usage
    usage.server_cpu = process_cpu(server_pid) - server
    usage.client_cpu = time.process_time() - client
    end_busy, end_total = machine_busy()
    usage.machine_busy, usage.machine_total = end_busy - busy, end_total - total


# --- the server side -------------------------------------------------------------------------


def check_loopback_sources() -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.1.1", 0))
        except OSError as exc:
            raise SystemExit(
                f"cannot bind to 127.0.1.1 ({exc}): this benchmark needs the whole 127/8 "
                "range as loopback (Linux)"
            ) from None


def create_database(admin_url: str) -> tuple[str, str]:
    """A fresh database with a random name; returns (name, URL)."""
    name = f"whistle_bench_{secrets.token_hex(4)}"
    admin_statement(admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(normalise_url(admin_url)).set(database=name)
    return name, url.render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    admin_statement(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_config(instance: Path, database_url: str, port: int) -> None:
    config = instance / "config.toml"
    with config.open("a", encoding="utf-8") as handle:
        handle.write(
            "\n# Written by bench/submit_bench.py\n"
            f'database_url = "{database_url}"\n'
            'argon2_profile = "production"\n'
            f'file_store = "{instance / "files"}"\n'
            f'base_url = "http://127.0.0.1:{port}"\n'
            'log_level = "WARNING"\n'
        )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    description: str


def launch(command: list[str], instance: Path, port: int, log: Path, description: str) -> Server:
    """Start gunicorn (``command``) on the instance in the repository root, logging to ``log``;
    the server once ``/healthz`` on ``port`` answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env["WHISTLE_INSTANCE"] = str(instance)
    env["PYTHONPATH"] = str(ROOT)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only this script, which stops gunicorn
        )
    server = Server(process, port, log, description)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see its log")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if Browser(port, "127.0.0.1", 5).get("/healthz").status == 200:
                return server
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def start_gunicorn(instance: Path, port: int, workers: int, threads: int, log: Path) -> Server:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
    options = ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "120"]
    if threads > 1:
        options += ["--worker-class", "gthread", "--threads", str(threads)]
    description = (
        f"gunicorn {version('gunicorn')}, {workers} workers, "
        + (f"gthread, {threads} threads each" if threads > 1 else "sync")
        + ", --timeout 120"
    )
    return launch([*command, *options, "wsgi:app"], instance, port, log, description)


def stop_gunicorn(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def server_errors(log: Path) -> Counter[str]:
    """Unhandled errors in the server log, as the app logs them (type, endpoint and the
    innermost frame in whistle/ or crypto/; whistle/web/logs.py never logs a message text), plus
    gunicorn worker timeouts."""
    ours = {
        path.name for package in ("whistle", "crypto") for path in (ROOT / package).rglob("*.py")
    }
    found: Counter[str] = Counter()
    pattern = re.compile(r"unhandled error in (\S+ \S+): (\w+) at (.*)$")
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            match = pattern.search(line)
            if match:
                frames = match.group(3).split(" <- ")
                where = next((f for f in frames if f.split(":", 1)[0] in ours), frames[0])
                found[f"{match.group(2)} in {match.group(1)} at {where}"] += 1
            elif "WORKER TIMEOUT" in line:
                found["gunicorn WORKER TIMEOUT"] += 1
    return found


def rejected_case_inserts(engine: Engine) -> int:
    """Case rows PostgreSQL inserted and then saw rolled back (a failed or retried submission)."""
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        inserted = connection.scalar(
            text("SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'cases'")
        )
        live = connection.scalar(select(func.count()).select_from(Case))
    return int(inserted or 0) - int(live or 0)


# --- the phases ------------------------------------------------------------------------------


@dataclass
class LatencyResult:
    derive: list[float] = field(default_factory=list)
    submit_post: list[float] = field(default_factory=list)
    submit_total: list[float] = field(default_factory=list)
    signin_post: list[float] = field(default_factory=list)
    signin_total: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)


def latency_phase(
    port: int, rounds: int, addresses: LoopbackAddresses, ledger: Ledger, timeout: float
) -> LatencyResult:
    """Interleaved rounds: bare derivation, one submission, one follow-up sign-in."""
    result = LatencyResult()
    params = Argon2Params.for_case_codes()
    rng = random.Random(1)
    for _ in range(rounds):
        secret = secrets.token_hex(8).encode()
        start = time.perf_counter()
        derive_key(secret, os.urandom(16), params)
        result.derive.append(time.perf_counter() - start)

        submitted = submit_report(port, addresses.take(), timeout, rng)
        ledger.record(submitted)
        if not submitted.ok:
            result.failures[submitted.problem] += 1
            continue
        result.submit_post.append(submitted.post_seconds)
        result.submit_total.append(submitted.total_seconds)

        signed_in = follow_up(port, addresses.take(), timeout, submitted.code, submitted.reference)
        if not signed_in.ok:
            result.failures[signed_in.problem] += 1
            continue
        result.signin_post.append(signed_in.post_seconds)
        result.signin_total.append(signed_in.total_seconds)
    return result


@dataclass
class ThroughputResult:
    concurrency: int
    seconds: float = 0.0
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    post: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    collisions: int = 0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def back_to_back(
    port: int,
    addresses: LoopbackAddresses,
    timeout: float,
    deadline: float,
    cap: int,
    stop: threading.Event,
    record: Callable[[Outcome], None],
) -> Callable[[int], None]:
    """A reporter (its number seeds its choice of category) who submits back to back and
    starts no visit after ``deadline`` (``time.perf_counter()``) or once ``stop`` is set; the
    reporters made by one call start ``cap`` visits at most between them. ``record`` gets each
    outcome, one at a time."""
    lock = threading.Lock()
    started = 0

    def reporter(number: int) -> None:
        nonlocal started
        rng = random.Random(number)
        while not stop.is_set() and time.perf_counter() < deadline:
            with lock:
                if started >= cap:
                    return
                started += 1
            outcome = submit_report(port, addresses.take(), timeout, rng)
            with lock:
                record(outcome)

    return reporter


def run_reporters(
    reporter: Callable[[int], None], count: int, hard_stop: float, stop: threading.Event
) -> bool:
    """``count`` reporters at once, each in a thread of its own; False, with ``stop`` set,
    when one is still waiting at ``hard_stop`` (``time.perf_counter()``)."""
    threads = [threading.Thread(target=reporter, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, hard_stop - time.perf_counter()))
    if any(thread.is_alive() for thread in threads):
        stop.set()
        return False
    return True


def throughput_phase(
    port: int,
    concurrency: int,
    seconds: float,
    addresses: LoopbackAddresses,
    ledger: Ledger,
    timeout: float,
    stop: threading.Event,
) -> ThroughputResult:
    """``concurrency`` reporters submit back to back; none starts a new visit after
    ``seconds``. The rate is confirmed submissions over the time until the last one ended."""
    result = ThroughputResult(concurrency)
    start = time.perf_counter()
    deadline = start + seconds

    def record(outcome: Outcome) -> None:
        ledger.record(outcome)
        if outcome.ok:
            result.ok += 1
            result.post.append(outcome.post_seconds)
            result.total.append(outcome.total_seconds)
        else:
            result.failures[outcome.problem] += 1

    reporter = back_to_back(port, addresses, timeout, deadline, MAX_PER_PHASE, stop, record)
    if not run_reporters(reporter, concurrency, deadline + 3 * timeout + 10, stop):
        result.failures["reporter still waiting at the hard stop"] += 1
    result.seconds = time.perf_counter() - start
    return result


def warm_up(
    port: int, workers: int, addresses: LoopbackAddresses, ledger: Ledger, timeout: float
) -> Counter[str]:
    """A few submissions in parallel, so every worker has loaded its templates and pools."""
    rng = random.Random(0)
    failures: Counter[str] = Counter()

    def visit() -> None:
        outcome = submit_report(port, addresses.take(), timeout, rng)
        ledger.record(outcome)
        if not outcome.ok:
            failures[outcome.problem] += 1

    threads = [threading.Thread(target=visit, daemon=True) for _ in range(2 * workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout + 10)
    return failures


# --- report ----------------------------------------------------------------------------------


def print_latency(result: LatencyResult) -> None:
    derive = median(result.derive)
    print("\nlatency, sequential (ms)                  median      p95   n   median / bare")
    rows: list[tuple[str, list[float], bool]] = [
        ("bare Argon2id derivation (case-code cost)", result.derive, False),
        ("submission: POST /report", result.submit_post, True),
        ("  whole visit: form + POST + code page", result.submit_total, True),
        ("follow-up sign-in: POST /case/open", result.signin_post, True),
        ("  whole visit: form + POST + mailbox", result.signin_total, True),
    ]
    for label, values, ratio in rows:
        shown = f"{median(values) / derive:8.2f}x" if ratio and values else ""
        print(
            f"  {label:<39} {ms(median(values)):7.0f} {ms(p95(values)):8.0f} "
            f"{len(values):3d}   {shown}"
        )
    if result.failures:
        print(f"  failures: {dict(result.failures)}")


def print_throughput(results: list[ThroughputResult], cores: int) -> None:
    print(
        "\nthroughput                   reports/s  ok  failed  POST ms (median/p95)  "
        "visit ms (median/p95)  server CPU s/report  machine busy  rolled back"
    )
    for r in results:
        per_report = r.usage.server_cpu / r.ok if r.ok else float("nan")
        print(
            f"  {r.concurrency:2d} reporters, {r.seconds:5.1f} s {r.rate:10.2f} {r.ok:4d} "
            f"{sum(r.failures.values()):6d}  {ms(median(r.post)):8.0f} / {ms(p95(r.post)):<8.0f}"
            f"  {ms(median(r.total)):9.0f} / {ms(p95(r.total)):<8.0f}  {per_report:17.3f}"
            f"  {r.usage.machine_percent:8.0f} % of {cores}  {r.collisions:6d}"
        )
        if r.failures:
            print(f"    failures: {dict(r.failures)}")
        print(f"    client (this script) CPU: {r.usage.client_cpu:.1f} s over the phase")


def verify(engine: Engine, files: Path, ledger: Ledger) -> bool:
    with engine.connect() as connection:
        cases = int(connection.scalar(select(func.count()).select_from(Case)) or 0)
        attachments = int(connection.scalar(select(func.count()).select_from(Attachment)) or 0)
        references = set(connection.scalars(select(Case.reference)).all())
    stored_files = sum(1 for path in files.glob("??/*") if not path.name.endswith(".partial"))
    confirmed = set(ledger.references)
    checks = [
        ("cases in the database = confirmed submissions", cases, ledger.confirmed),
        ("attachments in the database = confirmed submissions", attachments, ledger.confirmed),
        ("files in the file store = confirmed submissions", stored_files, ledger.confirmed),
        (
            "confirmed references found in the database",
            len(confirmed & references),
            len(confirmed),
        ),
    ]
    print("\nstorage check (after gunicorn stopped)")
    good = len(confirmed) == ledger.confirmed
    for label, got, want in checks:
        status = "OK" if got == want else "MISMATCH"
        good = good and got == want
        print(f"  {label:<55} {got:6d} / {want:<6d} {status}")
    return good


# --- main ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of a throughput phase")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (>1: gthread workers)"
    )
    parser.add_argument("--rounds", type=int, default=20, help="rounds of the latency phase")
    parser.add_argument(
        "--concurrency", default="4,16", help="concurrent reporters per throughput phase"
    )
    parser.add_argument("--timeout", type=float, default=60, help="per HTTP request, seconds")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WHISTLE_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="an existing database to run CREATE/DROP DATABASE from",
    )
    parser.add_argument("--server-log", type=Path, help="keep a copy of gunicorn's log here")
    parser.add_argument("--quick", action="store_true", help="smoke test: 5 s phases, 5 rounds")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = min(args.seconds, 5), min(args.rounds, 5)
    args.concurrency = [int(c) for c in str(args.concurrency).split(",") if c.strip()]
    if not 1 <= args.workers <= 64 or not 1 <= args.threads <= 64 or args.seconds <= 0:
        parser.error("--workers and --threads must be 1..64, --seconds positive")
    return args


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    check_loopback_sources()
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores (nproc), {cpu_model()}, {memory_gib():.0f} GiB RAM")
    print(
        f"python {platform.python_version()}, argon2-cffi {version('argon2-cffi')}, "
        f"SQLAlchemy {version('sqlalchemy')}, psycopg {version('psycopg')}"
    )
    print(f"{argon2_costs()} (production defaults)")

    workdir = Path(tempfile.mkdtemp(prefix="whistle-bench-"))
    stop = threading.Event()
    db_name = ""
    server: Server | None = None
    engine: Engine | None = None
    ledger = Ledger()
    addresses = LoopbackAddresses()
    good = False
    try:
        instance = workdir / "instance"
        init_instance(instance)
        db_name, db_url = create_database(args.database_url)
        engine = make_engine(db_url)
        upgrade(engine)
        with engine.connect() as connection:
            pg_version = connection.scalar(text("SHOW server_version"))
        port = free_port()
        write_config(instance, db_url, port)
        make_bench_organisation(instance, SLUG)
        server = start_gunicorn(
            instance, port, args.workers, args.threads, workdir / "gunicorn.log"
        )
        print(f"PostgreSQL {pg_version} on 127.0.0.1, fresh database; {server.description}")
        print("each simulated reporter connects from its own loopback address (127.0.x.y)")

        warm_failures = warm_up(port, args.workers, addresses, ledger, args.timeout)
        print(
            f"warm-up: {2 * args.workers} submissions at once, not timed; "
            f"failed: {dict(warm_failures) if warm_failures else 0}"
        )
        with measure_usage(server.process.pid) as latency_usage:
            latency = latency_phase(port, args.rounds, addresses, ledger, args.timeout)
        print_latency(latency)
        print(
            f"  server CPU over the phase: {latency_usage.server_cpu:.1f} s for "
            f"{len(latency.submit_post)} submissions and {len(latency.signin_post)} sign-ins"
        )

        results: list[ThroughputResult] = []
        for concurrency in args.concurrency:
            time.sleep(2)  # let PostgreSQL's statistics and the machine settle
            before = rejected_case_inserts(engine)
            with measure_usage(server.process.pid) as usage:
                result = throughput_phase(
                    port, concurrency, args.seconds, addresses, ledger, args.timeout, stop
                )
            result.usage = usage
            time.sleep(2)
            result.collisions = rejected_case_inserts(engine) - before
            results.append(result)
            print(
                f"  ... {concurrency} reporters: {result.rate:.2f} reports/s, "
                f"{sum(result.failures.values())} failed",
                flush=True,
            )
        print_throughput(results, cores)
        print(
            "  (rolled back: case INSERTs PostgreSQL counted but did not keep, from "
            "pg_stat_user_tables, whose figures lag by up to a second)"
        )

        stop_gunicorn(server)
        errors = server_errors(server.log)
        print("\nserver log: " + ("no unhandled errors" if not errors else ""))
        for where, count in errors.most_common():
            print(f"  {count:5d} x {where}")
        if args.server_log:
            shutil.copyfile(server.log, args.server_log)
        good = verify(engine, instance / "files", ledger)
        print(f"loopback addresses used: {addresses.used}, one visit each")
    except KeyboardInterrupt:
        stop.set()
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop.set()
        if server is not None:
            stop_gunicorn(server)
        if engine is not None:
            engine.dispose()
        if db_name:
            drop_database(args.database_url, db_name)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
