"""The people in the abuse suite, over real HTTP: a legitimate reporter whose every request is
timed, and the attackers of issue 17. Each person connects through the (simulated) reverse
proxy: an ``X-Forwarded-For`` address of its own, which the server trusts with
``trusted_proxies = 1``, as it would behind nginx.

The HTTP client here (:class:`Browser`, :class:`FormPage`, :func:`multipart`,
:func:`report_fields`) is the benchmarks' too: bench/submit_bench.py and the benchmarks built
on it import it from here (tests never import from bench/).

Nothing here prints a case code or a password; codes live in memory only.
"""

from __future__ import annotations

import http.client
import itertools
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

from whistle.staff import totp

CODE_RE = re.compile(r'<p class="code" lang="en">([A-Z0-9-]+)</p>')
REPORT_TEXT = "Fake abuse-suite report: invented pallets leave an invented warehouse."
ATTACHMENT = b"Fake evidence for the abuse suite, nothing real.\n" * 40
_addresses = itertools.count(1)


def new_address(block: str = "10.17") -> str:
    """A fresh forwarded client address, never used before in this run."""
    number = next(_addresses)
    return f"{block}.{(number >> 8) & 255}.{number & 255}"


@dataclass
class Answer:
    status: int
    headers: Message
    body: str
    seconds: float

    @property
    def location(self) -> str:
        """The path this answer redirects to ("" when it does not)."""
        return urlsplit(self.headers.get("Location", "")).path


class Browser:
    """One person's browser: an address of its own, its own cookies, a connection per request.

    Behind the (simulated) reverse proxy, as in the abuse suite, the address is sent as
    ``X-Forwarded-For``. Without one (``behind_proxy = False``: the benchmarks, whose gunicorn
    is reached directly) the connection comes from the address itself, a loopback address."""

    behind_proxy = True

    def __init__(self, port: int, address: str, timeout: float = 20) -> None:
        self.port = port
        self.address = address
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes = b"", kind: str = "") -> Answer:
        source = None if self.behind_proxy else (self.address, 0)
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=self.timeout, source_address=source
        )
        headers = {"Accept-Language": "en", "Connection": "close"}
        if self.behind_proxy:
            headers |= {"X-Forwarded-For": self.address, "X-Forwarded-Proto": "http"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if kind:
            headers["Content-Type"] = kind
        start = time.perf_counter()
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        seconds = time.perf_counter() - start
        for header in response.headers.get_all("Set-Cookie") or []:
            self._remember(header)
        return Answer(response.status, response.headers, data.decode("utf-8", "replace"), seconds)

    def _remember(self, header: str) -> None:
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0].strip()
        if not value or re.search(r"(?i);\s*max-age=0\b", header):
            self.cookies.pop(name.strip(), None)
        else:
            self.cookies[name.strip()] = value

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, body: bytes, kind: str) -> Answer:
        return self.request("POST", path, body, kind)

    def post_form(self, path: str, fields: dict[str, str]) -> Answer:
        return self.post(path, urlencode(fields).encode(), "application/x-www-form-urlencoded")

    def post_multipart(
        self, path: str, fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]
    ) -> Answer:
        return self.post(path, *multipart(fields, files))


class FormPage(HTMLParser):
    """The CSRF token and the category choices of a page's form."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.csrf_token = ""
        self.categories: list[str] = []
        self._select: str | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name") == "csrf_token":
            self.csrf_token = self.csrf_token or found.get("value") or ""
        elif tag == "select":
            self._select = found.get("name")
        elif tag == "option" and self._select == "category":
            value = found.get("value") or ""
            if value not in ("", "0"):
                self.categories.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def multipart(
    fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type; ``files``: (field, file name, bytes)."""
    boundary = f"----whistle-client-{secrets.token_hex(12)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    ]
    for name, filename, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def attachments(files: list[tuple[str, bytes]]) -> list[tuple[str, str, bytes]]:
    """(file name, bytes) as the report form's and the mailbox's file field sends them."""
    return [("attachments", filename, data) for filename, data in files]


def report_fields(csrf_token: str, category: str, what: str = REPORT_TEXT) -> list[tuple[str, str]]:
    """The report form as an anonymous reporter fills it: ``what`` happened, nothing else."""
    return [
        ("csrf_token", csrf_token),
        ("category", category),
        ("what", what),
        ("when_where", ""),
        ("who", ""),
        ("how_known", ""),
        ("relation", ""),
        ("identity", "anonymous"),
        ("name", ""),
        ("contact", ""),
        ("nudge_email", ""),
        ("website", ""),
    ]


def first_category(page: FormPage) -> str:
    return page.categories[0] if page.categories else ""


def wrong_code() -> str:
    """A random case code in the code's shape (right by chance once in 2^64)."""
    return "-".join(secrets.token_hex(2).upper() for _ in range(4))


def wrong_password() -> str:
    return f"fake-guess-{secrets.token_hex(6)}"


# --- the legitimate reporter -----------------------------------------------------------------


@dataclass
class Step:
    what: str
    status: int
    seconds: float
    ok: bool


@dataclass(repr=False)
class Visit:
    """A legitimate reporter's visit: every request, timed. ``code`` is SECRET."""

    steps: list[Step] = field(default_factory=list)
    code: str = ""

    def record(self, what: str, answer: Answer | None, ok: bool) -> None:
        if answer is None:
            self.steps.append(Step(what, 0, float("inf"), False))
        else:
            self.steps.append(Step(what, answer.status, answer.seconds, ok))


def reporter_visit(port: int, slug: str, known_code: str, timeout: float) -> Visit:
    """A new reporter files a report with a small file and is shown a case code; a reporter
    with a code (``known_code``) opens the mailbox. Each from a fresh address."""
    visit = Visit()
    browser = Browser(port, new_address("192.0"), timeout)
    try:
        form = browser.get(f"/o/{slug}/report")
        page = FormPage(form.body)
        visit.record("report form", form, form.status == 200 and bool(page.csrf_token))
        sent = browser.post_multipart(
            f"/o/{slug}/report",
            report_fields(page.csrf_token, first_category(page)),
            attachments([("fake-notes.txt", ATTACHMENT)]),
        )
        visit.record("report sent", sent, sent.status == 303)
        shown = browser.get(sent.location or f"/o/{slug}/report/code")
        found = CODE_RE.search(shown.body)
        visit.record("case code shown", shown, shown.status == 200 and found is not None)
        visit.code = found.group(1) if found else ""
    except (OSError, http.client.HTTPException):
        visit.record("reporting (connection failed)", None, False)
    if known_code:
        mailbox = Browser(port, new_address("192.0"), timeout)
        try:
            form = mailbox.get(f"/o/{slug}/case/open")
            token = FormPage(form.body).csrf_token
            visit.record("mailbox sign-in form", form, form.status == 200 and bool(token))
            signed = mailbox.post_form(
                f"/o/{slug}/case/open", {"csrf_token": token, "code": known_code}
            )
            visit.record(
                "case code accepted",
                signed,
                signed.status == 303 and signed.location == f"/o/{slug}/case/",
            )
            opened = mailbox.get(f"/o/{slug}/case/")
            visit.record("mailbox opened", opened, opened.status == 200)
        except (OSError, http.client.HTTPException):
            visit.record("mailbox (connection failed)", None, False)
    return visit


# --- the attackers ---------------------------------------------------------------------------


def send_bombs_in_report(port: int, slug: str, files: list[tuple[str, bytes]]) -> int:
    """One report carrying ``files``, from a fresh address; the final status."""
    browser = Browser(port, new_address())
    page = FormPage(browser.get(f"/o/{slug}/report").body)
    fields = report_fields(page.csrf_token, first_category(page))
    return browser.post_multipart(f"/o/{slug}/report", fields, attachments(files)).status


def signed_in_mailbox(port: int, slug: str, code: str) -> Browser:
    browser = Browser(port, new_address())
    token = FormPage(browser.get(f"/o/{slug}/case/open").body).csrf_token
    browser.post_form(f"/o/{slug}/case/open", {"csrf_token": token, "code": code})
    return browser


def send_bombs_in_reply(port: int, slug: str, code: str, files: list[tuple[str, bytes]]) -> int:
    """A mailbox reply carrying ``files`` (mailbox replies were not throttled at all)."""
    browser = signed_in_mailbox(port, slug, code)
    token = FormPage(browser.get(f"/o/{slug}/case/").body).csrf_token
    return browser.post_multipart(
        f"/o/{slug}/case/", [("csrf_token", token), ("body", "Fake reply.")], attachments(files)
    ).status


def _guess(
    port: int,
    page: str,
    guess: Callable[[str], dict[str, str]],
    addresses: int,
    tries: int,
    threads: int,
) -> int:
    """``tries`` wrong guesses posted to ``page`` from each of ``addresses`` fresh addresses,
    ``threads`` at a time (``guess(token)`` makes one form); the requests sent."""
    sent = 0
    lock = threading.Lock()
    work = iter(range(addresses))

    def guesser() -> None:
        nonlocal sent
        for _ in work:
            browser = Browser(port, new_address())
            try:
                token = FormPage(browser.get(page).body).csrf_token
                for _ in range(tries):
                    browser.post_form(page, guess(token))
                    with lock:
                        sent += 1
            except (OSError, http.client.HTTPException):
                continue

    run_all([guesser] * threads)
    return sent


def guess_codes(port: int, slug: str, addresses: int, tries: int, threads: int) -> int:
    """Wrong case codes (random, in the code's shape)."""

    def wrong(token: str) -> dict[str, str]:
        return {"csrf_token": token, "code": wrong_code()}

    return _guess(port, f"/o/{slug}/case/open", wrong, addresses, tries, threads)


def guess_passwords(port: int, email: str, addresses: int, tries: int, threads: int) -> int:
    """Wrong passwords for the staff member ``email``."""

    def wrong(token: str) -> dict[str, str]:
        return {"csrf_token": token, "email": email, "password": wrong_password()}

    return _guess(port, "/staff/sign-in", wrong, addresses, tries, threads)


def staff_browser(port: int, email: str, password: str, totp_secret: bytes) -> Browser:
    """The real staff member's own browser, signed in once in full (password and code) and
    then closed: it keeps only the known-browser cookie a sign-in leaves
    (whistle/staff/views/known_device.py), as a browser does between working days."""
    browser = Browser(port, new_address("198.18"), timeout=30)
    token = FormPage(browser.get("/staff/sign-in").body).csrf_token
    first = browser.post_form(
        "/staff/sign-in", {"csrf_token": token, "email": email, "password": password}
    )
    assert first.status == 303 and first.location == "/staff/sign-in/code", first.status
    token = FormPage(browser.get("/staff/sign-in/code").body).csrf_token
    code = totp.code_at(totp_secret, datetime.now(UTC))
    done = browser.post_form("/staff/sign-in/code", {"csrf_token": token, "code": code})
    assert done.status == 303 and done.location != "/staff/sign-in/code", done.status
    browser.cookies = {k: v for k, v in browser.cookies.items() if k == "whistle_known_browser"}
    assert browser.cookies, "a full sign-in left no known-browser cookie"
    return browser


def staff_password_accepted(browser: Browser, email: str, password: str) -> Answer:
    """The real staff member's sign-in with the right password, from their own browser (the
    answer to it)."""
    token = FormPage(browser.get("/staff/sign-in").body).csrf_token
    return browser.post_form(
        "/staff/sign-in", {"csrf_token": token, "email": email, "password": password}
    )


def slow_upload(port: int, slug: str, stop: threading.Event, bytes_per_second: int) -> None:
    """A report whose 5 MB body arrives a trickle at a time until ``stop``."""
    boundary = "----whistle-abuse-slow"
    head = (
        f"POST /o/{slug}/report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Forwarded-For: {new_address()}\r\nContent-Type: multipart/form-data; "
        f"boundary={boundary}\r\nContent-Length: {5 * 2**20}\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        f'filename="fake-slow.bin"\r\n\r\n'
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(head)
            while not stop.wait(0.25):
                connection.sendall(b"x" * max(1, bytes_per_second // 4))
    except OSError:
        return


def run_all(targets: list[object]) -> None:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
