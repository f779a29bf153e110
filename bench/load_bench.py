"""Load test of the reporting channel: 50 reporters at once, then their follow-ups.

Run from the repository root: ``.venv/bin/python bench/load_bench.py`` (options:
``--seconds`` (default 60), ``--reporters`` (50), ``--workers`` (4), ``--quick``; ``--help``
lists them). About three minutes with the defaults, never more than a fixed bound (each phase
stops starting visits at its deadline and gives up on stragglers soon after). This is a script,
not a test; the figures go into docs/benchmarks.md ("Load").

All on this machine, all traffic to 127.x.x.x, against gunicorn started with the README's
command (whistle/serving/gunicorn_conf.py, ``--workers``) on PostgreSQL (a fresh
database with a random name on the local server, dropped at the end, also on error or Ctrl-C):

1. submissions: ``--reporters`` simulated reporters submit back to back for ``--seconds``;
   each visit is the form page, a multipart POST with a small text attachment and the code
   page, and only a shown case code counts as success;
1b. the same again while an attacker (bench/attacker.py, issue 17) sends upload bombs
   (huge-dimension and animated PNGs, a docx that inflates to 1 GiB, a PDF of 100,000 pages),
   wrong case codes and wrong staff passwords, each from ever new addresses of its own; the
   reporters' median and p95 with and without the attacker, and their errors, are compared
   (``--no-attacker`` skips this phase);
2. follow-ups: the same number of reporters take up every confirmed report: a fresh browser
   opens the mailbox with the case code, posts a reply, and sees "Your message has been sent";
3. with gunicorn stopped, every report the server confirmed is looked up by its reference and
   opened as a handler would (the handler's private key opens the case key, which decrypts
   the report, its attachment and the reply, each compared with what was sent); nothing else
   is stored, the server logged no error, and ``whistle doctor`` finds the store consistent.

Each simulated reporter connects from a loopback address of its own (as in submit_bench.py),
so the app's per-address throttles stay as they are. The script exits non-zero on any error.
Nothing printed contains a case code, a password or report text.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import attacker
from benchkit import (
    Handlers,
    app_session,
    argon2_costs,
    cpu_model,
    free_port,
    make_bench_organisation,
    memory_gib,
    open_as_handler,
)
from benchkit import postgresql_url as postgresql
from sqlalchemy import func, select
from submit_bench import (
    ATTACHMENT,
    REPORT_TEXT,
    SLUG,
    Browser,
    LoopbackAddresses,
    Outcome,
    Server,
    Usage,
    back_to_back,
    check_loopback_sources,
    launch,
    measure_usage,
    median,
    ms,
    p95,
    run_reporters,
    server_errors,
    stop_gunicorn,
    write_config,
)

from tests.security.abuse.visits import FormPage
from whistle.core.db import make_engine
from whistle.core.instance import init_instance
from whistle.core.models import Attachment, Case, Message
from whistle.core.schema import upgrade
from whistle.core.storage import FileStore
from whistle.maintenance.doctor_files import check

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REPLY_TEXT = "Fake follow-up from a load-test reporter: one more invented detail, nothing real."
SENT_NOTICE = "Your message has been sent."
MAX_VISITS = 5_000  # hard cap on submissions, whatever the machine


@dataclass(repr=False)
class Confirmed:
    """A report the server confirmed. ``code`` is SECRET: memory only, never printed."""

    code: str
    reference: str
    replied: bool = False


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    post: list[float] = field(default_factory=list)
    visit: list[float] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    post_label: str = "POST"

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def follow_up(port: int, address: str, timeout: float, report: Confirmed) -> Outcome:
    """A fresh browser opens the mailbox with the case code, replies, and sees it sent."""
    browser = Browser(port, address, timeout)
    start = time.perf_counter()
    try:
        form = browser.get(f"/o/{SLUG}/case/open")
        page = FormPage(form.body)
        if form.status != 200 or not page.csrf_token:
            return Outcome(False, f"sign-in page answered {form.status}")
        signed = browser.post_form(
            f"/o/{SLUG}/case/open", {"csrf_token": page.csrf_token, "code": report.code}
        )
        if signed.status != 303 or signed.location != f"/o/{SLUG}/case/":
            return Outcome(False, f"sign-in answered {signed.status}")
        mailbox = browser.get(f"/o/{SLUG}/case/")
        token = FormPage(mailbox.body).csrf_token
        if mailbox.status != 200 or report.reference not in mailbox.body or not token:
            return Outcome(False, f"mailbox answered {mailbox.status}")
        fields = [("csrf_token", token), ("body", REPLY_TEXT)]
        replied = browser.post_multipart(f"/o/{SLUG}/case/", fields, [])
        if replied.status != 303:
            return Outcome(False, f"reply answered {replied.status}", replied.seconds)
        location = urlsplit(replied.headers.get("Location", ""))
        shown = browser.get(f"{location.path}?{location.query}")
        if shown.status != 200 or SENT_NOTICE not in shown.body:
            return Outcome(False, f"no 'sent' notice after the reply ({shown.status})")
        return Outcome(
            True,
            post_seconds=signed.seconds + replied.seconds,
            total_seconds=time.perf_counter() - start,
        )
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(False, f"connection: {type(exc).__name__}")


def submission_phase(
    port: int,
    reporters: int,
    seconds: float,
    addresses: LoopbackAddresses,
    timeout: float,
    confirmed: list[Confirmed],
    stop: threading.Event,
) -> Phase:
    phase = Phase("submissions")
    start = time.perf_counter()
    deadline = start + seconds

    def record(outcome: Outcome) -> None:
        if outcome.ok:
            phase.ok += 1
            phase.post.append(outcome.post_seconds)
            phase.visit.append(outcome.total_seconds)
            confirmed.append(Confirmed(outcome.code, outcome.reference))
        else:
            phase.errors[outcome.problem] += 1

    reporter = back_to_back(port, addresses, timeout, deadline, MAX_VISITS, stop, record)
    if not run_reporters(reporter, reporters, deadline + 2 * timeout + 10, stop):
        phase.errors["reporter still waiting at the hard stop"] += 1
    phase.seconds = time.perf_counter() - start
    return phase


def follow_up_phase(
    port: int,
    reporters: int,
    addresses: LoopbackAddresses,
    timeout: float,
    confirmed: list[Confirmed],
    budget: float,
    stop: threading.Event,
) -> Phase:
    phase = Phase("follow-ups", post_label="sign-in + reply POSTs")
    lock = threading.Lock()
    work: queue.Queue[Confirmed] = queue.Queue()
    for report in confirmed:
        work.put(report)
    start = time.perf_counter()
    deadline = start + budget

    def reporter(_number: int) -> None:
        while not stop.is_set() and time.perf_counter() < deadline:
            try:
                report = work.get_nowait()
            except queue.Empty:
                return
            outcome = follow_up(port, addresses.take(), timeout, report)
            with lock:
                if outcome.ok:
                    report.replied = True
                    phase.ok += 1
                    phase.post.append(outcome.post_seconds)
                    phase.visit.append(outcome.total_seconds)
                else:
                    phase.errors[outcome.problem] += 1

    if not run_reporters(reporter, reporters, deadline + 2 * timeout + 10, stop):
        phase.errors["reporter still waiting at the hard stop"] += 1
    phase.seconds = time.perf_counter() - start
    if not work.empty():
        phase.errors["not followed up within the time budget"] += work.qsize()
    return phase


def print_phase(phase: Phase, reporters: int, cores: int) -> None:
    print(
        f"\n{phase.name}: {reporters} reporters at once, {phase.seconds:.1f} s, "
        f"{phase.ok} done, {sum(phase.errors.values())} errors, {phase.rate:.2f}/s"
    )
    for label, values in ((phase.post_label, phase.post), ("whole visit", phase.visit)):
        if values:
            print(
                f"  {label:<22} ms  median {ms(median(values)):7.0f}   p95 "
                f"{ms(p95(values)):7.0f}   max {ms(max(values)):7.0f}"
            )
    per_visit = phase.usage.server_cpu / phase.ok if phase.ok else float("nan")
    print(
        f"  gunicorn CPU {per_visit:.3f} s per visit; this script {phase.usage.client_cpu:.0f} "
        f"s; machine busy {phase.usage.machine_percent:.0f} % of {cores} cores"
    )
    for problem, count in phase.errors.most_common():
        print(f"  error: {count} x {problem}")


def start_readme_gunicorn(instance: Path, port: int, workers: int, log: Path) -> Server:
    """gunicorn with the README's production command, on ``port``, once ``/healthz`` answers."""
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        *("-c", "python:whistle.serving.gunicorn_conf"),
        *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "wsgi:app"),
    ]
    description = f"gunicorn {version('gunicorn')}, README command, {workers} workers"
    return launch(command, instance, port, log, description)


def print_comparison(calm: Phase, attacked: Phase, tally: attacker.Tally) -> None:
    print("\nreporters with and without the attacker (whole visit)")
    for label, phase in (("without", calm), ("with", attacked)):
        print(
            f"  {label:<8} median {ms(median(phase.visit)):7.0f} ms   p95 "
            f"{ms(p95(phase.visit)):7.0f} ms   {phase.ok} done, "
            f"{sum(phase.errors.values())} errors"
        )
    if calm.visit and attacked.visit:
        print(f"  median with / without: {median(attacked.visit) / median(calm.visit):.2f}x")
    print("  the attacker's requests, by answer:")
    for attack, answers in sorted(tally.answers.items()):
        shown = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(answers.items()))
        print(f"    {attack:<32} {shown}")


def verify(
    instance: Path,
    store_root: Path,
    handlers: Handlers,
    confirmed: list[Confirmed],
    exact: bool = True,
) -> bool:
    """Every confirmed report is stored, whole, and opens for a handler; nothing else is
    (unless ``exact`` is False: an attacker's accepted reports are stored too)."""
    problems: Counter[str] = Counter()
    with app_session(instance) as session:
        cases = int(session.scalar(select(func.count()).select_from(Case)) or 0)
        files = int(session.scalar(select(func.count()).select_from(Attachment)) or 0)
        messages = int(session.scalar(select(func.count()).select_from(Message)) or 0)
        for report in confirmed:
            case = session.scalar(select(Case).where(Case.reference == report.reference))
            if case is None:
                problems["confirmed report not in the database"] += 1
                continue
            try:
                opened = open_as_handler(session, store_root, case, handlers)
            except Exception as exc:  # noqa: BLE001 - any failure is a finding
                problems[f"does not open for a handler: {type(exc).__name__}"] += 1
                continue
            if opened.report.get("what") != REPORT_TEXT:
                problems["report text differs from what was sent"] += 1
            if opened.files != [ATTACHMENT]:
                problems["attachment differs from what was sent"] += 1
            wanted = [REPLY_TEXT] if report.replied else []
            if opened.reporter_messages != wanted:
                problems["reply differs from what was sent"] += 1
        findings = check(session, FileStore(store_root), min_age=timedelta(0))
    replied = sum(1 for r in confirmed if r.replied)
    rows = [
        ("cases in the database = confirmed reports", cases, len(confirmed)),
        ("attachments in the database = confirmed reports", files, len(confirmed)),
        ("reporter replies in the database = confirmed follow-ups", messages, replied),
        ("files in the store = attachments", findings.stored_files, len(confirmed)),
        ("whistle doctor: problems (orphans, missing files, half-stored)", findings.problems, 0),
    ]
    print("\nstorage check (gunicorn stopped)")
    good = not problems
    for label, got, want in rows:
        ok = got == want or (not exact and not label.startswith("whistle doctor"))
        good = good and ok
        print(f"  {label:<64} {got:6d} / {want:<6d} {'OK' if ok else 'MISMATCH'}")
    opened_ok = len(confirmed) - sum(problems.values())
    print(f"  confirmed reports opened by a handler and matching what was sent: {opened_ok}")
    for problem, count in problems.most_common():
        print(f"  problem: {count} x {problem}")
    return good


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of the submissions")
    parser.add_argument("--reporters", type=int, default=50, help="reporters at once")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--timeout", type=float, default=120, help="per HTTP request, seconds")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WHISTLE_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="an existing database to run CREATE/DROP DATABASE from",
    )
    parser.add_argument("--server-log", type=Path, help="keep a copy of gunicorn's log here")
    parser.add_argument(
        "--no-attacker", action="store_true", help="skip the phase with the attacker"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 10 s, 10 reporters")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.reporters = min(args.seconds, 10), min(args.reporters, 10)
    if not 1 <= args.workers <= 64 or not 1 <= args.reporters <= 500 or args.seconds <= 0:
        parser.error("--workers 1..64, --reporters 1..500, --seconds positive")
    return args


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(
    args: argparse.Namespace, workdir: Path, db_url: str, pg_description: str, stop: threading.Event
) -> bool:
    instance = workdir / "instance"
    init_instance(instance)
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    port = free_port()
    write_config(instance, db_url, port)
    handlers = make_bench_organisation(instance, SLUG)
    server = start_readme_gunicorn(instance, port, args.workers, workdir / "gunicorn.log")
    attacked = Phase("submissions with the attacker")
    tally = attacker.Tally()
    try:
        print(f"{pg_description} on 127.0.0.1, fresh database; {server.description}")
        addresses = LoopbackAddresses()
        confirmed: list[Confirmed] = []
        cores = len(os.sched_getaffinity(0))
        print(f"load average before the run: {Path('/proc/loadavg').read_text().split()[0]}")
        with measure_usage(server.process.pid) as usage:
            submitted = submission_phase(
                port, args.reporters, args.seconds, addresses, args.timeout, confirmed, stop
            )
        submitted.usage = usage
        print_phase(submitted, args.reporters, cores)
        if not args.no_attacker:
            attacking = threading.Event()
            threads = attacker.start(port, attacking, tally)
            try:
                with measure_usage(server.process.pid) as usage:
                    attacked = submission_phase(
                        port,
                        args.reporters,
                        args.seconds,
                        addresses,
                        args.timeout,
                        confirmed,
                        stop,
                    )
            finally:
                attacking.set()
                for thread in threads:
                    thread.join(timeout=args.timeout)
            attacked.name, attacked.usage = "submissions with the attacker", usage
            print_phase(attacked, args.reporters, cores)
            print_comparison(submitted, attacked, tally)
        with measure_usage(server.process.pid) as usage:
            followed = follow_up_phase(
                port,
                args.reporters,
                addresses,
                args.timeout,
                confirmed,
                max(120.0, 3 * args.seconds),
                stop,
            )
        followed.usage = usage
        print_phase(followed, args.reporters, cores)
    finally:
        stop.set()
        stop_gunicorn(server)
    logged = server_errors(server.log)
    print("\nserver log: " + ("no unhandled errors" if not logged else ""))
    for where, count in logged.most_common():
        print(f"  {count:5d} x {where}")
    if args.server_log:
        shutil.copyfile(server.log, args.server_log)
    stored = verify(instance, instance / "files", handlers, confirmed, exact=args.no_attacker)
    errors = (
        sum(submitted.errors.values())
        + sum(attacked.errors.values())
        + sum(followed.errors.values())
    )
    print(
        f"\nerrors: {errors} (submissions {sum(submitted.errors.values())}, with the attacker "
        f"{sum(attacked.errors.values())}, follow-ups {sum(followed.errors.values())}); "
        f"loopback addresses used: {addresses.used}, one visit each"
    )
    good = errors == 0 and not logged and stored and submitted.ok > 0
    print("RESULT: " + ("PASS" if good else "FAIL"))
    return good


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    check_loopback_sources()
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores (nproc), {cpu_model()}, {memory_gib():.0f} GiB RAM")
    print(
        f"python {platform.python_version()}, gunicorn {version('gunicorn')}, "
        f"SQLAlchemy {version('sqlalchemy')}, psycopg {version('psycopg')}; "
        f"{argon2_costs()}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="whistle-load-"))
    stop = threading.Event()
    good = False
    try:
        with postgresql(args.database_url) as (db_url, pg_description):
            good = run(args, workdir, db_url, pg_description, stop)
    except KeyboardInterrupt:
        stop.set()
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop.set()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
