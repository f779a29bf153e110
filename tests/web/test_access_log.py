"""No log records a client's address: not the access log the README and `make run`
configure, not the application's own.

Reporter routes must leave no trace of who visited (DESIGN.md). Gunicorn's default access log
format starts with the client address, so every documented command must override it with a
format that names none of the atoms that identify a client: on its command line, or by loading
Whistle's gunicorn configuration (whistle/serving/gunicorn_conf.py), whose format is checked
here and whose logs are checked against a real gunicorn in tests/serving/. The application's
own log lines (whistle/web/logs.py and every ``log.*`` call) name endpoints, types and ids,
never an address.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest
from flask import Flask, abort

from tests.steps.factories import Unit
from tests.steps.pages import csrf_token
from tests.steps.reporter import ReportAnswers, Reporter
from whistle.serving.gunicorn_options import ACCESS_LOG_FORMAT
from whistle.web.access import public

ROOT = Path(__file__).resolve().parents[2]
# Gunicorn atoms: h remote address, a user agent, f referrer, r request line (with query
# string), q query string, u user name, and any request header such as {x-forwarded-for}i.
IDENTIFYING = re.compile(r"%\((h|a|f|r|q|u|\{[^}]+\}i)\)s")


def gunicorn_commands() -> list[str]:
    found = []
    for name in ("README.md", "Makefile"):
        text = (ROOT / name).read_text(encoding="utf-8").replace("\\\n", " ")
        found += [line for line in text.splitlines() if "gunicorn" in line and " wsgi:app" in line]
    return found


def test_every_documented_gunicorn_command_logs_without_client_details() -> None:
    commands = gunicorn_commands()
    assert len(commands) >= 2, "README and Makefile should both show how to serve"
    for command in commands:
        fmt = re.search(r"--access-logformat\s+'([^']*)'", command)
        if fmt is None:
            assert "-c python:whistle.serving.gunicorn_conf" in command, (
                f"neither an access log format nor Whistle's configuration in: {command.strip()}"
            )
            assert not IDENTIFYING.search(ACCESS_LOG_FORMAT), ACCESS_LOG_FORMAT
        else:
            assert not IDENTIFYING.search(fmt.group(1)), fmt.group(1)


def test_the_check_catches_gunicorn_defaults() -> None:
    default = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
    assert IDENTIFYING.search(default)
    assert IDENTIFYING.search("%({x-forwarded-for}i)s %(s)s")
    assert not IDENTIFYING.search("%(m)s %(U)s %(s)s %(L)s")


# An address of documentation ranges (RFC 5737), and a forwarded one a proxy would add.
CLIENT = "203.0.113.77"
FORWARDED = "198.51.100.99"
LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
ADDRESS_SOURCES = ("remote_addr", "access_route", "forwarded", "real_ip", "real-ip")


def test_no_logging_call_in_the_application_names_a_client_address() -> None:
    found = []
    for path in sorted((ROOT / "whistle").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LOG_CALLS
            ):
                source = ast.unparse(node)
                if any(word in source.lower() for word in ADDRESS_SOURCES):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {source}")
    assert found == []


def test_the_application_logs_no_client_address_on_any_path(
    app: Flask, unit: Unit, caplog: pytest.LogCaptureFixture
) -> None:
    """A reporter's visit, wrong case codes, a wrong staff password, refused and failing
    requests, through a proxy's X-Forwarded-For too: every log record, at every level, is free
    of the address."""

    @app.get("/test-crash")
    @public
    def crash() -> str:
        raise RuntimeError("crash")

    @app.get("/test-abort/<int:code>")
    @public
    def abort_with(code: int) -> str:
        abort(code)

    app.config["PROPAGATE_EXCEPTIONS"] = False
    caplog.set_level(logging.DEBUG)
    environ = {"REMOTE_ADDR": CLIENT, "HTTP_X_FORWARDED_FOR": FORWARDED}
    reporter = Reporter(app, unit.org.slug, address=CLIENT)
    reporter.client.environ_base.update(environ)
    reporter.report(ReportAnswers())
    for _ in range(3):
        assert reporter.open_case("AAAA-BBBB-CCCC-DDDD-EEEE").status_code == 200
    client = app.test_client()
    client.environ_base.update(environ)
    page = client.get("/staff/sign-in")
    wrong = {"email": "nobody@example.org", "password": "x", "csrf_token": csrf_token(page)}
    assert client.post("/staff/sign-in", data=wrong).status_code == 200
    client.get("/")
    client.get("/no-such-page")
    client.get("/?q=%00")
    for code in (400, 403, 404, 413, 429, 503):
        client.get(f"/test-abort/{code}")
    assert client.get("/test-crash").status_code == 500
    assert "RuntimeError" in caplog.text, "the crash was logged: the capture works"
    for record in caplog.records:
        line = record.getMessage() + " " + " ".join(map(str, record.args or ()))
        assert CLIENT not in line and FORWARDED not in line, line
