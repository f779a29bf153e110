"""Logging that cannot leak: no client addresses, no request bodies, no exception messages.

Exception messages can carry user input (a decoding error quoting a field, say), so an
unexpected error is logged as its type and the code locations it passed through, never its text.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType

from flask import Flask, request


def describe_exception(exc_type: type[BaseException] | None, tb: TracebackType | None) -> str:
    """Type and frames only: where it broke, not what data it held."""
    frames = traceback.extract_tb(tb) if tb else []
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames[::-1]
    )
    return f"{exc_type.__name__ if exc_type else 'unknown'} at {where or 'unknown'}"


def init_logging(app: Flask, level: str) -> None:
    logging.getLogger("whistle").setLevel(level)

    def log_exception(
        exc_info: tuple[type[BaseException], BaseException, TracebackType]
        | tuple[None, None, None],
    ) -> None:
        exc_type, _exc, tb = exc_info
        app.logger.error(
            "unhandled error in %s %s: %s",
            request.method,
            request.endpoint or "-",
            describe_exception(exc_type, tb),
        )

    app.log_exception = log_exception  # type: ignore[method-assign]
