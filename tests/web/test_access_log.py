"""The access log the README and `make run` configure records no client address or agent.

Reporter routes must leave no trace of who visited (DESIGN.md). Gunicorn's default access log
format starts with the client address, so every documented command must override it with a
format that names none of the atoms that identify a client: on its command line, or by loading
Whistle's gunicorn configuration (whistle/serving/gunicorn_conf.py), whose format is checked
here and whose logs are checked against a real gunicorn in tests/serving/.
"""

from __future__ import annotations

import re
from pathlib import Path

from whistle.serving.gunicorn_options import ACCESS_LOG_FORMAT

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
