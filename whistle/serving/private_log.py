"""gunicorn's logger without client addresses, query strings or exception texts.

Whistle never records who visited a reporter page (DESIGN.md). gunicorn's own logger does in
two places the access-log format does not reach: a malformed request is logged as
``Invalid request from ip=<client>: <the request line>``, and an error it handles itself is
logged with the request's full URI (query string included) and a traceback whose texts may
quote what the client sent. So this logger

- keeps only the access-log atoms that describe the request, not the client: method, path
  (``PATH_INFO``, which has no query string), status, sizes, times, protocol, worker pid.
  Every other atom (address, request line, query, agent, referrer, user, any header or
  environ value) is ``-``, whatever format an operator writes;
- writes every error-log message with IP literals replaced by ``[address]``, query strings by
  ``?[query]``, a malformed request as its kind only, and an exception as its type and code
  locations (as whistle/web/logs.py does for the app), never its text.

gunicorn loads it with ``logger_class`` (whistle/serving/gunicorn_conf.py).
"""

from __future__ import annotations

import re
import sys
import traceback
from typing import Any

from gunicorn import glogging

# Access-log atoms that say nothing about who sent the request or what it carried beyond its
# path: m method, U path, s status, B/b body bytes, T/D/M/L duration, t time, H protocol,
# p worker pid, l (always "-").
SAFE_ATOMS = frozenset(["m", "U", "s", "B", "b", "T", "D", "M", "L", "t", "H", "p", "l"])

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
# An IPv6 literal: at least two colons among hex groups, or a bracketed one. Bounded on both
# sides so times such as 12:30:05 (no hex letters, three groups) need the brackets or a "::".
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\]|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*(?![\w:])")
_QUERY = re.compile(r"\?[^\s'\"]+")
_INVALID_REQUEST = re.compile(r"^Invalid request from ip=\S*: (.*)$", re.DOTALL)


def scrub(message: str) -> str:
    """``message`` without IP literals, query strings or a malformed request's content."""
    malformed = _INVALID_REQUEST.match(message)
    if malformed:
        # The detail quotes what the client sent (a request line, a header); keep its kind.
        kind = re.split(r"[:'\"(]", malformed.group(1), maxsplit=1)[0].strip()
        message = f"Invalid request: {kind or 'malformed'}"
    message = _QUERY.sub("?[query]", message)
    message = _IPV6.sub("[address]", message)  # first: it may end in an IPv4 address
    return _IPV4.sub("[address]", message)


def _render(msg: object, args: tuple[Any, ...]) -> str:
    text = str(msg)
    if args:
        try:
            text = text % args
        except (TypeError, ValueError):
            text = f"{text} {args!r}"
    return scrub(text)


def _exception_summary() -> str:
    exc_type, _exc, tb = sys.exc_info()
    frames = traceback.extract_tb(tb) if tb else []
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames[::-1]
    )
    return f"{exc_type.__name__ if exc_type else 'unknown'} at {where or 'unknown'}"


class PrivateLogger(glogging.Logger):  # gunicorn ships no types: its classes are Any
    """See the module's docstring."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {key: (value if key in SAFE_ATOMS else "-") for key, value in found.items()}

    def critical(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.critical("%s", _render(msg, args))

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.error("%s", _render(msg, args))

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.warning("%s", _render(msg, args))

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.info("%s", _render(msg, args))

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.error_log.debug("%s", _render(msg, args))

    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None:
        # No exc_info: the traceback's texts may quote the request; type and frames suffice.
        self.error_log.error("%s: %s", _render(msg, args), scrub(_exception_summary()))

    def log(self, lvl: Any, msg: object, *args: Any, **kwargs: Any) -> None:
        if isinstance(lvl, str):
            lvl = self.LOG_LEVELS.get(lvl.lower(), 20)
        self.error_log.log(lvl, "%s", _render(msg, args))
