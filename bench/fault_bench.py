"""Faults: killed workers, a stopped database and a full disk, against gunicorn on PostgreSQL.

Run as root from the repository root: ``.venv/bin/python bench/fault_bench.py`` (``--help``
for the options). About two minutes, bounded: every wait has a deadline. This is a script, not
a test; the figures go into docs/benchmarks.md ("Faults"). It needs root for the tmpfs the file
store lives on (falling back to a loop-mounted file) and runs PostgreSQL as the ``postgres``
system user.

Everything runs on this machine, all traffic to 127.x.x.x:

- a PostgreSQL cluster of its own (initdb in a temporary folder, its own port), so stopping
  the database never touches the machine's server; gunicorn with two sync workers and
  Argon2id at the production defaults; the file store on a small filesystem of its own;
- the faults, one after the other, each with the reporter's view recorded:

  1. a worker killed (``kill -9``) while the reporter's upload is still arriving;
  2. a worker killed mid-submission, during the key derivation (nothing written yet);
  3. a worker killed mid-submission, while the attachment is being written to the store;
  4. a worker killed mid-submission after the attachment is stored, before the commit (the
     bench holds a row lock the submission waits for); the same for a reply with a file;
  5. PostgreSQL stopped (``pg_ctl stop -m immediate``, as in a crash) while reporters submit
     and follow up, and started again;
  6. the file store's disk full (a report with a file, a reply with a file, a report
     without one), then out of inodes;

- after each fault the same reporter tries again (as a person would) and must succeed;
- at the end, with gunicorn stopped: every case code any reporter was shown opens its case
  with the code and as a handler, and the report is whole; ``whistle doctor`` lists what the
  faults left, ``whistle doctor --repair --all`` removes it (``--all``: the app is stopped, so
  no upload is in flight), and a last ``whistle doctor`` finds nothing.

What must hold: no response is a traceback or a page other than the app's error page or the
page the reporter was on; no case code is shown for a report that was not stored; nothing
half-stored or orphaned is left after the repair. A killed worker cannot answer at all: the
reporter's connection closes without a response (behind the TLS reverse proxy, its "bad
gateway" page); the bench checks that nothing else is sent and that nothing of the attempt is
kept. The script exits non-zero if anything does not hold. Nothing printed contains a case
code, a password or report text.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version
from pathlib import Path
from types import FrameType

from benchkit import (
    Handlers,
    PrivatePostgreSQL,
    admin_statement,
    argon2_costs,
    cpu_model,
    free_port,
    gunicorn_workers,
    make_bench_organisation,
    memory_gib,
    open_as_handler,
    open_files_of,
    worker_serving,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from submit_bench import (
    REPORT_TEXT,
    SLUG,
    Browser,
    Server,
    server_errors,
    start_gunicorn,
    stop_gunicorn,
)

from tests.security.abuse.visits import CODE_RE, Answer, FormPage, multipart, report_fields
from whistle.core.db import make_engine
from whistle.core.instance import init_instance
from whistle.core.models import Attachment, Case, Message
from whistle.core.schema import upgrade
from whistle.core.storage import PARTIAL_SUFFIX

SMALL_FILE = b"Fake fault-bench attachment: invented filler, nothing real.\n" * 60  # ~3.6 KB
REPLY_TEXT = "Fake reply from the fault bench: an invented detail."
TITLE_RE = re.compile(r"<title>([^<]*)</title>", re.S)
ERROR_PAGE_RE = re.compile(r'<section class="error-page">.*?<h1>([^<]*)</h1>', re.S)
TRACEBACK_MARKERS = ("Traceback", 'File "', "most recent call last", "Werkzeug Debugger")
STORE_FS_MB = 256


# --- what the reporter saw -------------------------------------------------------------------


@dataclass(repr=False)
class Seen:
    """One attempt, as the reporter's browser saw it. ``code`` is SECRET (memory only)."""

    what: str  # "code shown", "error page 503: <title>", "connection closed", ...
    ok: bool  # an acceptable answer for this fault
    code: str = ""
    # Stored, but the code page itself failed: the browser to reload it with, as a person
    # would (the code waits in the reporter's session until they confirm writing it down).
    reload: Browser | None = None

    def __repr__(self) -> str:
        return f"Seen({self.what!r}, ok={self.ok})"


def page_kind(reply: Answer) -> tuple[str, bool]:
    """What a response is, and whether it is acceptable as a failure answer: the app's own
    error page (with a title, no traceback) or a form page shown again with its message."""
    if any(marker in reply.body for marker in TRACEBACK_MARKERS):
        return f"TRACEBACK in a {reply.status} response", False
    if CODE_RE.search(reply.body):
        return "case code shown", True
    found = ERROR_PAGE_RE.search(reply.body)
    if found and reply.status >= 400:
        return f"error page {reply.status}: {found.group(1).strip()}", True
    title = TITLE_RE.search(reply.body)
    named = title.group(1).strip() if title else ""
    return f"unexpected {reply.status} page, titled {named!r}", False


@dataclass
class Ledger:
    """Every code shown to any reporter (SECRET), to check at the end that each was stored."""

    codes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, code: str) -> None:
        with self.lock:
            self.codes.append(code)


class Addresses:
    """A loopback address per simulated person (127.0.2.x, 127.0.3.x, ...)."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            number = self._next
            self._next += 1
        third, fourth = divmod(number, 250)
        return f"127.0.{third + 2}.{fourth + 2}"


# --- the reporter's side ---------------------------------------------------------------------


class FormNotShown(Exception):
    def __init__(self, reply: Answer) -> None:
        self.reply = reply
        super().__init__(f"form page answered {reply.status}")


def report_form(browser: Browser) -> tuple[str, str]:
    """The CSRF token and a category of the report form (FormNotShown otherwise)."""
    form = browser.get(f"/o/{SLUG}/report")
    page = FormPage(form.body)
    if form.status != 200 or not page.csrf_token or not page.categories:
        raise FormNotShown(form)
    return page.csrf_token, page.categories[0]


def report_body(token: str, category: str, attachment: bytes | None) -> tuple[bytes, str]:
    files = [("attachments", "notes.txt", attachment)] if attachment is not None else []
    return multipart(report_fields(token, category, REPORT_TEXT), files)


def submit(browser: Browser, attachment: bytes | None, ledger: Ledger) -> Seen:
    """A whole visit: form, POST, and the page it leads to."""
    try:
        token, category = report_form(browser)
    except FormNotShown as refused:
        kind, ok = page_kind(refused.reply)
        return Seen(f"form page: {kind}", ok and refused.reply.status >= 400)
    except (OSError, http.client.HTTPException) as exc:
        return Seen(f"connection: {type(exc).__name__}", False)
    body, content_type = report_body(token, category, attachment)
    try:
        posted = browser.post(f"/o/{SLUG}/report", body, content_type)
        if posted.status == 303:
            shown = browser.get(posted.location)
            kind, ok = page_kind(shown)
            found = CODE_RE.search(shown.body)
            if found:
                ledger.add(found.group(1))
                return Seen("case code shown", True, found.group(1))
            return Seen(f"after the redirect: {kind}", ok, reload=browser)
        kind, ok = page_kind(posted)
        return Seen(kind, ok)
    except (OSError, http.client.HTTPException) as exc:
        return Seen(f"connection: {type(exc).__name__}", False)


def sign_in(browser: Browser, code: str) -> Answer:
    form = browser.get(f"/o/{SLUG}/case/open")
    token = FormPage(form.body).csrf_token
    if form.status != 200 or not token:
        return form
    return browser.post_form(f"/o/{SLUG}/case/open", {"csrf_token": token, "code": code})


def reply_body(browser: Browser, attachment: bytes | None) -> tuple[bytes, str] | Answer:
    mailbox = browser.get(f"/o/{SLUG}/case/")
    token = FormPage(mailbox.body).csrf_token
    if mailbox.status != 200 or not token:
        return mailbox
    files = [("attachments", "more.txt", attachment)] if attachment is not None else []
    return multipart([("csrf_token", token), ("body", REPLY_TEXT)], files)


# --- a request sent by hand, so it can be cut or held --------------------------------------


class RawPost:
    """A POST on a socket of its own: headers and part of the body now, the rest later."""

    def __init__(
        self, port: int, address: str, path: str, cookies: dict[str, str], body: bytes, ctype: str
    ) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=60, source_address=(address, 0)
        )
        self.client = self.sock.getsockname()
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Language: en\r\n"
            f"Connection: close\r\nCookie: {cookie}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.sock.sendall(head)
        self.body = body
        self.sent = 0

    def send(self, upto: int) -> None:
        self.sock.sendall(self.body[self.sent : upto])
        self.sent = upto

    def answer(self) -> Answer | None:
        """The response, or None when the connection closed without one."""
        try:
            with contextlib.suppress(OSError):
                self.send(len(self.body))
            response = http.client.HTTPResponse(self.sock)
            response.begin()
            data = response.read()
            return Answer(response.status, response.headers, data.decode("utf-8", "replace"), 0)
        except (OSError, http.client.HTTPException):
            return None
        finally:
            self.sock.close()


# --- the server and its store ----------------------------------------------------------------


@dataclass
class Setup:
    workdir: Path
    instance: Path
    disk: Path  # the small filesystem's mount point
    store: Path  # the file store, a folder on it
    db_url: str
    port: int
    cluster: PrivatePostgreSQL
    handlers: Handlers
    server: Server | None = None
    mount_kind: str = ""


def mount_store_disk(disk: Path, size_mb: int) -> str:
    disk.mkdir(parents=True, exist_ok=True)
    tmpfs = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        timeout=30,
    )
    if tmpfs.returncode == 0:
        return f"tmpfs, {size_mb} MiB"
    image = disk.with_name("store.img")
    with image.open("wb") as handle:
        handle.truncate(size_mb * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, timeout=60)
    subprocess.run(["mount", "-o", "loop", str(image), str(disk)], check=True, timeout=30)
    return f"ext4 on a loop-mounted file, {size_mb} MiB (tmpfs refused)"


def remount(disk: Path, options: str) -> bool:
    done = subprocess.run(["mount", "-o", f"remount,{options}", str(disk)], capture_output=True)
    return done.returncode == 0


def store_entries(store: Path) -> tuple[set[str], set[str]]:
    """(complete files, .partial files) in the store now."""
    files: set[str] = set()
    partials: set[str] = set()
    for child in store.glob("??/*"):
        (partials if child.name.endswith(PARTIAL_SUFFIX) else files).add(child.name)
    return files, partials


def counts(engine: Engine) -> tuple[int, int, int]:
    """(cases, attachments, messages) in the database now."""
    with engine.connect() as connection:
        return (
            int(connection.scalar(select(func.count()).select_from(Case)) or 0),
            int(connection.scalar(select(func.count()).select_from(Attachment)) or 0),
            int(connection.scalar(select(func.count()).select_from(Message)) or 0),
        )


def wait_for(condition: Callable[[], object], seconds: float, step: float = 0.0005) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(step)
    return None


def wait_for_workers(server: Server, count: int) -> None:
    """gunicorn replaces a killed worker; wait until it is back and the server answers."""

    def ready() -> bool:
        if len(gunicorn_workers(server.process.pid)) < count:
            return False
        with contextlib.suppress(OSError, http.client.HTTPException):
            return Browser(server.port, "127.0.0.1", 5).get("/healthz").status == 200
        return False

    if not wait_for(ready, 60, 0.1):
        raise RuntimeError("gunicorn did not replace the killed worker within 60 s")


# --- the faults ------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    seen: Counter[str] = field(default_factory=Counter)
    retry: str = ""
    problems: list[str] = field(default_factory=list)
    note: str = ""

    def see(self, seen: Seen) -> None:
        self.seen[seen.what] += 1
        if not seen.ok:
            self.problems.append(f"reporter saw: {seen.what}")


def cut_off(result: Result, answer: Answer | None, ledger: Ledger) -> None:
    """A killed worker's reporter: no answer at all, or (never expected) something to check."""
    if answer is None:
        result.see(Seen("connection closed without a response", True))
        return
    kind, ok = page_kind(answer)
    found = CODE_RE.search(answer.body)
    if found:
        ledger.add(found.group(1))
    result.see(Seen(kind, ok and answer.status != 303))


def retry(result: Result, setup: Setup, address: str, ledger: Ledger, attachment: bytes) -> None:
    """The same person tries again at once, and must get their code."""
    assert setup.server is not None
    wait_for_workers(setup.server, 2)
    seen = submit(Browser(setup.port, address, 60), attachment, ledger)
    result.retry = seen.what
    if seen.what != "case code shown":
        result.problems.append(f"the retry did not succeed: {seen.what}")


def expect_unchanged(
    result: Result,
    engine: Engine,
    before: tuple[int, int, int],
    *,
    leftovers: str,
    store: Path,
    files_before: tuple[set[str], set[str]],
) -> None:
    """Nothing of the attempt in the database; note what it left in the store."""
    after = counts(engine)
    if after != before:
        result.problems.append(f"the database changed: {before} -> {after}")
    files, partials = store_entries(store)
    new_files = len(files - files_before[0])
    new_partials = len(partials - files_before[1])
    result.note = f"left in the store: {new_files} files, {new_partials} .partial files"
    expected = {"none": (0, 0), "partial": (0, 1), "file": (1, 0)}[leftovers]
    if (new_files, new_partials) != expected:
        result.note += f" (expected {expected[0]} files, {expected[1]} .partial)"


def killed_mid_upload(setup: Setup, engine: Engine, ledger: Ledger, address: str) -> Result:
    """1. The body is half sent when the worker dies."""
    assert setup.server is not None
    result = Result("kill -9 mid-upload (request body half received)")
    attachment = os.urandom(2 * 1024 * 1024).hex().encode()[: 3 * 1024 * 1024]
    browser = Browser(setup.port, address, 60)
    token, category = report_form(browser)
    body, ctype = report_body(token, category, attachment)
    before, files_before = counts(engine), store_entries(setup.store)
    post = RawPost(setup.port, address, f"/o/{SLUG}/report", browser.cookies, body, ctype)
    post.send(len(body) // 2)
    master = setup.server.process.pid
    pid = wait_for(partial(worker_serving, master, setup.port, post.client), 10)
    if not isinstance(pid, int):
        result.problems.append("no worker took the upload")
        post.answer()
        return result
    time.sleep(0.3)  # the worker is reading the body, which is still arriving
    os.kill(pid, signal.SIGKILL)
    cut_off(result, post.answer(), ledger)
    expect_unchanged(
        result, engine, before, leftovers="none", store=setup.store, files_before=files_before
    )
    retry(result, setup, address, ledger, SMALL_FILE)
    return result


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_above(pid: int, mib: float) -> bool:
    return rss_mib(pid) > mib


def writing_partial(pid: int) -> bool:
    """Whether ``pid`` has a ``.partial`` file of the store open (an upload being written)."""
    return any(path.endswith(PARTIAL_SUFFIX) for path in open_files_of(pid))


def killed_mid_submission(
    setup: Setup, engine: Engine, ledger: Ledger, addresses: Addresses, *, stage: str
) -> Result:
    """2. and 3. The whole request arrived; the worker dies during the key derivation
    ("derivation") or while the attachment is being written ("writing")."""
    assert setup.server is not None
    label = {
        "derivation": "kill -9 mid-submission, during the key derivation",
        "writing": "kill -9 mid-submission, while the attachment is written to the store",
    }[stage]
    result = Result(label)
    # The write is fast (GB/s); a large file keeps it open long enough to be seen.
    size = 64 * 1024 * 1024 if stage == "writing" else len(SMALL_FILE)
    attachment = (SMALL_FILE * (size // len(SMALL_FILE) + 1))[:size]
    for _attempt in range(5):
        address = addresses.take()  # a fresh person each time: the per-address limit stays
        browser = Browser(setup.port, address, 120)
        token, category = report_form(browser)
        body, ctype = report_body(token, category, attachment)
        before, files_before = counts(engine), store_entries(setup.store)
        post = RawPost(setup.port, address, f"/o/{SLUG}/report", browser.cookies, body, ctype)
        post.send(len(body))
        master = setup.server.process.pid
        pid = wait_for(partial(worker_serving, master, setup.port, post.client), 10)
        if not isinstance(pid, int):
            result.problems.append("no worker took the submission")
            post.answer()
            return result
        if stage == "derivation":
            # Argon2id holds 64 MiB while it runs: the worker's resident memory shows it.
            baseline = rss_mib(pid)
            deriving = wait_for(partial(rss_above, pid, baseline + 48), 30, 0.001)
            writing = writing_partial(pid)
            if not deriving:
                result.note = "the derivation was not seen; killed anyway"
        else:
            writing = bool(wait_for(partial(writing_partial, pid), 30, 0.0002))
            if not writing:  # missed the window: the submission may even have succeeded
                cut_off(result, post.answer(), ledger)
                result.seen.clear()
                result.problems.clear()
                continue
        os.kill(pid, signal.SIGKILL)
        cut_off(result, post.answer(), ledger)
        expect_unchanged(
            result,
            engine,
            before,
            leftovers="partial" if stage == "writing" else "none",
            store=setup.store,
            files_before=files_before,
        )
        if stage == "derivation" and writing:
            result.note += " (the write had already begun)"
        retry(result, setup, address, ledger, SMALL_FILE)
        return result
    result.problems.append("the write was never caught in 5 attempts")
    return result


@contextlib.contextmanager
def row_locked(engine: Engine, statement: str) -> Iterator[None]:
    """Hold a row lock (``SELECT ... FOR UPDATE``) until the block ends."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(text(statement))
            yield
        finally:
            transaction.rollback()


def lock_waiters(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
            or 0
        )


def killed_before_commit(setup: Setup, engine: Engine, ledger: Ledger, address: str) -> Result:
    """4. The attachment is stored and the submission waits for the reference counter (the
    bench holds its row): the worker dies before the commit."""
    assert setup.server is not None
    result = Result("kill -9 mid-submission, attachment stored, before the commit")
    browser = Browser(setup.port, address, 120)
    token, category = report_form(browser)
    body, ctype = report_body(token, category, SMALL_FILE)
    before, files_before = counts(engine), store_entries(setup.store)
    with row_locked(engine, "SELECT * FROM reference_counters FOR UPDATE"):
        post = RawPost(setup.port, address, f"/o/{SLUG}/report", browser.cookies, body, ctype)
        post.send(len(body))
        master = setup.server.process.pid
        pid = wait_for(lambda: worker_serving(master, setup.port, post.client), 10)
        waiting = wait_for(lambda: lock_waiters(engine) > 0, 30, 0.05)
        if not isinstance(pid, int) or not waiting:
            result.problems.append("the submission never reached the commit")
        else:
            os.kill(pid, signal.SIGKILL)
        answer = post.answer()
    cut_off(result, answer, ledger)
    expect_unchanged(
        result, engine, before, leftovers="file", store=setup.store, files_before=files_before
    )
    retry(result, setup, address, ledger, SMALL_FILE)
    return result


def reply_killed_before_commit(
    setup: Setup, engine: Engine, ledger: Ledger, address: str
) -> Result:
    """4b. A reply with a file: the file is stored, the reply waits for the case row (held by
    the bench), and the worker dies."""
    assert setup.server is not None
    result = Result("kill -9 mid-reply with a file, file stored, before the commit")
    browser = Browser(setup.port, address, 120)
    first = submit(browser, None, ledger)
    if not first.code:
        result.problems.append(f"the report to reply to was not accepted: {first.what}")
        return result
    reader = Browser(setup.port, address, 120)
    if sign_in(reader, first.code).status != 303:
        result.problems.append("could not open the mailbox")
        return result
    prepared = reply_body(reader, SMALL_FILE)
    assert isinstance(prepared, tuple)
    body, ctype = prepared
    with Session(engine) as session:
        case_id = session.scalars(select(Case.id).order_by(Case.id.desc()).limit(1)).one()
    before, files_before = counts(engine), store_entries(setup.store)
    # As if a handler had read the case: the reply's commit sets "unread" again, an update of
    # the case row that waits for the bench's lock. NO KEY: the reply's message row may still
    # refer to the case, so everything before the commit (the file included) goes ahead.
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE cases SET unread_for_handlers = false WHERE id = :id"), {"id": case_id}
        )
    locked = f"SELECT * FROM cases WHERE id = {int(case_id)} FOR NO KEY UPDATE"
    with row_locked(engine, locked):
        post = RawPost(setup.port, address, f"/o/{SLUG}/case/", reader.cookies, body, ctype)
        post.send(len(body))
        master = setup.server.process.pid
        pid = wait_for(lambda: worker_serving(master, setup.port, post.client), 10)
        waiting = wait_for(lambda: lock_waiters(engine) > 0, 30, 0.05)
        if not isinstance(pid, int) or not waiting:
            result.problems.append("the reply never reached the commit")
        else:
            os.kill(pid, signal.SIGKILL)
        answer = post.answer()
    cut_off(result, answer, ledger)
    expect_unchanged(
        result, engine, before, leftovers="file", store=setup.store, files_before=files_before
    )
    assert setup.server is not None
    wait_for_workers(setup.server, 2)
    again = reply_body(reader, SMALL_FILE)
    if isinstance(again, Answer):
        result.problems.append(f"mailbox did not load for the retry: {again.status}")
        return result
    sent = reader.post(f"/o/{SLUG}/case/", *again)
    result.retry = "reply sent" if sent.status == 303 else f"reply answered {sent.status}"
    if sent.status != 303:
        result.problems.append(f"the retry did not succeed: {sent.status}")
    return result


def database_stopped(setup: Setup, engine: Engine, ledger: Ledger, addresses: Addresses) -> Result:
    """5. Reporters submit and follow up while PostgreSQL stops (immediate) and starts again."""
    result = Result("PostgreSQL stopped mid-run (immediate), started again 6 s later")
    seed = submit(Browser(setup.port, addresses.take(), 60), SMALL_FILE, ledger)
    if not seed.code:
        result.problems.append(f"could not make a case to follow up: {seed.what}")
        return result
    stop = threading.Event()
    lock = threading.Lock()
    after_restart: Counter[str] = Counter()
    restarted = threading.Event()
    reloads: list[Browser] = []
    first_success: list[float] = []

    def reporter(number: int) -> None:
        rng = random.Random(number)
        while not stop.is_set():
            address = addresses.take()
            if number == 0:  # one reporter keeps coming back to their mailbox
                browser = Browser(setup.port, address, 60)
                try:
                    signed = sign_in(browser, seed.code)
                    if signed.status == 303:
                        page = browser.get(f"/o/{SLUG}/case/")
                        seen = Seen("mailbox shown", page.status == 200)
                        if page.status != 200:
                            kind, ok = page_kind(page)
                            seen = Seen(f"mailbox: {kind}", ok)
                    else:
                        kind, ok = page_kind(signed)
                        seen = Seen(f"sign-in: {kind}", ok)
                except (OSError, http.client.HTTPException) as exc:
                    seen = Seen(f"connection: {type(exc).__name__}", False)
            else:
                attachment = SMALL_FILE if rng.random() < 0.7 else None
                seen = submit(Browser(setup.port, address, 60), attachment, ledger)
            with lock:
                result.see(seen)
                if seen.reload is not None:
                    reloads.append(seen.reload)
                if restarted.is_set():
                    after_restart[seen.what] += 1
                    if seen.code and not first_success:
                        first_success.append(time.monotonic())
            time.sleep(0.2)

    threads = [threading.Thread(target=reporter, args=(n,), daemon=True) for n in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(6)
    setup.cluster.stop("immediate")
    time.sleep(6)
    setup.cluster.start()
    back = time.monotonic()
    restarted.set()
    time.sleep(12)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()  # the bench's own pool held connections to the stopped server
    for browser in reloads:
        with contextlib.suppress(OSError, http.client.HTTPException):
            page = browser.get(f"/o/{SLUG}/report/code")
            found = CODE_RE.search(page.body)
            if found:
                ledger.add(found.group(1))
                result.seen["code page reloaded after the restart: case code shown"] += 1
                continue
        result.problems.append("a stored report's code page did not come back")
    recovered = after_restart["case code shown"] + after_restart["mailbox shown"]
    result.retry = f"after the restart: {recovered} visits succeeded"
    if first_success:
        result.retry += (
            f", the first report stored {first_success[0] - back:.1f} s after PostgreSQL "
            "accepted connections again (no app restart)"
        )
    if after_restart["case code shown"] == 0:
        result.problems.append("no submission succeeded after the restart")
    return result


def fill(disk: Path, leave: int) -> Path:
    """Fill the disk's free space but ``leave`` bytes."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with filler.open("ab") as handle:
        remaining = max(0, free - leave)
        block = b"\0" * (1 << 20)
        while remaining > 0:
            chunk = block[: min(len(block), remaining)]
            try:
                handle.write(chunk)
                handle.flush()
            except OSError:
                break
            remaining -= len(chunk)
    return filler


def disk_full(setup: Setup, engine: Engine, ledger: Ledger, addresses: Addresses) -> list[Result]:
    """6. The store's disk has 64 KiB left: a report with a 512 KiB file, a reply with one and
    a report without one; then no inode left at all."""
    results = []
    big = (SMALL_FILE * 200)[: 512 * 1024]
    seed = submit(Browser(setup.port, addresses.take(), 60), None, ledger)
    if not seed.code:
        return [Result("disk full", problems=[f"could not make a case: {seed.what}"])]
    filler = fill(setup.disk, 64 * 1024)
    try:
        result = Result("file store's disk full: report with a 512 KiB file")
        before, files_before = counts(engine), store_entries(setup.store)
        address = addresses.take()
        result.see(_failure_expected(submit(Browser(setup.port, address, 60), big, ledger)))
        expect_unchanged(
            result, engine, before, leftovers="none", store=setup.store, files_before=files_before
        )
        seen = submit(Browser(setup.port, address, 60), None, ledger)
        result.retry = f"the same report without the file: {seen.what}"
        if not seen.code:
            result.problems.append("a report without a file failed on a full file store")
        results.append(result)

        result = Result("file store's disk full: reply with a 512 KiB file")
        reader = Browser(setup.port, addresses.take(), 60)
        if sign_in(reader, seed.code).status != 303:
            result.problems.append("could not open the mailbox")
        else:
            before, files_before = counts(engine), store_entries(setup.store)
            prepared = reply_body(reader, big)
            assert isinstance(prepared, tuple)
            answer = reader.post(f"/o/{SLUG}/case/", *prepared)
            message = "Your files could not be stored, so the message was not sent."
            if answer.status == 200 and message in answer.body:
                result.see(Seen("mailbox shown again: files could not be stored", True))
            else:
                kind, ok = page_kind(answer)
                result.see(Seen(kind, ok and answer.status >= 400))
            expect_unchanged(
                result,
                engine,
                before,
                leftovers="none",
                store=setup.store,
                files_before=files_before,
            )
        results.append(result)

        result = Result("file store out of inodes: reports with a small file")
        used = _inodes_used(setup.disk)
        if not remount(setup.disk, f"nr_inodes={used}"):
            result.note = "this filesystem cannot limit its inodes: skipped"
            results.append(result)
            return results
        before, files_before = counts(engine), store_entries(setup.store)
        try:
            for _ in range(3):
                seen = submit(Browser(setup.port, addresses.take(), 60), SMALL_FILE, ledger)
                result.see(_failure_expected(seen))
            expect_unchanged(
                result,
                engine,
                before,
                leftovers="none",
                store=setup.store,
                files_before=files_before,
            )
        finally:
            remount(setup.disk, f"nr_inodes={used + 100_000}")
        results.append(result)
    finally:
        filler.unlink(missing_ok=True)
    after = Result("file store has room again")
    seen = submit(Browser(setup.port, addresses.take(), 60), big, ledger)
    after.see(seen)
    after.retry = seen.what
    if not seen.code:
        after.problems.append("a report with a file failed after the disk was freed")
    results.append(after)
    return results


def _failure_expected(seen: Seen) -> Seen:
    """On a full disk a report with a file must fail clearly, and show no code."""
    if seen.code:
        return Seen("case code shown although the file could not be stored?", False, seen.code)
    return seen


def _inodes_used(disk: Path) -> int:
    stats = os.statvfs(disk)
    return int(stats.f_files - stats.f_ffree)


# --- the end: every shown code, and the doctor -----------------------------------------------


def check_codes(setup: Setup, engine: Engine, ledger: Ledger) -> list[str]:
    """Every code shown opens its case (with the code, and as a handler), report whole."""
    from whistle.app import create_app
    from whistle.core.models import Organisation
    from whistle.core.runtime import runtime
    from whistle.reporting.followup import UnknownCode, open_with_code

    app = create_app(instance_path=setup.instance)
    rt = runtime(app)
    problems = []
    # An app session: the case keys are wrapped under keys in the key store it carries.
    with rt.sessions() as session:
        org_id = session.scalars(select(Organisation.id).where(Organisation.slug == SLUG)).one()
        for code in ledger.codes:
            try:
                case, _seed = open_with_code(
                    session, rt.clock, org_id, code, rt.settings.pepper, argon2=rt.argon2
                )
            except UnknownCode:
                problems.append("a code shown to a reporter opens no case")
                continue
            try:
                opened = open_as_handler(session, setup.store, case, setup.handlers)
            except Exception as exc:  # noqa: BLE001 - any failure is a finding
                problems.append(f"a shown case does not open for a handler: {type(exc).__name__}")
                continue
            if opened.report.get("what") != REPORT_TEXT:
                problems.append("a shown case's report differs from what was sent")
        cases = int(session.scalar(select(func.count()).select_from(Case)) or 0)
    rt.engine.dispose()
    if cases != len(ledger.codes):
        problems.append(
            f"{cases} cases stored for {len(ledger.codes)} codes shown (a report stored "
            "although its reporter was not shown a code)"
        )
    return problems


def doctor(setup: Setup, *args: str) -> tuple[int, str]:
    whistle = Path(sys.executable).parent / "whistle"
    command = [str(whistle)] if whistle.exists() else [sys.executable, "-m", "whistle.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env["WHISTLE_INSTANCE"] = str(setup.instance)
    done = subprocess.run(
        [*command, "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


# --- main ------------------------------------------------------------------------------------


def write_config(instance: Path, db_url: str, store: Path, port: int) -> None:
    with (instance / "config.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            "\n# Written by bench/fault_bench.py\n"
            f'database_url = "{db_url}"\n'
            'argon2_profile = "production"\n'
            f'file_store = "{store}"\n'
            f'base_url = "http://127.0.0.1:{port}"\n'
            'log_level = "WARNING"\n'
        )


def print_result(result: Result) -> None:
    status = "OK" if not result.problems else "PROBLEM"
    print(f"\n[{status}] {result.name}")
    for what, count in result.seen.most_common():
        print(f"  reporter saw: {count} x {what}")
    if result.note:
        print(f"  {result.note}")
    if result.retry:
        print(f"  then: {result.retry}")
    for problem, count in Counter(result.problems).most_common():
        print(f"  PROBLEM: {count} x {problem}")


def run(setup: Setup) -> bool:
    engine = make_engine(setup.db_url)
    ledger = Ledger()
    addresses = Addresses()
    results: list[Result] = []
    try:
        assert setup.server is not None
        ok_seed = submit(Browser(setup.port, addresses.take(), 60), SMALL_FILE, ledger)
        print(f"first report (makes the reference counter): {ok_seed.what}")
        faults: list[Callable[[], Result]] = [
            lambda: killed_mid_upload(setup, engine, ledger, addresses.take()),
            lambda: killed_mid_submission(setup, engine, ledger, addresses, stage="derivation"),
            lambda: killed_mid_submission(setup, engine, ledger, addresses, stage="writing"),
            lambda: killed_before_commit(setup, engine, ledger, addresses.take()),
            lambda: reply_killed_before_commit(setup, engine, ledger, addresses.take()),
            lambda: database_stopped(setup, engine, ledger, addresses),
        ]
        for fault in faults:
            result = fault()
            print_result(result)
            results.append(result)
        for result in disk_full(setup, engine, ledger, addresses):
            print_result(result)
            results.append(result)
    finally:
        if setup.server is not None:
            stop_gunicorn(setup.server)
    logged = server_errors(setup.server.log)
    # Errors that escaped the app altogether: gunicorn answers with its own bare page.
    with contextlib.suppress(OSError):
        escaped = setup.server.log.read_text(errors="replace").count("Error handling request")
        if escaped:
            logged["gunicorn: error handling request (escaped the app)"] += escaped
    print("\nserver log: " + ("no unhandled errors" if not logged else "unhandled errors:"))
    for where, count in logged.most_common():
        print(f"  {count:5d} x {where}")

    problems = [p for r in results for p in r.problems]
    code_problems = check_codes(setup, engine, ledger)
    engine.dispose()
    print(f"\ncase codes shown during the run: {len(ledger.codes)}; each checked after the run")
    for problem in code_problems:
        print(f"  PROBLEM: {problem}")
    if not code_problems:
        print("  every code opens its case, with the code and as a handler; no other case stored")

    print("\nwhistle doctor (dry run, gunicorn stopped):")
    first, output = doctor(setup, "--all")
    print("  " + output.strip().replace("\n", "\n  ") + f"\n  (exit code {first})")
    print("whistle doctor --repair --all:")
    repaired, output = doctor(setup, "--repair", "--all")
    print("  " + output.strip().replace("\n", "\n  ") + f"\n  (exit code {repaired})")
    last, output = doctor(setup)
    print(f"whistle doctor afterwards: exit code {last}; {output.strip().splitlines()[-1]}")
    doctor_ok = repaired == 0 and last == 0
    # Checked here too, not only by the doctor: the store holds exactly the stored files.
    engine = make_engine(setup.db_url)
    with Session(engine) as session:
        rows = set(session.scalars(select(Attachment.storage_name)))
    engine.dispose()
    files, partials = store_entries(setup.store)
    print(
        f"store after the repair: {len(files)} files for {len(rows)} attachment rows, "
        f"{len(partials)} .partial files"
    )
    if files != rows or partials:
        problems.append("the store does not hold exactly the stored attachments")
    if not doctor_ok:
        problems.append("whistle doctor did not leave a consistent store")
    good = not problems and not code_problems and not logged
    print(
        f"\nRESULT: {'PASS' if good else 'FAIL'} ({len(results)} faults, "
        f"{len(problems) + len(code_problems)} problems, {sum(logged.values())} logged errors)"
    )
    return good


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (sync)")
    parser.add_argument("--server-log", type=Path, help="keep a copy of gunicorn's log here")
    return parser.parse_args()


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the file store's small disk is a tmpfs (or loop) mount")
    signal.signal(signal.SIGTERM, interrupt)
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores (nproc), {cpu_model()}, {memory_gib():.0f} GiB RAM")
    print(
        f"python {platform.python_version()}, gunicorn {version('gunicorn')}, "
        f"psycopg {version('psycopg')}; {argon2_costs()}"
    )
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="whistle-faults-"))
    cluster = PrivatePostgreSQL()
    disk = workdir / "disk"
    mounted = False
    good = False
    server: Server | None = None
    try:
        cluster.create()
        cluster.start()
        admin_statement(cluster.admin_url, 'CREATE DATABASE "whistle"')
        db_url = cluster.admin_url.rsplit("/", 1)[0] + "/whistle"
        engine = make_engine(db_url)
        upgrade(engine)
        with engine.connect() as connection:
            pg_version = connection.scalar(text("SHOW server_version"))
        engine.dispose()
        mount_kind = mount_store_disk(disk, STORE_FS_MB)
        mounted = True
        store = disk / "store"
        store.mkdir(mode=0o700)
        instance = workdir / "instance"
        init_instance(instance)
        port = free_port()
        write_config(instance, db_url, store, port)
        handlers = make_bench_organisation(instance, SLUG)
        server = start_gunicorn(instance, port, args.workers, 1, workdir / "gunicorn.log")
        print(
            f"PostgreSQL {pg_version}, a cluster of its own on 127.0.0.1:{cluster.port}; "
            f"{server.description}; file store on {mount_kind}"
        )
        setup = Setup(
            workdir, instance, disk, store, db_url, port, cluster, handlers, server, mount_kind
        )
        good = run(setup)
        if args.server_log:
            shutil.copyfile(server.log, args.server_log)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None:
            stop_gunicorn(server)
        if mounted:
            subprocess.run(["umount", str(disk)], check=False, timeout=60)
        cluster.remove()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"whole run: {time.monotonic() - began:.0f} s")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
