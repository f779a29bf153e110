"""The reporter side's throttles: memory only, per worker process, keyed by the client's
address (never stored)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app, request

from whistle.web.throttle import SlidingWindowLimiter

_THROTTLES_KEY = "whistle.reporter_throttles"


@dataclass(frozen=True)
class ReporterThrottles:
    """The reporter side's limits, one set per app (per worker process), in memory only.

    Per client (a keyed hash of the address, never stored): a person mistyping a code a few
    times is fine; a guesser gets 10 tries per 15 minutes per worker against an 80-bit space.
    Across all clients, so that spreading a guessing attack over many addresses does not help
    much. Submissions: a few per client per ten minutes, which no honest reporter reaches.
    """

    code: SlidingWindowLimiter = field(
        default_factory=lambda: SlidingWindowLimiter(limit=10, window=15 * 60)
    )
    code_all: SlidingWindowLimiter = field(
        default_factory=lambda: SlidingWindowLimiter(limit=600, window=15 * 60)
    )
    submission: SlidingWindowLimiter = field(
        default_factory=lambda: SlidingWindowLimiter(limit=5, window=10 * 60)
    )


def init_throttles(app: Flask) -> None:
    app.extensions[_THROTTLES_KEY] = ReporterThrottles()


def throttles() -> ReporterThrottles:
    found = current_app.extensions[_THROTTLES_KEY]
    assert isinstance(found, ReporterThrottles)
    return found


def client_key() -> str:
    """The client's address, used only as an in-memory, hashed throttle key."""
    return request.remote_addr or "unknown"


def submission_refused() -> bool:
    """Record one submission for this client; True when it is over the limit."""
    return not throttles().submission.hit(client_key())


def code_attempt_refused() -> bool:
    """True when this case-code attempt must be refused without looking."""
    limits = throttles()
    if limits.code.blocked(client_key()) or limits.code_all.blocked("all"):
        return True
    limits.code.hit(client_key())
    limits.code_all.hit("all")
    return False
