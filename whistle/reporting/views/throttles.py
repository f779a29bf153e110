"""The reporter side's throttles, counted in the database for every app process and machine
(whistle/core/throttle.py), keyed by a keyed hash of the client's address (never stored).

Case codes: whistle/reporting/code_attempts.py. Reports: :data:`SUBMISSION`, 5 per address in
10 minutes, which no honest reporter reaches. Mailbox replies: :data:`REPLY`, 30 per case in an
hour (a reply can carry files, and each file is work for the server).

Each function answers the seconds to wait, 0 when the request may go on; the page then says
so in words and keeps what was typed (whistle/web/throttling.py).
"""

from __future__ import annotations

from whistle.core.runtime import db, runtime
from whistle.core.throttle import Policy, attempt, seconds
from whistle.reporting import code_attempts
from whistle.web.throttling import client_key

SUBMISSION = Policy("report.address", free=5, window=10 * 60)
REPLY = Policy("reply.case", free=30, window=60 * 60)


def _now() -> int:
    return seconds(runtime().clock.now())


def submission_wait() -> int:
    """Count one report from this client; the seconds it must wait first (0: go on)."""
    rt = runtime()
    verdict = attempt(db(), rt.throttle_key, SUBMISSION, client_key(), _now())
    return 0 if verdict.allowed else max(1, verdict.wait_seconds(_now()))


def reply_wait(case_uid: str) -> int:
    """Count one mailbox reply to the case; the seconds it must wait first (0: go on)."""
    rt = runtime()
    verdict = attempt(db(), rt.throttle_key, REPLY, case_uid, _now())
    return 0 if verdict.allowed else max(1, verdict.wait_seconds(_now()))


def code_attempt_wait(org_id: int) -> int:
    """Count one case-code attempt from this client; the seconds it must wait first (0: the
    code may be looked at)."""
    rt = runtime()
    verdict = code_attempts.begin(db(), rt.throttle_key, org_id, client_key(), _now())
    return 0 if verdict.allowed else max(1, verdict.wait_seconds(_now()))


def code_was_wrong(org_id: int) -> None:
    code_attempts.wrong(db(), runtime().throttle_key, org_id, _now())


def code_was_right() -> None:
    code_attempts.right(db(), runtime().throttle_key, client_key(), _now())
