"""Benchmark of the export for counsel (whistle/counsel/export.py, issue 7): a case with 500 MB of
attachments, time and peak memory, against copying the same bytes with the stream cipher alone.

Run from the repository root: ``.venv/bin/python bench/export_bench.py`` (options: ``--mb``,
``--files``, ``--rounds``, ``--only sqlite|postgresql``, ``--keep-temp``; ``--help`` lists
them). About a minute with the defaults on a 2-core machine; it needs about three times
``--mb`` of free disk in the temporary folder. This is a script, not a test; the figures go
into docs/benchmarks.md ("Export for counsel"). It exits with 1 when a check fails or a
target is missed.

The issue's yardstick: the export streams, so its peak memory stays under 100 MB whatever the
size of the case, and it costs about what copying the same bytes through the stream cipher
costs.

What it does, all on this machine:

1. creates a temporary folder with a file store and a fresh database (SQLite in that folder by
   default; ``--only postgresql`` makes a PostgreSQL database with a random name instead,
   dropped at the end, also on error or Ctrl-C), migrates it with ``whistle.core.schema.upgrade``
   and adds an organisation with its keys, a handler and a counsel user with key pairs, as
   tests/steps/factories.py does (Argon2id at the test settings: it is not what is measured);
2. writes ``--files`` files of random bytes, ``--mb`` MB in all, to disk in 1 MiB blocks
   (never more than that in memory), files them with one report through
   ``whistle.reporting.intake.submit_report`` (which encrypts them into the store with
   ``encrypt_stream``), and removes the plaintext inputs at once;
3. runs each operation in a fresh child process of its own (``python export_bench.py
   --child OP``, secrets passed on its stdin, never on the command line), so that its peak
   RSS is its own: the child reports ``VmHWM`` from /proc/self/status after its setup and
   again after the operation. (Not ``ru_maxrss`` from ``wait4`` or ``RUSAGE_CHILDREN``:
   Linux carries the high-water mark of the memory a child had before ``exec``, a copy of
   the parent's or with ``vfork`` the parent's own, into it, so every child would show the
   parent's peak.) Every child does the same setup (imports what the export needs, opens the
   database, unwraps the handler's and counsel's private keys, opens the handler's case keys
   with ``whistle.cases.handling.open_keys``, unseals the organisation's signing key):

   - idle web worker: ``create_app`` (every view, as a gunicorn worker holds it) and the
     setup, for comparison: the export runs inside such a worker;
   - idle: the setup only, the memory the other children start from;
   - (a) baseline, "copying the same bytes with the stream cipher alone": every stored
     attachment through ``decrypt_stream`` into one ``StreamEncryptor``, written into the
     same file store through ``FileStore.writer`` (so with the same ``fsync`` the export
     pays), then removed (after the timing);
   - (b) ``export_case`` of the case to the counsel user, internal notes included; once more
     at the end in a child that has also run ``create_app`` (an export inside a web worker);
   - (c) ``open_bundle`` of the bundle with counsel's private key into a ZIP file in the
     temporary folder (counsel's side);
   - (d) ``verify_archive`` of that ZIP: the manifest's signature against the organisation's
     verify key, and the SHA-256 and size of every part.

   ``--rounds N`` (default 3) runs (a) and (b) N times, alternating, and compares their
   medians.
   Timings are wall time of the operation alone; CPU time is shown too (less sensitive to
   other work on a shared machine), and the time spent in ``os.fsync``;
4. checks that (a) copied every byte, that the bundle opens to the export's id and verifies,
   and that every attachment in the ZIP has the size and SHA-256 of its plaintext input.

All reads come from the page cache (the files were written just before): the figures are the
cost of the code, not of the disk, except for ``fsync``. Nothing printed contains report
text, a case code, a password or a key: only sizes, counts and timings.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any

from benchkit import app_session_info, cpu_model, memory_gib, shielded
from benchkit import postgresql_url as postgresql
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from crypto import (
    Argon2Params,
    PrivateKey,
    SigningKey,
    StreamEncryptor,
    VerifyKey,
    unwrap_private_key,
    wrap_private_key,
)
from whistle.casefile.access import OpenedKeys, open_keys
from whistle.casefile.conversation import open_file
from whistle.core import org_keys, trust
from whistle.core.clock import FixedClock, SystemClock
from whistle.core.db import make_engine
from whistle.core.models import Attachment, Case, Category, Membership, Organisation, Role, User
from whistle.core.storage import FileStore
from whistle.counsel import bundle_reader, export
from whistle.keys import certification, first_use

# Only what the measured operations need is imported at the top: every child imports this
# module, and its idle memory should be what an export starts from. What the parent alone needs
# to set up (intake; migrations, which load Alembic; the Flask app for the category labels) is
# imported in the functions below.

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MB = 1_000_000  # decimal megabytes throughout, as the issue counts them
BLOCK = 1 << 20  # bytes of random input generated and written at a time
LIMIT_MB = 100  # the ceiling on peak memory
TARGET_RATIO = 2.0  # the export at most this much slower than the baseline
REPORT_TEXT = (
    "Fake benchmark report: invented scans of pallet lists, nothing real in here. "
    "The attachments are random bytes."
)
OPERATIONS = {
    "worker": "idle web worker (create_app, keys opened)",
    "idle": "idle child (export's imports, keys opened)",
    "baseline": "(a) decrypt_stream -> StreamEncryptor",
    "export": "(b) export_case",
    "worker-export": "(b) export_case in a web worker",
    "open": "(c) open_bundle (counsel's key)",
    "verify": "(d) verify_archive (every part)",
}


# --- the child: one operation, its own peak memory --------------------------------------------


def memory_kib() -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS of this process, in KiB, from /proc/self/status."""
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = int(value.split()[0])
    return found


class FsyncTimer:
    """Wraps ``os.fsync`` in the child to time it (the store's writer calls it through ``os``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._fsync = os.fsync

    def __call__(self, fd: Any) -> None:
        start = time.perf_counter()
        try:
            self._fsync(fd)
        finally:
            self.seconds += time.perf_counter() - start


@dataclass
class Setup:
    """What every child opens before its operation (the same for all, so the idle child's peak
    is what the others start from)."""

    session: Session
    store: FileStore
    org: Organisation
    case: Case
    handler_id: int
    counsel_id: int
    keys: OpenedKeys
    signing_key: SigningKey
    counsel_key: PrivateKey
    verify_key: VerifyKey


def child_setup(job: dict[str, Any], engine: Engine) -> Setup:
    password = job["password"]
    session = Session(engine, expire_on_commit=False, info=app_session_info(Path(job["instance"])))
    org = session.get(Organisation, job["org_id"])
    case = session.get(Case, job["case_id"])
    handler = session.get(User, job["handler_id"])
    counsel = session.get(User, job["counsel_id"])
    assert org and case and handler and counsel
    assert handler.wrapped_private_key and counsel.wrapped_private_key
    handler_key = unwrap_private_key(handler.wrapped_private_key, password)
    keys = open_keys(session, case, handler.id, handler_key)
    instance_key = bytes.fromhex(job["instance_key"])
    setup = Setup(
        session=session,
        store=FileStore(Path(job["store"])),
        org=org,
        case=case,
        handler_id=handler.id,
        counsel_id=counsel.id,
        keys=keys,
        signing_key=org_keys.signing_key(session, org.id, instance_key),
        counsel_key=unwrap_private_key(counsel.wrapped_private_key, password),
        verify_key=org_keys.verify_key(session, org.id),
    )
    session.commit()  # end the read transaction, as a request would before the work starts
    return setup


def op_baseline(s: Setup, job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """Every attachment of the case decrypted and encrypted again into one stored file."""
    names = list(
        s.session.scalars(
            select(Attachment.storage_name)
            .where(Attachment.case_id == s.case.id)
            .order_by(Attachment.id)
        )
    )
    case_uid = s.case.uid
    s.session.commit()

    def run() -> dict[str, Any]:
        encryptor = StreamEncryptor(secrets.token_bytes(32), ("export-bench", case_uid))
        name = s.store.new_name()
        with s.store.writer(name) as out:
            for storage_name in names:
                found = open_file(s.session, s.store, s.case, s.keys.content, storage_name)
                assert found is not None
                for chunk in found[1]:
                    out.write(encryptor.update(chunk))
            out.write(encryptor.finalize())
        return {
            "plaintext": encryptor.plaintext_size,
            "written": s.store.path(name).stat().st_size,
            "files": len(names),
            "storage_name": name,  # removed by the parent, after the timing
        }

    return run


def op_export(s: Setup, job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        made = export.export_case(
            s.session,
            SystemClock(),
            s.store,
            s.org,
            s.case,
            s.keys,
            s.handler_id,
            counsel_id=s.counsel_id,
            include_notes=True,
            signing_key=s.signing_key,
        )
        return {"storage_name": made.storage_name, "written": made.size, "export_id": made.uid}

    return run


def op_open(s: Setup, job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    bundle = s.store.path(job["bundle"])
    archive = Path(job["archive"])

    def run() -> dict[str, Any]:
        with archive.open("wb") as out:
            export_id = bundle_reader.open_bundle(bundle, s.counsel_key, out).export_id
        return {"export_id": export_id, "written": archive.stat().st_size}

    return run


def op_verify(s: Setup, job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    archive = Path(job["archive"])
    reference = s.case.reference

    def run() -> dict[str, Any]:
        with archive.open("rb") as src:
            checked = bundle_reader.verify_archive(src, expected_key=s.verify_key)
        return {"parts": checked.parts, "same_case": checked.case == reference}

    return run


def op_idle(s: Setup, job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: {}


CHILD_OPERATIONS: dict[str, Callable[[Setup, dict[str, Any]], Callable[[], dict[str, Any]]]] = {
    "worker": op_idle,
    "idle": op_idle,
    "baseline": op_baseline,
    "export": op_export,
    "worker-export": op_export,
    "open": op_open,
    "verify": op_verify,
}


def child_main(operation: str) -> int:
    """Read the job (with its secrets) from stdin, set up, time the operation, print JSON."""
    signal.signal(signal.SIGINT, lambda _signum, _frame: sys.exit(130))  # quietly, no traceback
    job = json.loads(sys.stdin.read())
    app = None
    if operation.startswith("worker"):
        # What a gunicorn worker holds before its first request: the whole app, every view.
        from whistle.app import create_app

        app = create_app(
            {
                "database_url": job["database"],
                "argon2_profile": "test",
                "base_url": "http://localhost",
            },
            instance_path=job["instance"],
        )
    timer = FsyncTimer()
    os.fsync = timer
    engine = make_engine(job["database"])
    try:
        setup = child_setup(job, engine)
        run = CHILD_OPERATIONS[operation](setup, job)
        before = memory_kib()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        detail = run()
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        setup.session.close()
    finally:
        engine.dispose()
        if app is not None:
            from whistle.core.runtime import runtime

            runtime(app).engine.dispose()
    result = {
        "seconds": seconds,
        "cpu": (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime),
        "fsync": timer.seconds,
        "setup_hwm_kib": before["VmHWM"],
        "hwm_kib": memory_kib()["VmHWM"],
        **detail,
    }
    print(json.dumps(result))
    return 0


# --- the parent: database, case, children ---------------------------------------------------


@contextlib.contextmanager
def sqlite(workdir: Path) -> Iterator[tuple[str, str]]:
    """A new SQLite file in the temporary folder (removed with it)."""
    url = f"sqlite:///{workdir / 'export-bench.sqlite'}"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            server = connection.scalar(text("SELECT sqlite_version()"))
    finally:
        engine.dispose()
    yield url, f"SQLite {server}"


@dataclass
class Input:
    name: str
    size: int
    sha256: str


def write_inputs(folder: Path, total: int, count: int) -> list[tuple[Path, Input]]:
    """``count`` files of random bytes, ``total`` bytes in all, written a block at a time."""
    folder.mkdir(mode=0o700)
    sizes = [total // count] * count
    sizes[-1] += total - sum(sizes)
    made = []
    for number, size in enumerate(sizes, start=1):
        path = folder / f"evidence-{number:02d}.bin"
        digest = hashlib.sha256()
        with path.open("wb") as out:
            left = size
            while left:
                block = os.urandom(min(BLOCK, left))
                digest.update(block)
                out.write(block)
                left -= len(block)
        made.append((path, Input(path.name, size, digest.hexdigest())))
    return made


@dataclass
class Prepared:
    """The ids the children need (the job's secrets are added separately)."""

    org_id: int
    case_id: int
    handler_id: int
    counsel_id: int
    inputs: list[Input]
    intake_seconds: float


def add_person(
    session: Session,
    org: Organisation,
    name: str,
    role: Role,
    password: str,
    now: datetime,
    keys: dict[int, PrivateKey] | None = None,
) -> User:
    """A key-holding staff member, as tests/steps/factories.add_staff makes one (cheap Argon2id)."""
    from whistle.staff.passwords import hash_password

    params = Argon2Params.for_tests()
    private = PrivateKey.generate()
    user = User(
        email=f"{name.lower().replace(' ', '.')}.{org.slug}@example.org",
        display_name=name,
        password_hash=hash_password(password, params),
        public_key=private.public_key().to_bytes(),
        wrapped_private_key=wrap_private_key(private, password, params),
        is_active=True,
        created_at=now,
        confidentiality_ack_at=now,
    )
    session.add(user)
    session.flush()
    session.add(Membership(org_id=org.id, user_id=user.id, role=role, created_at=now))
    session.flush()
    if keys is not None:
        keys[user.id] = private
    return user


def prepare(
    instance: Path,
    engine: Engine,
    store: FileStore,
    inputs_dir: Path,
    password: str,
    instance_key: bytes,
    args: argparse.Namespace,
) -> Prepared:
    """Organisation, handler, counsel, and one case with the random attachments."""
    from flask import Flask
    from flask_babel import Babel

    from whistle.casefile.conversation import PreparedFile
    from whistle.casefile.metadata import StripOutcome
    from whistle.core.organisations import create_organisation
    from whistle.reporting.intake import ReportInput, submit_report

    now = datetime.now(UTC)
    clock = FixedClock(now)
    # create_organisation renders its category labels in Danish and English (flask-babel).
    app = Flask("whistle", root_path=str(ROOT / "whistle"))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = "translations"
    Babel(app)
    with (
        app.app_context(),
        Session(engine, expire_on_commit=False, info=app_session_info(instance)) as session,
    ):
        org = create_organisation(session, clock, name="Benchfirma ApS", slug="benchfirma")
        org_keys.create_org_keys(session, clock, org, instance_key)
        keys: dict[int, PrivateKey] = {}
        handler = add_person(session, org, "Hanne Handler", Role.HANDLER, password, now)
        counsel = add_person(session, org, "Conny Counsel", Role.COUNSEL, password, now)
        lead = add_person(session, org, "Lise Lead", Role.LEAD, password, now, keys)
        session.commit()
        # As a real organisation: pinned keys, the lead trusted on first use, and the
        # handler's and counsel's keys certified by her (whistle/keys/certification.py).
        trust.pin_organisation(session, org)
        first_use.trust_first_lead(session, clock, lead, keys[lead.id], instance_key=instance_key)
        for person in (handler, counsel):
            certification.certify(
                session, clock, org.id, lead, keys[lead.id], person.id, compared=True
            )
        category = session.scalars(
            select(Category.id).where(Category.org_id == org.id).order_by(Category.id).limit(1)
        ).one()
        made = write_inputs(inputs_dir, args.mb * MB, args.files)
        try:
            with contextlib.ExitStack() as files:
                prepared = [
                    PreparedFile(
                        path.name,
                        files.enter_context(path.open("rb")),
                        StripOutcome.UNSUPPORTED.value,
                    )
                    for path, _ in made
                ]
                start = time.perf_counter()
                submission = submit_report(
                    session,
                    clock,
                    org,
                    ReportInput(category_id=category, what=REPORT_TEXT),
                    prepared,
                    pepper=secrets.token_bytes(32),
                    argon2=Argon2Params.for_tests(),
                    store=store,
                )
                intake_seconds = time.perf_counter() - start
        finally:
            shutil.rmtree(inputs_dir, ignore_errors=True)  # the plaintext is not needed again
        return Prepared(
            org.id,
            submission.case.id,
            handler.id,
            counsel.id,
            [found for _, found in made],
            intake_seconds,
        )


@dataclass
class Run:
    operation: str
    seconds: float
    cpu: float
    fsync: float
    setup_mb: float
    peak_mb: float
    detail: dict[str, Any] = field(default_factory=dict)


def run_child(operation: str, job: dict[str, Any]) -> Run:
    """One operation in a fresh interpreter, which reports its own peak RSS (VmHWM)."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", operation],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        output, _ = process.communicate(json.dumps(job).encode())
    except BaseException:  # Ctrl-C or SIGTERM: the child must not outlive the cleanup
        process.kill()
        process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"child {operation!r} failed (exit {process.returncode})")
    result = json.loads(output)
    return Run(
        operation=operation,
        seconds=result.pop("seconds"),
        cpu=result.pop("cpu"),
        fsync=result.pop("fsync"),
        setup_mb=result.pop("setup_hwm_kib") * 1024 / MB,
        peak_mb=result.pop("hwm_kib") * 1024 / MB,
        detail=result,
    )


def check_archive(path: Path, inputs: list[Input]) -> list[str]:
    """The opened ZIP: every attachment with its input's size and SHA-256 in the manifest,
    and the same sizes in the ZIP's directory."""
    problems = []
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        files = [p for p in manifest["parts"] if p["path"].startswith("files/")]
        sizes = {i.filename: i.file_size for i in archive.infolist()}
    if len(files) != len(inputs):
        problems.append(f"{len(files)} attachments in the manifest, {len(inputs)} filed")
    for part, made in zip(files, inputs, strict=False):
        if not part["path"].endswith(made.name):
            problems.append(f"{part['path']}: expected {made.name}")
        if (part["size"], part["sha256"]) != (made.size, made.sha256):
            problems.append(f"{part['path']}: size or SHA-256 differs from the input")
        if sizes.get(part["path"]) != made.size:
            problems.append(f"{part['path']}: wrong size in the ZIP directory")
    if {"case.json", "case.pdf"} - set(sizes):
        problems.append("case.json or case.pdf missing")
    return problems


# --- output ----------------------------------------------------------------------------------


def median_run(runs: list[Run]) -> Run:
    """The run of median time (the upper one of two)."""
    ordered = sorted(runs, key=lambda r: r.seconds)
    return ordered[len(ordered) // 2]


def print_table(runs: list[Run], payload: int) -> tuple[bool, bool]:
    """Every run, then the targets; returns (memory target met, time target met)."""
    idle = next(r for r in runs if r.operation == "idle")
    worker = next(r for r in runs if r.operation == "worker")
    baseline = median_run([r for r in runs if r.operation == "baseline"])
    print(
        f"\n{'operation':<40} {'seconds':>8} {'CPU s':>6} {'fsync s':>8} {'MB/s':>6} "
        f"{'peak RSS MB':>12} {'over idle':>10} {'vs (a)':>7}"
    )
    for r in runs:
        if r.operation in ("idle", "worker"):
            print(
                f"{OPERATIONS[r.operation]:<40} {'':>8} {'':>6} {'':>8} {'':>6} "
                f"{r.peak_mb:12.1f} {'':>10} {'':>7}"
            )
            continue
        print(
            f"{OPERATIONS[r.operation]:<40} {r.seconds:8.2f} {r.cpu:6.2f} {r.fsync:8.2f} "
            f"{payload / MB / r.seconds:6.0f} {r.peak_mb:12.1f} "
            f"{r.peak_mb - (worker if r.operation.startswith('worker') else idle).peak_mb:+10.1f} "
            f"{r.seconds / baseline.seconds:6.2f}x"
        )
    print(
        f"(MB/s: {payload / MB:,.0f} MB of attachments over the operation's wall time; "
        "'over idle': peak RSS minus the idle child's, in a web worker the idle worker's)"
    )
    exports = [r for r in runs if r.operation == "export"]
    export_run = median_run(exports)
    in_worker = next(r for r in runs if r.operation == "worker-export")
    ratio = export_run.seconds / baseline.seconds
    cpu_ratio = export_run.cpu / baseline.cpu
    fast = ratio <= TARGET_RATIO
    peak = max(r.peak_mb for r in exports)
    small = peak < LIMIT_MB
    rounds = f" (medians of {len(exports)} rounds)" if len(exports) > 1 else ""
    print(
        f"\n(b) / (a){rounds}: time {ratio:.2f}x, CPU {cpu_ratio:.2f}x, without fsync "
        f"{(export_run.seconds - export_run.fsync) / (baseline.seconds - baseline.fsync):.2f}x "
        f"(target <= {TARGET_RATIO:.0f}x: {'met' if fast else 'MISSED'})"
    )
    print(
        f"peak RSS of (b): {peak:.1f} MB (target < {LIMIT_MB} MB: {'met' if small else 'MISSED'}); "
        f"of that, {idle.peak_mb:.1f} MB is the idle child, so the export itself takes "
        f"{peak - idle.peak_mb:.1f} MB; in a web worker {in_worker.peak_mb:.1f} MB "
        f"({in_worker.peak_mb - worker.peak_mb:+.1f} MB over the idle worker)"
    )
    return small, fast


# --- main ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="MB of attachments in all")
    parser.add_argument("--files", type=int, default=5, help="number of attachments")
    parser.add_argument(
        "--rounds", type=int, default=3, help="times to run (a) and (b), alternating (median)"
    )
    parser.add_argument(
        "--only",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the database (default sqlite: it holds only a few small rows here)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WHISTLE_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="PostgreSQL: an existing database to run CREATE/DROP DATABASE from",
    )
    parser.add_argument(
        "--keep-temp",
        action="store_true",
        help="keep the temporary folder (store, bundle, opened ZIP, SQLite file) for debugging; "
        "the plaintext inputs are removed anyway",
    )
    parser.add_argument("--child", choices=tuple(CHILD_OPERATIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mb < 1 or args.files < 1 or args.rounds < 1:
        parser.error("--mb, --files and --rounds must be positive")
    return args


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    if args.child:
        return child_main(args.child)
    signal.signal(signal.SIGTERM, interrupt)
    payload = args.mb * MB
    print(
        f"machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu_model()}, "
        f"{memory_gib():.0f} GiB RAM; python {platform.python_version()}, "
        f"cryptography {version('cryptography')}, SQLAlchemy {version('sqlalchemy')}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="whistle-export-bench-"))
    free = shutil.disk_usage(workdir).free
    good = False
    try:
        if free < 3 * payload + 200 * MB:
            print(
                f"not enough free disk in {workdir.parent}: {free / MB:,.0f} MB free, "
                f"{(3 * payload + 200 * MB) / MB:,.0f} MB needed",
                file=sys.stderr,
            )
            return 1
        opened = postgresql(args.database_url) if args.only == "postgresql" else sqlite(workdir)
        with opened as (database_url, database_name):
            good = run_all(args, workdir, database_url, database_name, payload)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        with shielded():
            if args.keep_temp:
                print(f"kept {workdir}", file=sys.stderr)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    return 0 if good else 1


def run_all(
    args: argparse.Namespace, workdir: Path, database_url: str, database_name: str, payload: int
) -> bool:
    store = FileStore(workdir / "files")
    password = secrets.token_urlsafe(16)  # SECRET: only on the children's stdin
    instance_key = secrets.token_bytes(32)  # SECRET: likewise
    from whistle.core.instance import init_instance
    from whistle.core.schema import upgrade

    init_instance(workdir / "instance")  # only for the idle web worker's create_app
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        prepared = prepare(
            workdir / "instance", engine, store, workdir / "inputs", password, instance_key, args
        )
    finally:
        engine.dispose()
    os.sync()  # the intake's writes out of the way before anything is timed
    print(
        f"{database_name}; file store in {workdir.parent} "
        f"({os.statvfs(workdir).f_bsize} B blocks); "
        f"{args.files} attachments, {payload / MB:,.0f} MB in all, random bytes; "
        f"filed through submit_report in {prepared.intake_seconds:.1f} s "
        f"({payload / MB / prepared.intake_seconds:,.0f} MB/s, encrypt_stream + fsync)",
        flush=True,
    )
    job: dict[str, Any] = {
        "database": database_url,
        "store": str(store.root),
        "org_id": prepared.org_id,
        "case_id": prepared.case_id,
        "handler_id": prepared.handler_id,
        "counsel_id": prepared.counsel_id,
        "password": password,
        "instance_key": instance_key.hex(),
        "archive": str(workdir / "opened.zip"),
        "instance": str(workdir / "instance"),
    }
    problems: list[str] = []
    runs = [run_child("worker", job), run_child("idle", job)]
    bundle = ""
    export_id = ""
    for _ in range(args.rounds):
        base = run_child("baseline", job)
        store.delete(base.detail["storage_name"])
        if base.detail["plaintext"] != payload or base.detail["files"] != args.files:
            problems.append("(a) did not copy every attachment byte")
        made = run_child("export", job)
        if bundle:
            store.delete(bundle)  # keep only the last round's bundle on disk
        bundle, export_id = made.detail["storage_name"], made.detail["export_id"]
        runs += [base, made]
        print(f"  ... (a) {base.seconds:.2f} s, (b) {made.seconds:.2f} s", flush=True)
    in_worker = run_child("worker-export", job)
    store.delete(in_worker.detail["storage_name"])
    runs.append(in_worker)
    job["bundle"] = bundle
    opened = run_child("open", job)
    if opened.detail["export_id"] != export_id:
        problems.append("(c) opened another export than the one made")
    checked = run_child("verify", job)
    if checked.detail["parts"] != args.files + 2 or not checked.detail["same_case"]:
        problems.append("(d) verified another number of parts or another case")
    runs += [opened, checked]
    problems += check_archive(Path(job["archive"]), prepared.inputs)
    bundle_mb = store.path(bundle).stat().st_size / MB
    print(
        f"bundle {bundle_mb:,.1f} MB, opened ZIP {opened.detail['written'] / MB:,.1f} MB "
        f"({checked.detail['parts']} parts verified)"
    )
    small, fast = print_table(runs, payload)
    print(f"checks: {'all passed' if not problems else 'FAILED'}")
    for problem in problems:
        print(f"  FAILED: {problem}")
    return small and fast and not problems


if __name__ == "__main__":
    sys.exit(main())
